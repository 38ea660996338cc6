"""Where a run's figures came from, and what else the machine was doing while they were taken.

Once per run directory (``run.json``'s ``provenance``): streambench's version, the git
commit it runs from (and whether the tree is dirty) when it runs from a checkout, the
versions of the strategy plugins, the CPU frequency governor and transparent huge pages
mode where readable. Around every measured run (the record's ``noise``): load average
and ``/proc/stat`` CPU ticks before and after, so the record says how much CPU time the
whole machine spent, how much of it was stolen by the hypervisor, and how much went to
processes that are not the run's (``other_cpu_s``): a run with more than
``UNDER_LOAD_SHARE`` of one core's time taken by others is flagged ``under_load``. On
this VM, figures of the same matrix swing 2-3x between runs; this is how a reader can
tell a slow strategy from a busy machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import Any

from streambench.harness.common.paths import PACKAGE_ROOT

# Others' CPU time over this share of one core's time of the run: the run shared the machine.
UNDER_LOAD_SHARE = 0.25
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _git(*args: str) -> str | None:
    if not (PACKAGE_ROOT / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(PACKAGE_ROOT), *args], capture_output=True, text=True,
                              timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance() -> dict[str, Any]:
    """The run's software and machine settings, said once in ``run.json``."""
    try:
        own = version("streambench")
    except PackageNotFoundError:
        own = "not installed"
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    plugins: dict[str, str] = {}
    for ep in entry_points(group="streambench.strategies"):
        dist = ep.dist
        plugins[ep.name] = f"{dist.name} {dist.version}" if dist is not None else "?"
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    return {
        "streambench_version": own,
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "plugins": plugins,
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        # "always [madvise] never": the bracketed word is the mode.
        "thp": thp.split("[")[1].split("]")[0] if thp and "[" in thp else thp,
    }


@dataclass(frozen=True)
class CpuTicks:
    """``/proc/stat``'s first line (all CPUs) in clock ticks, with the time it was read."""

    at: float
    busy: int  # user + nice + system + irq + softirq (guest time is inside user)
    steal: int
    total: int
    loadavg_1m: float | None
    own_cpu_s: float  # this process and its reaped children (the harness)

    @classmethod
    def now(cls) -> CpuTicks:
        fields = [0] * 8
        text = _read("/proc/stat") or ""
        first = text.splitlines()[0].split() if text else []
        if first and first[0] == "cpu":
            fields = [int(v) for v in first[1:9]] + [0] * max(0, 8 - len(first[1:9]))
        user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
        load = _read("/proc/loadavg")
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        own = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        return cls(time.monotonic(), user + nice + system + irq + softirq, steal,
                   user + nice + system + idle + iowait + irq + softirq + steal,
                   float(load.split()[0]) if load else None, own)  # fmt: skip


def noise(before: CpuTicks, after: CpuTicks) -> dict[str, Any]:
    """What the machine did around one run: its CPU, the hypervisor's steal, and others' share.

    The run's own CPU is the harness's and its reaped children's (``RUSAGE_CHILDREN``: the worker,
    a server, clients, a browser with the renderers it reaped): everything else busy is others'.
    """
    wall_s = max(after.at - before.at, 1e-9)
    busy_s = (after.busy - before.busy) / _CLK_TCK
    steal_s = (after.steal - before.steal) / _CLK_TCK
    ours_s = after.own_cpu_s - before.own_cpu_s
    # Tick accounting is coarse (10 ms): never below zero.
    other_s = max(0.0, busy_s - ours_s)
    return {
        "wall_s": wall_s,
        "machine_busy_cpu_s": busy_s,
        "steal_s": steal_s,
        "steal_share": steal_s / wall_s / max(os.cpu_count() or 1, 1),
        "other_cpu_s": other_s,
        "loadavg_1m_before": before.loadavg_1m,
        "loadavg_1m_after": after.loadavg_1m,
        "under_load": other_s > UNDER_LOAD_SHARE * wall_s,
    }
