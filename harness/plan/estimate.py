"""Before a run: how long it will take and how much disk it needs, said up front."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streambench.harness.common.errors import UsageError
from streambench.harness.common.units import format_bytes
from streambench.harness.plan.config import Cell
from streambench.harness.plan.planning import PlannedRun
from streambench.workloads import cache

# Fixed cost of one run here: spawn the worker and consumer, verify, reap (run_total_s - wall_s:
# 0.1-0.3 s measured); a runtime may say it starts slower and moves less (``start_s``, ``typical_bps``).
RUN_OVERHEAD_S = 0.15
# A file sink's destination is checksummed and synced after each run (~0.3 s/GiB).
FILE_SINK_VERIFY_BPS = 3.5e9
# Rough strategy rates (bytes/s, this kind of 2-core VM); calibration can only lower them:
# calibrated read speeds are far above what a strategy moves into a reading process.
DEFAULT_RATES_BPS = {"read": 3e9, "cold_read": 1e9, "whole_file": 0.5e9}
# A browser run plays, seeks and watches for a fixed time, whatever the file's size (measured here:
# 2-4 s, 3.2 s on average over browser-video's 143 runs at 24 MiB; a page that never shows a frame
# waits out its 10 s timeout).
BROWSER_RUN_S = 3.2
TRANSFORM_RATES_BPS = {"gzip": 0.14e9, "sha256": 0.5e9, "grep": 0.17e9, "csv-select": 0.018e9}


@dataclass(frozen=True)
class Estimate:
    runs: int
    seconds: float
    new_workload_bytes: int
    dest_bytes: int
    free_bytes: int
    # --repeat auto: the first rounds are the runs above; more rounds follow, within this many seconds.
    budget_s: float | None = None
    # Every workload it will generate, named ("video:512MiB"): no size is made unannounced.
    new_workloads: tuple[str, ...] = ()
    # A scenario's later rounds (``min_repeat``): at most this many runs, only for undecided claims.
    later_runs: int = 0
    later_seconds: float = 0.0
    later_budget_s: float | None = None  # the most seconds of runs the later rounds spend

    def describe(self) -> str:
        disk = self.new_workload_bytes + self.dest_bytes
        runs = f"{self.runs} runs, about {_minutes(self.seconds)}"
        if self.later_runs:
            later = f"about {_minutes(self.later_seconds)}"
            if self.later_budget_s is not None and self.later_budget_s < self.later_seconds:
                later = f"at most {_minutes(self.later_budget_s)} of runs, the cheapest cells first"
            runs = (
                f"{self.runs} runs first (about {_minutes(self.seconds)}), then at most {self.later_runs} "
                f"more ({later}) for the cells of claims still undecided"
            )
        if self.budget_s is not None:
            runs = (
                f"{self.runs} runs first (about {_minutes(self.seconds)}), then rounds until every "
                f"question is decided or {_minutes(self.budget_s)} of runs are spent (the added rounds "
                "get at least half the first rounds' time)"
            )
        text = (
            f"plan: {runs}; disk: "
            f"{format_bytes(self.new_workload_bytes)} of new workloads + {format_bytes(self.dest_bytes)} "
            f"of scratch destinations = {format_bytes(disk)} ({format_bytes(self.free_bytes)} free)"
        )
        if self.new_workloads:
            text += f"; it will generate {', '.join(self.new_workloads)}"
        if disk > self.free_bytes:
            text += " -- NOT ENOUGH FREE SPACE"
        return text


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _run_seconds(run: PlannedRun, calibration: dict[str, Any]) -> float:
    cell = run.cell
    if cell.sink == "browser":
        return BROWSER_RUN_S
    size = cell.workload.size_bytes
    rate = min(float(calibration.get("warm_read_bps") or 1e12), DEFAULT_RATES_BPS["read"])
    if cell.cache == "cold":
        rate = min(float(calibration.get("cold_read_bps") or 1e12), DEFAULT_RATES_BPS["cold_read"])
    if cell.strategy.startswith("whole-file"):
        rate = min(rate, DEFAULT_RATES_BPS["whole_file"])
    runtime = _runtime(cell)
    rate = min(rate, float(getattr(runtime, "typical_bps", rate)))
    if cell.transform in TRANSFORM_RATES_BPS:
        rate = min(rate, TRANSFORM_RATES_BPS[cell.transform])
    if cell.consumer_rate_bps:
        rate = min(rate, cell.consumer_rate_bps)
    verify_s = size / FILE_SINK_VERIFY_BPS if cell.sink == "file" else 0.0
    return size / rate + verify_s + RUN_OVERHEAD_S + float(getattr(runtime, "start_s", 0.0))


@functools.cache
def _runtime(cell: Cell) -> object | None:
    """The runtime a cell runs on (for its start and pace); None when it cannot be told here."""
    from streambench.harness import runtimes

    try:
        return runtimes.for_cell(cell)
    except UsageError:
        return None


def estimate(
    planned: list[PlannedRun],
    data_dir: Path,
    calibration: dict[str, Any],
    budget_s: float | None = None,
    min_repeat: int | None = None,
    later_budget_s: float | None = None,
) -> Estimate:
    """``min_repeat``: a scenario's first rounds; its later ones are said apart, as at most, and
    ``later_budget_s`` bounds their time."""
    specs = {p.cell.workload for p in planned}
    new = sorted(
        (s for s in specs if not s.is_user_file and cache.check_cached(s, data_dir)[0] is None),
        key=lambda s: (s.kind, s.size_bytes),
    )
    new_bytes = sum(s.size_bytes for s in new)
    dest_sizes = {p.cell.workload.size_bytes for p in planned if p.cell.sink == "file"}
    probe = data_dir if data_dir.exists() else Path(data_dir.anchor or "/")
    is_later = [min_repeat is not None and not p.warmup and p.repeat >= min_repeat for p in planned]
    later = [p for p, x in zip(planned, is_later, strict=True) if x]
    first = [p for p, x in zip(planned, is_later, strict=True) if not x]
    return Estimate(
        runs=len(first),
        seconds=sum(_run_seconds(p, calibration) for p in first),
        new_workload_bytes=new_bytes,
        dest_bytes=sum(dest_sizes),
        free_bytes=shutil.disk_usage(probe).free,
        budget_s=budget_s,
        new_workloads=tuple(f"{s.kind}:{format_bytes(s.size_bytes)}" for s in new),
        later_runs=len(later),
        later_seconds=sum(_run_seconds(p, calibration) for p in later),
        later_budget_s=later_budget_s,
    )
