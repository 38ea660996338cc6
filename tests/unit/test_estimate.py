"""The plan said before a run: a scenario's later rounds are said apart, as at most."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambench.harness.plan.config import Cell
from streambench.harness.plan.estimate import BROWSER_RUN_S, estimate
from streambench.harness.plan.planning import plan_runs
from streambench.workloads.cache import WorkloadSpec


def test_a_scenarios_later_rounds_are_an_upper_bound(tmp_path: Path) -> None:
    spec = WorkloadSpec("mp4", 1 << 20)
    cells = [Cell(s, spec, "browser", 256 << 10) for s in ("pipe", "sendfile")]
    planned = plan_runs(cells, 3, 0, ())
    every = estimate(planned, tmp_path, {})
    assert (every.runs, every.later_runs) == (6, 0)
    assert every.seconds == pytest.approx(6 * BROWSER_RUN_S) and "6 runs, about" in every.describe()
    first = estimate(planned, tmp_path, {}, min_repeat=1)
    assert (first.runs, first.later_runs) == (2, 4)
    assert first.seconds == pytest.approx(2 * BROWSER_RUN_S)
    assert first.later_seconds == pytest.approx(4 * BROWSER_RUN_S)
    said = first.describe()
    assert "2 runs first (about 6 s), then at most 4 more (about 13 s)" in said, said
    assert "for the cells of claims still undecided" in said
    budgeted = estimate(planned, tmp_path, {}, min_repeat=1, later_budget_s=5)
    assert "then at most 4 more (at most 5 s of runs, the cheapest cells first)" in budgeted.describe()
    assert "(about 13 s)" in estimate(planned, tmp_path, {}, min_repeat=1, later_budget_s=60).describe()
