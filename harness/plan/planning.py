"""Planned runs: the cells of a matrix in the order they run (pure data, no processes).

Warm-up rounds first, then measured rounds, each visiting every cell once
(A B C A B C ...: drift spreads evenly over the cells), then profiler passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from streambench.harness import runtimes
from streambench.harness.plan.config import Cell


@dataclass(frozen=True)
class PlannedRun:
    cell: Cell
    repeat: int
    warmup: bool
    # A profiler pass ("memory", "cpu", "cpu-flamegraph"), never a timed run.
    profiler: str | None = None

    @property
    def key(self) -> tuple[str, int, bool, str | None]:
        return (self.cell.cell_id, self.repeat, self.warmup, self.profiler)


def plan_runs(
    cells: list[Cell], repeat: int, warmup: int, profile_kinds: tuple[str, ...] = ()
) -> list[PlannedRun]:
    """Warm-up rounds first, then measured rounds (each visits every cell once), then profiler passes."""
    planned = [PlannedRun(c, w, True) for w in range(warmup) for c in cells]
    planned += [PlannedRun(c, r, False) for r in range(repeat) for c in cells]
    for kind in profile_kinds:
        # The passes a cell's runtime has for this kind (py-spy runs twice; V8's .cpuprofile once).
        planned += [
            PlannedRun(c, 0, False, p) for c in cells for p in runtimes.for_cell(c).profile_passes(kind)
        ]
    return planned
