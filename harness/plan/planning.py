"""Planned runs: the cells of a matrix in the order they run (pure data, no processes).

Warm-up rounds first, then measured rounds, each visiting every cell once
(A B C A B C ...: drift spreads evenly over the cells), then profiler passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.measure.profilers import NODE_PASSES, PASSES
from harness.plan.config import Cell


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
        planned += [PlannedRun(c, 0, False, p) for c in cells for p in _passes(c)[kind]]
    return planned


def _passes(cell: Cell) -> dict[str, tuple[str, ...]]:
    """The profiler passes a cell's runtime has (Node's .cpuprofile holds idle and on-CPU time both)."""
    from strategies.registry import runtime_of

    return NODE_PASSES if runtime_of(cell.strategy) == "node" else PASSES
