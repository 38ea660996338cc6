"""One planned run's world on the parent side: its workload, what must arrive, cache state, cap.

An executor asks the context for the cache state right before its measured
process starts (nothing may disturb it after) and for the memory cap when it
starts that process; the record then says what *this* run made, never what a
previous run left in some runner attribute.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from streambench.harness.execute.expected import Expected
from streambench.harness.measure.disk_throttle import DiskThrottle
from streambench.harness.measure.limits import MemoryCap
from streambench.harness.measure.probes import drop_all_caches, make_cold, make_warm, resident_bytes
from streambench.harness.plan.config import RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.workloads.cache import Workload

if TYPE_CHECKING:  # annotations only: the runtimes import this module's world, not the reverse
    from streambench.harness.http.server_config import ServerConfig
    from streambench.harness.http.server_handle import ServerHandle
    from streambench.harness.plan.config import Cell
    from streambench.harness.runtimes import Runtime

# Residency that contradicts the asked cache state by more than this share
# flags the record (cache_state_ok = False).
RESIDENCY_TOLERANCE = 0.02


@dataclass(frozen=True)
class CacheState:
    """The cache state asked, how it was made, and the residency measured right after."""

    method: str
    resident_bytes: int | None
    resident_method: str
    ok: bool | None


NOT_MADE = CacheState("not made", None, "not measured", None)


@dataclass
class RunContext:
    planned: PlannedRun
    config: RunConfig
    workload: Workload
    expected: Expected
    # This run's scratch folder (file destinations) and, on a profiler pass, its artifacts.
    scratch_dir: Path
    profile_dir: Path | None = None
    # The run's results folder: what an executor keeps beside the record (a browser's screenshots).
    run_dir: Path | None = None
    started_at_utc: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    started_at: float = field(default_factory=time.monotonic)
    cache: CacheState = NOT_MADE
    cap: MemoryCap | None = None
    throttle: DiskThrottle | None = None
    # The measured process while it runs (the runner kills its group on Ctrl-C).
    measured_pid: int | None = None
    # Where the executor pinned what it started (--pin): {"worker": [0], "far_end": [1], ...}.
    placement: dict[str, list[int]] = field(default_factory=dict)

    @property
    def artifacts_dir(self) -> Path | None:
        """Where this cell's kept files go (``profiles/<cell-id>/``, path-safe whatever the tag)."""
        if self.run_dir is None:
            return None
        from streambench.harness.measure.profilers import profiles_dir

        return profiles_dir(self.run_dir, self.planned.cell.cell_id)

    @property
    def profile_rate_hz(self) -> int:
        return self.config.profile_rate_hz

    @property
    def cap_method(self) -> str:
        return self.cap.method if self.cap is not None else "none"

    def make_cache_state(self) -> CacheState:
        """Make the asked cache state, then measure it; the record gets both, and how."""
        cell, path = self.planned.cell, self.workload.path
        if cell.cache == "cold":
            make_cold(path)
            method = "fdatasync + FADV_DONTNEED"
            if self.config.drop_caches:
                allowed = drop_all_caches()
                method += " + drop_caches" if allowed else " (drop_caches not permitted)"
        elif resident_bytes(path)[0] < self.workload.manifest.size_bytes:
            make_warm(path)  # read it only when some of it is not in the page cache yet
            method = "read the file"
        else:
            method = "already resident"
        resident, resident_method = resident_bytes(path)
        size = self.workload.manifest.size_bytes  # an mp4 is the clip's multiple nearest the asked size
        tolerance = RESIDENCY_TOLERANCE * max(size, 1)
        ok = resident >= size - tolerance if cell.cache == "warm" else resident <= tolerance
        self.cache = CacheState(method, resident, resident_method, ok)
        return self.cache

    def memory_cap(self) -> MemoryCap | None:
        """This run's cap (a cgroup where one can be made, else a watchdog); None: no cap asked."""
        if self.cap is None and self.config.memory_limit_bytes:
            self.cap = MemoryCap(self.config.memory_limit_bytes, f"streambench-{os.getpid()}")
        return self.cap

    def disk_throttle(self) -> DiskThrottle | None:
        """This run's read limit on the workload's device (``--disk-read-rate``); None: none asked."""
        if self.throttle is None and self.config.disk_read_bps:
            self.throttle = DiskThrottle(
                self.config.disk_read_bps, self.workload.path, f"streambench-{os.getpid()}"
            )
        return self.throttle

    def start_server(self, runtime: Runtime, cell: Cell, server: ServerConfig) -> ServerHandle:
        """The cell's server, listening: under this run's cap from its start, and under its read limit
        from the moment it listens (before the first request)."""
        cap, throttle = self.memory_cap(), self.disk_throttle()
        handle = runtime.start_server(cell, server, self.config, cap.procs_path if cap is not None else None)
        if throttle is not None and handle.pid is not None:
            throttle.join(handle.pid)
        return handle

    def close(self) -> None:
        if self.cap is not None:
            self.cap.close()
        if self.throttle is not None:
            self.throttle.close()
