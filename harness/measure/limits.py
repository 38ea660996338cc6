"""The memory cap of a measured run: a cgroup where one can be made, else a watchdog.

A run that outgrows its cap is killed and recorded as ``oom``: the seeds'
"server crash risk" as a measured outcome, not a dead machine. The worker puts
itself into the cgroup before it imports the strategy, so every byte it (and
any child, such as ``cat``) allocates is counted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_cgroup_v1_memory() -> Path | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                base = CGROUP_ROOT / "memory" / path.lstrip("/")
                return base if (base / "memory.limit_in_bytes").exists() else None
    except OSError:
        pass
    return None


def _own_cgroup_v2() -> Path | None:
    try:
        controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
        if "memory" not in controllers:
            return None
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return CGROUP_ROOT / line[3:].lstrip("/")
    except OSError:
        pass
    return None


class MemoryCap:
    """One run's cap. ``method`` is what enforced it: 'cgroup v2', 'cgroup v1' or 'watchdog'."""

    def __init__(self, limit_bytes: int, name: str) -> None:
        self.limit_bytes = limit_bytes
        self.method = "watchdog"
        self.procs_path: Path | None = None
        self._dir: Path | None = None
        self._events: Path | None = None
        self._oom_before = 0
        for base, version in ((_own_cgroup_v2(), 2), (_own_cgroup_v1_memory(), 1)):
            if base is None:
                continue
            remove_stale(base)
            directory = base / name
            try:
                directory.mkdir(exist_ok=True)
                if version == 2:
                    (directory / "memory.max").write_text(str(limit_bytes))
                    with contextlib.suppress(OSError):  # no swap here, but be sure
                        (directory / "memory.swap.max").write_text("0")
                    self._events = directory / "memory.events"
                else:
                    (directory / "memory.limit_in_bytes").write_text(str(limit_bytes))
                    self._events = directory / "memory.oom_control"
            except OSError:
                with contextlib.suppress(OSError):
                    directory.rmdir()
                continue
            self._dir = directory
            self.procs_path = directory / "cgroup.procs"
            self.method = f"cgroup v{version}"
            self._oom_before = self._oom_kills()
            break

    def _oom_kills(self) -> int:
        if self._events is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            for line in self._events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def oom_killed(self) -> bool:
        """Did the kernel's OOM killer act inside this cap since it was made?"""
        return self._oom_kills() > self._oom_before

    def exceeded(self, rss_bytes: int) -> bool:
        """For the watchdog: is this RSS over the cap?"""
        return self.method == "watchdog" and rss_bytes > self.limit_bytes

    def close(self) -> None:
        if self._dir is not None:
            with contextlib.suppress(OSError):
                self._dir.rmdir()
            self._dir = None


def remove_stale(base: Path) -> None:
    """Caps left by a harness that was killed (kill -9 skips close()): empty, safe to remove."""
    for stale in base.glob("streambench-*"):
        pid = stale.name.removeprefix("streambench-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                stale.rmdir()


def join_cgroup(procs_path: str | None) -> None:
    """Called by the worker first thing: put this process under the cap (or the read limit)."""
    if procs_path:
        with open(procs_path, "w") as f:
            f.write(str(os.getpid()))


def default_memory_limit_bytes() -> int:
    """60% of RAM: room for the harness, the consumer and the page cache beside the run."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(int(line.split()[1]) * 1024 * 0.6)
    except OSError:
        pass
    return 4 << 30
