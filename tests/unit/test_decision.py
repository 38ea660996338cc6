"""The one decision rule (harness.common.decision) and the gate built on it (reports.compare).

The cases of the reliability review: a 30% regression under load read as "no change"; unverified,
crashed, oom and missing candidates passing; each must now fail the gate or say it cannot decide.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from streambench.harness.common.decision import change, judge, mann_whitney_p, order_k, runs_needed, u_counts
from streambench.reports import compare as comparing
from streambench.reports.gate import LOADED, QUICK_DEFAULT, QUIET, simulate
from streambench.reports.synthetic import synthetic_run
from tests.helpers import as_records


def compare(base: list[Any], cand: list[Any], fail_on: float, **kwargs: Any) -> comparing.Comparison:
    """compare() on records as the store reads them back."""
    return comparing.compare(as_records(base), as_records(cand), fail_on, **kwargs)


def test_the_exact_null_distribution_of_u() -> None:
    # 3 against 3: U = 0..9 over C(6, 3) = 20 splits.
    assert u_counts(3, 3) == (1, 1, 2, 3, 3, 3, 3, 2, 1, 1)
    assert sum(u_counts(10, 12)) == math.comb(22, 10)
    assert mann_whitney_p([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)
    assert mann_whitney_p([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]) == pytest.approx(2 / 924)
    # 5 a side: P(U <= 2) = 4/252 is the last tail below 2.5%, so k = 3 and the coverage is 96.8%.
    k, coverage = order_k(5, 5)
    assert k == 3 and coverage == pytest.approx(1 - 8 / 252)
    assert order_k(3, 3)[0] == 0  # no 95% interval from 3 runs a side


def test_the_interval_and_the_test_never_disagree() -> None:
    rng = random.Random(3)
    for _ in range(300):
        n1, n2 = rng.randint(4, 12), rng.randint(4, 12)
        shift = rng.choice([1.0, 1.02, 1.1, 1.5])
        base = [rng.lognormvariate(0, 0.05) for _ in range(n1)]
        cand = [rng.lognormvariate(0, 0.05) * shift for _ in range(n2)]
        ch = change(base, cand)
        excludes_one = ch.bounded and (ch.low > 1 or ch.high < 1)
        assert excludes_one == (ch.p_value < 0.05), (base, cand, ch)


def test_no_change_only_when_the_interval_is_inside_the_margin() -> None:
    steady = [1.0, 1.001, 0.999, 1.0005, 0.9995, 1.0002]
    assert judge(change(steady, steady), 0.05, higher_is_better=True) == "same"
    # The review's case: a 30% drop whose corrected test is not significant (p 0.063): never
    # "no change", not yet a regression (the interval and the test are one computation now).
    base = [1.00, 0.70, 1.05, 0.98, 1.02]
    cand = [0.72, 0.55, 0.74, 0.69, 0.94]
    ch = change(base, cand)
    assert ch.ratio < 0.8 and ch.bounded and ch.low < 0.95
    assert judge(ch, 0.05, higher_is_better=True, p_adjusted=0.063) == "undecided"
    assert judge(ch, 0.05, higher_is_better=True, p_adjusted=0.01) == "worse"
    wide = change([1.0, 0.6, 1.4, 0.9, 1.1], [1.1, 0.5, 1.5, 0.95, 1.05])
    assert judge(wide, 0.05, higher_is_better=True) == "undecided"
    assert 5 < runs_needed(wide, 0.05) <= 101


def test_deterministic_counts_decide_at_three_runs() -> None:
    assert judge(change([100, 100, 100], [200, 200, 200]), 0.05, higher_is_better=False) == "worse"
    assert judge(change([100, 100, 100], [100, 100, 100]), 0.05, higher_is_better=False) == "same"
    # One run of spread is no longer exact: three runs cannot decide it.
    assert judge(change([100, 100, 101], [200, 200, 200]), 0.05, higher_is_better=False) == "undecided"


@pytest.mark.parametrize("runs", [3, 5, 10, 20])
def test_a_30_percent_regression_under_load_is_never_no_change(runs: int) -> None:
    rates = simulate(runs, 0.7, LOADED, cells=2, trials=150)
    assert rates.no_change == 0.0
    if runs >= 10:
        assert rates.planted_caught > 0.5


@pytest.mark.parametrize("runs", [5, 10])
def test_a_a_pairs_at_the_quick_defaults_settings_rarely_alarm(runs: int) -> None:
    # 44 cells, the quick default's count; its noise, and under load.
    for model in (QUICK_DEFAULT, LOADED):
        assert simulate(runs, 1.0, model, cells=44, trials=40).false_alarm <= 0.05


def test_a_clear_regression_with_enough_runs_is_caught() -> None:
    assert simulate(10, 0.7, QUIET, cells=44, trials=40).planted_caught == 1.0


# --- the gate on records -------------------------------------------------------


def runs_of(repeat: int = 6, **changes: Any) -> list[dict[str, Any]]:
    _, records = synthetic_run(strategies=("pipe", "readinto"), sizes=(8 << 20,), sinks=("null",),
                               chunks=(65536,), repeat=repeat, noise=0.002, seed=5)  # fmt: skip
    return [dict(r, verified=True) for r in records]


def doctored(records: list[dict[str, Any]], strategy: str, **fields: Any) -> list[dict[str, Any]]:
    return [dict(r, **fields) if r["strategy"] == strategy and not r["warmup"] else r for r in records]


def test_unverified_runs_are_a_regression() -> None:
    base = runs_of()
    comparison = compare(base, doctored(base, "readinto", verified=False), 0.05)
    assert comparison.outcome == "regression" and comparison.exit_status == 1
    (bad,) = comparison.regressions
    assert bad.fields["strategy"] == "readinto" and "0 of 6 good (6 unverified)" in bad.reasons[0]


def test_crashed_runs_are_a_regression_not_undecided() -> None:
    base = runs_of()
    crashed = doctored(base, "readinto", outcome="crashed", verified=False)
    assert compare(base, crashed, 0.05).exit_status == 1


def test_half_the_runs_oom_is_a_regression() -> None:
    base = runs_of()
    half = [dict(r, outcome="oom") if r["strategy"] == "readinto" and r["repeat"] % 2 and not r["warmup"]
            else r for r in base]  # fmt: skip
    comparison = compare(base, half, 0.05)
    assert comparison.exit_status == 1
    assert "3 oom" in comparison.regressions[0].reasons[0]


def test_a_missing_cell_fails_unless_allowed() -> None:
    base = runs_of()
    without = [r for r in base if r["strategy"] != "readinto"]
    comparison = compare(base, without, 0.05)
    assert comparison.exit_status == 1 and comparison.regressions[0].verdict == "missing"
    allowed = compare(base, without, 0.05, allow_missing=True)
    assert allowed.exit_status == 0 and allowed.only_base and "--allow-missing" in allowed.notes[0]


def test_the_same_failure_on_both_sides_is_no_change() -> None:
    base = doctored(runs_of(), "readinto", outcome="oom", verified=False)
    comparison = compare(base, base, 0.05)
    cell = next(c for c in comparison.cells if c.fields["strategy"] == "readinto")
    assert cell.verdict == "same" and "no good run on either side" in cell.reasons[0]


def test_a_pytest_benchmark_import_is_not_unverified() -> None:
    base = [dict(r, verified=None) for r in runs_of()]
    assert compare(base, base, 0.05).exit_status == 0
