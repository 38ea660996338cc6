"""Machine and software metadata stored with every run."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

_PACKAGES = ("streambench", "numpy", "pandas", "xxhash", "memray", "py-spy", "rich", "jinja2")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _package_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "mem_total_bytes": _mem_total_bytes(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": _package_versions(),
        "hardware_counters": hardware_counters(),
    }


def hardware_counters() -> str:
    """Whether CPU instructions and cycles could be counted here (perf events need a PMU the kernel
    exposes; most VMs, this project's 2-core one included, expose none). streambench does not count
    them yet either way: the work counters it gates on are the kernel's (/proc/<pid>/io)."""
    if os.path.isdir("/sys/bus/event_source/devices/cpu") or os.path.isdir(
        "/sys/bus/event_source/devices/cpu_core"
    ):
        return "a hardware PMU is exposed (instructions and cycles not counted by streambench yet)"
    return "none: no hardware PMU exposed here, so instructions and cycles cannot be counted"


def _machine_id() -> str:
    """The OS's machine id (systemd's /etc/machine-id, or D-Bus's), else the hostname: the same on
    every worker of one host, so they can share one bench slot."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text:
            return text
    return "host:" + socket.gethostname()


_IDENTITY: dict[str, Any] = {}


def machine_identity() -> dict[str, Any]:
    """What a record says about the machine that measured it (read once per process)."""
    if not _IDENTITY:
        try:
            streambench = version("streambench")
        except PackageNotFoundError:
            streambench = "not installed"
        _IDENTITY.update(
            hostname=socket.gethostname(),
            machine_id=_machine_id(),
            cpu_model=_cpu_model(),
            cpu_count=os.cpu_count(),
            mem_total_bytes=_mem_total_bytes(),
            kernel=platform.release(),
            python=sys.version.split()[0],
            streambench=streambench,
        )
    return dict(_IDENTITY)
