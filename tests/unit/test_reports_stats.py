"""The report's statistics against values computed by hand (comments show the arithmetic)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streambench.harness.common.intervals import median_interval, order_coverage, runs_for_confidence
from streambench.reports import frame
from streambench.reports.frame import cell_id_for
from streambench.reports.significance import (
    _u_distribution,
    benjamini_hochberg,
    holm,
    mann_whitney_u,
    min_p_value,
    repeats_needed,
)
from streambench.reports.stats import (
    cell_summary,
    chunk_knees,
    classify_slope,
    loglog_fit,
    machine_limit,
    memory_scaling,
    pareto_front,
    quartiles,
    tukey_outliers,
)
from tests.helpers import as_records


def records_to_frame(records: list[Any]) -> Any:
    return frame.records_to_frame(as_records(records))


GB = 1_000_000_000


def record(**fields: Any) -> dict[str, Any]:
    """A minimal current-schema record; tests override what matters."""
    base: dict[str, Any] = {
        "strategy": "pipe",
        "workload": "video",
        "size_bytes": GB,
        "seed": 0,
        "sink": "null",
        "chunk_bytes": 65536,
        "cache": "warm",
        "dest": "-",
        "transform": "none",
        "consumer_rate_bps": 0,
        "high_water_mark_bytes": 0,
        "repeat": 0,
        "warmup": False,
        "outcome": "ok",
        "error": None,
        "wall_s": 1.0,
        "bytes_moved": GB,
        "peak_rss_bytes": 30 << 20,
        "baseline_rss_bytes": 25 << 20,
        "verified": True,
        "cache_state_ok": True,
    }
    base.update(fields)
    return base


def test_quartiles_interpolate_linearly() -> None:
    # [1, 2, 3, 4]: positions 0.75, 1.5, 2.25 -> 1.75, 2.5, 3.25
    assert quartiles([4, 1, 3, 2]) == (1.75, 2.5, 3.25)
    assert all(math.isnan(v) for v in quartiles([]))


def test_cell_summary_by_hand() -> None:
    records = [
        # 1 GB in 1 s, 0.5 s, 0.25 s: 1, 2, 4 GB/s
        record(repeat=0, wall_s=1.0, peak_rss_bytes=30 << 20),
        record(repeat=1, wall_s=0.5, peak_rss_bytes=32 << 20),
        record(repeat=2, wall_s=0.25, peak_rss_bytes=40 << 20),
        # left out of the statistics: a warm-up (100 GB/s) and a failure (counted)
        record(repeat=0, warmup=True, wall_s=0.01),
        record(repeat=3, outcome="error", error="boom", wall_s=None),
    ]
    (row,) = cell_summary(records_to_frame(records)).to_dict(orient="records")
    assert (row["runs"], row["ok_runs"], row["failed_runs"]) == (4, 3, 1)
    # GB/s 1, 2, 4: Q1 = 1.5, median 2, Q3 = 3 (linear), IQR 1.5, spread 1.5 / 2
    assert row["throughput_gbps_median"] == pytest.approx(2.0)
    assert row["throughput_gbps_q1"] == pytest.approx(1.5)
    assert row["throughput_gbps_q3"] == pytest.approx(3.0)
    assert row["throughput_gbps_iqr"] == pytest.approx(1.5)
    assert row["spread"] == pytest.approx(0.75)
    # wall 0.25, 0.5, 1: median 0.5, IQR 0.75 - 0.375
    assert row["wall_s_median"] == pytest.approx(0.5)
    assert row["wall_s_iqr"] == pytest.approx(0.375)
    # peak 30, 32, 40 MiB: median 32 MiB; over a 25 MiB baseline: 7 MiB
    assert row["peak_rss_bytes_median"] == 32 << 20
    assert row["peak_rss_over_baseline_bytes_median"] == 7 << 20
    assert 1.0 <= row["throughput_gbps_ci_low"] <= 2.0 <= row["throughput_gbps_ci_high"] <= 4.0
    assert set(row["warning_kinds"]) == {"unstable", "failed"}
    assert "1 of 4 runs failed (1 error)" in row["warnings"]
    # The median-throughput run (2 GB/s, repeat 1) represents the cell in timelines.
    df = records_to_frame(records)
    assert df.loc[row["representative"], "repeat"] == 1


def test_few_runs_and_outliers_are_flagged_not_dropped() -> None:
    two = cell_summary(records_to_frame([record(repeat=0), record(repeat=1)]))
    assert two.loc[0, "warning_kinds"] == ["few runs"]
    # [1, 1, 1, 1, 10]: Q1 = Q3 = 1, IQR 0, so 10 is beyond the upper fence
    assert tukey_outliers([1, 1, 1, 1, 10]) == (0, 1)
    assert tukey_outliers([1, 2, 3]) == (0, 0)
    five = [record(repeat=i, wall_s=w) for i, w in enumerate([1.0, 1.0, 1.0, 1.0, 0.1])]
    row = cell_summary(records_to_frame(five)).loc[0]
    assert (row["outliers_low"], row["outliers_high"], row["ok_runs"]) == (0, 1, 5)
    assert row["throughput_gbps_max"] == pytest.approx(10.0)  # kept


def test_the_median_interval_says_its_exact_coverage() -> None:
    # n = 3: the range, and it covers the median 1 - 2 (1/2)^3 = 75% of the time, not 95%.
    three = median_interval([3.0, 1.0, 2.0])
    assert (three.low, three.high, three.k) == (1.0, 3.0, 1)
    assert three.coverage == pytest.approx(0.75) and not three.enough
    assert three.describe() == "n = 3: range, 75.0%; too few runs for 95%"
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]).coverage == pytest.approx(0.9375)
    assert runs_for_confidence(0.95) == 6
    six = median_interval(range(6))
    assert six.enough and six.coverage == pytest.approx(1 - 2 / 64)
    # At 20 runs the interval is x(6)..x(15) (coverage 95.9%), narrower than the range.
    twenty = median_interval(range(1, 21))
    assert (twenty.low, twenty.high) == (6.0, 15.0) and twenty.coverage >= 0.95
    assert order_coverage(20, 7) < 0.95
    assert median_interval([]).n == 0 and median_interval([5.0]).low == 5.0


@pytest.mark.parametrize("n", range(3, 21))
def test_the_intervals_simulated_coverage_reaches_its_stated_level(n: int) -> None:
    """Distribution-free: draws from a skewed distribution (lognormal, like run times) with a known
    median (1.0) are covered at least as often as the interval says, within 3 standard errors."""
    rng = np.random.default_rng(n)
    trials = 4000
    draws = rng.lognormal(0.0, 0.5, size=(trials, n))
    stated = median_interval(draws[0]).coverage
    covered = sum(1 for row in draws if (iv := median_interval(row)).low <= 1.0 <= iv.high)
    standard_error = math.sqrt(stated * (1 - stated) / trials)
    assert covered / trials >= stated - 3 * standard_error
    assert stated == pytest.approx(median_interval(draws[1]).coverage)  # it depends on n alone


def test_memory_slope_and_label() -> None:
    sizes = [1 << 20, 4 << 20, 16 << 20]
    # growth = size: log-log slope exactly 1
    assert loglog_fit(sizes, sizes)[0] == pytest.approx(1.0)
    # growth constant: slope 0
    assert loglog_fit(sizes, [65536] * 3)[0] == pytest.approx(0.0, abs=1e-12)
    # growth = sqrt(size): slope 0.5
    assert loglog_fit(sizes, [math.sqrt(s) * 64 for s in sizes])[0] == pytest.approx(0.5)
    # no growth at all is floored at one page: slope 0, not log(0)
    assert loglog_fit(sizes, [0, -4096, 0])[0] == pytest.approx(0.0, abs=1e-12)
    assert classify_slope(0.05) == "O(1)"
    assert classify_slope(0.98) == "O(n)"
    assert classify_slope(0.5) == "between O(1) and O(n) (slope 0.50)"


def test_memory_scaling_across_sizes() -> None:
    records = []
    for size in (1 << 20, 4 << 20, 16 << 20):
        records.append(
            record(
                strategy="whole-file",
                size_bytes=size,
                bytes_moved=size,
                peak_rss_bytes=size + 100,
                baseline_rss_bytes=100,
            )
        )
        records.append(
            record(
                strategy="pipe",
                size_bytes=size,
                bytes_moved=size,
                peak_rss_bytes=65636,
                baseline_rss_bytes=100,
            )
        )
    fits = {f["strategy"]: f for f in memory_scaling(cell_summary(records_to_frame(records)))}
    assert fits["whole-file"]["complexity"] == "O(n)"
    assert fits["whole-file"]["slope"] == pytest.approx(1.0)
    assert fits["pipe"]["complexity"] == "O(1)"
    # One size only: no fit at all.
    assert memory_scaling(cell_summary(records_to_frame([record()]))) == []


def test_chunk_knee() -> None:
    # best 2.0 GB/s at 256 KiB; 95% of it is 1.9: 64 KiB (1.95) is the smallest chunk reaching it
    gbps = {16384: 1.0, 65536: 1.95, 262144: 2.0, 1048576: 1.96}
    records = [record(chunk_bytes=c, wall_s=1 / g) for c, g in gbps.items()]
    (knee,) = chunk_knees(cell_summary(records_to_frame(records)))
    assert knee["best_chunk_bytes"] == 262144
    assert knee["knee_chunk_bytes"] == 65536
    assert knee["knee_gbps"] == pytest.approx(1.95)


def test_pareto_front() -> None:
    memory = [1, 2, 3, 4, 2]
    throughput = [1, 3, 2, 4, 1]
    # (3, 2) is beaten by (2, 3); (2, 1) by (1, 1): the front is the first, second and fourth
    assert pareto_front(memory, throughput).tolist() == [True, True, False, True, False]


def test_machine_limit_by_sink_and_cache() -> None:
    calibration = {
        "warm_read_bps": 10e9,
        "cold_read_bps": 1e9,
        "page_cache_write_bps": 5e9,
        "loopback_tcp_bps": 3e9,
    }
    assert machine_limit("null", "warm", calibration) == (10e9, "warm read")
    assert machine_limit("null", "cold", calibration) == (1e9, "cold read")
    assert machine_limit("file", "warm", calibration) == (5e9, "page-cache write")
    assert machine_limit("tcp", "warm", calibration) == (3e9, "loopback TCP")
    assert machine_limit("tcp", "warm", None) == (None, "no calibration")
    row = cell_summary(records_to_frame([record(wall_s=0.4)]), calibration).loc[0]
    assert row["share_of_limit"] == pytest.approx(0.25)  # 2.5 GB/s of 10


def test_cell_id_matches_the_harness() -> None:
    from streambench.harness.plan.config import Cell
    from streambench.workloads.cache import WorkloadSpec

    cell = Cell("pipe", WorkloadSpec("video", 1 << 20, 0), "file", 65536, "warm", "existing")
    assert cell_id_for(cell.key()) == cell.cell_id


# --- significance -----------------------------------------------------------------


def test_mann_whitney_exact_by_hand() -> None:
    # Fully separated 3 vs 3: U = 0, P(U <= 0) = 1 / C(6, 3) = 1/20, two-sided 0.1
    result = mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert (result.u, result.method) == (0.0, "exact")
    assert result.p_value == pytest.approx(0.1)
    assert mann_whitney_u([4, 5, 6], [1, 2, 3]).p_value == pytest.approx(0.1)
    # x = 1 2 4, y = 3 5 6: one pair x > y (4 > 3), U = 1; U <= 1 in 2 of 20 splits: p = 0.2
    result = mann_whitney_u([1, 2, 4], [3, 5, 6])
    assert result.u == 1.0
    assert result.p_value == pytest.approx(0.2)
    # Identical samples: p = 1
    assert mann_whitney_u([1, 2, 3], [1, 2, 3]).p_value == 1.0


def test_mann_whitney_exact_with_ties_by_hand() -> None:
    # pooled 1 2 2 2 3 4 -> ranks 1, 3, 3, 3, 5, 6; x = 1 2 2 has rank sum 7, U = 7 - 6 = 1.
    # Rank sums <= 7 come only from {1, 3, 3}: C(3, 2) = 3 of the 20 splits: p = 2 * 3/20 = 0.3
    result = mann_whitney_u([1, 2, 2], [2, 3, 4])
    assert result.u == 1.0
    assert result.p_value == pytest.approx(0.3)


def test_mann_whitney_normal_approximation_by_hand() -> None:
    x = [1.0] * 10 + [2.0] * 10
    y = [2.0] * 10 + [3.0] * 10
    # ranks: ones 5.5, twos 20.5, threes 35.5; R_x = 10 * 5.5 + 10 * 20.5 = 260; U = 260 - 210 = 50
    # mean 200; ties: sum t^3 - t = 990 + 7980 + 990 = 9960, / (40 * 39) = 6.3846...
    # sigma^2 = 20 * 20 / 12 * (41 - 6.3846); z = (150 - 0.5) / sigma
    sigma = math.sqrt(400 / 12 * (41 - 9960 / 1560))
    expected = math.erfc((150 - 0.5) / sigma / math.sqrt(2))
    result = mann_whitney_u(x, y)
    assert (result.u, result.method) == (50.0, "normal")
    assert result.p_value == pytest.approx(expected, rel=1e-12)


def test_exact_distribution_matches_enumeration() -> None:
    # The Gaussian-binomial counts equal a brute-force count of every split.
    n1, n2 = 4, 5
    counts = _u_distribution(n1, n2)
    brute = np.zeros(n1 * n2 + 1)
    for chosen in itertools.combinations(range(n1 + n2), n1):
        u = sum(r + 1 for r in chosen) - n1 * (n1 + 1) // 2
        brute[u] += 1
    assert counts.tolist() == brute.tolist()
    assert counts.sum() == math.comb(9, 4)
    # Beyond the enumeration limit, no ties: 12 vs 12 separated gives 2 / C(24, 12)
    result = mann_whitney_u(list(range(12)), list(range(100, 112)))
    assert result.method == "exact"
    assert result.p_value == pytest.approx(2 / math.comb(24, 12))


def test_smallest_p_and_runs_needed() -> None:
    assert min_p_value(3, 3) == pytest.approx(0.1)  # 2 / 20
    assert min_p_value(4, 4) == pytest.approx(2 / 70)
    assert repeats_needed(1, 0.05) == 4  # 2/70 = 0.029 < 0.05
    # 10 cells: 10 * 2 / C(2n, n) < 0.05 first at n = 6 (2/924 * 10 = 0.022; n = 5: 0.079)
    assert repeats_needed(10, 0.05) == 6


def test_holm_and_benjamini_hochberg_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    # Holm: sorted 0.01 0.03 0.04 0.2, times 4 3 2 1 = 0.04 0.09 0.08 0.2, running max 0.04 0.09 0.09 0.2
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    # BH: times 4/1 4/2 4/3 4/4 = 0.04 0.06 0.0533 0.2, running min from the top: 0.04 0.0533 0.0533 0.2
    assert benjamini_hochberg(p) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert holm([]) == [] and benjamini_hochberg([]) == []
    assert holm([0.5, 0.9]) == [1.0, 1.0]


# --- properties --------------------------------------------------------------------

samples = st.lists(st.floats(0.1, 10.0, allow_nan=False), min_size=1, max_size=9)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_mann_whitney_is_a_symmetric_probability(x: list[float], y: list[float]) -> None:
    forward, backward = mann_whitney_u(x, y), mann_whitney_u(y, x)
    assert 0 < forward.p_value <= 1
    assert forward.p_value == pytest.approx(backward.p_value)
    assert forward.u + backward.u == pytest.approx(len(x) * len(y))
    assert forward.p_value >= min_p_value(len(x), len(y)) - 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_nan=False), max_size=12))
def test_corrections_only_raise_p_values(p: list[float]) -> None:
    h, bh = holm(p), benjamini_hochberg(p)
    for raw, a, b in zip(p, h, bh, strict=True):
        assert raw <= b + 1e-12 <= a + 2e-12 <= 1 + 2e-12


def test_viewers_are_part_of_a_cells_identity_in_labels_and_fits() -> None:
    """The seam's fix: 1 and 4 clients of one http cell are two cells, and two memory fits."""
    records = []
    for clients, per_client in ((1, 1), (4, 4)):
        for size in (1 << 20, 16 << 20):
            records.append(
                record(
                    sink="http", size_bytes=size, bytes_moved=size, cell_id=None,
                    peak_rss_bytes=(25 << 20) + per_client * size,
                    http={"clients": clients, "route": "export"},
                )
            )  # fmt: skip
    summary = cell_summary(records_to_frame(records))
    assert sorted(summary["label"].str.extract(r"x(\d) viewers")[0]) == ["1", "1", "4", "4"]
    fits = memory_scaling(summary)
    assert len(fits) == 2 and all(f["complexity"] == "O(n)" for f in fits)
    assert {f["clients"] for f in fits} == {1, 4}
