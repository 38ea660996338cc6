"""The delivered-bytes log: slices on an absolute grid, coarsened past its cap, merged across receivers."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streambench.harness.common.slices import SLICE_S, DeliveredLog, merge
from streambench.reports.html import delivered_rate


def _reads(seed: int, n: int) -> list[tuple[float, int]]:
    rng = random.Random(seed)
    t, out = 1000.0, []
    for _ in range(n):
        t += rng.choice((0.0001, 0.004, 0.013, 0.2))
        out.append((t, rng.randint(1, 1 << 20)))
    return out


@given(st.integers(0, 10_000), st.integers(1, 3000))
@settings(max_examples=60, deadline=None)
def test_slices_are_monotone_and_sum_to_the_bytes(seed: int, n: int) -> None:
    log = DeliveredLog(max_slices=500)
    reads = _reads(seed, n)
    for t, size in reads:
        log.add(size, t)
    slices = log.slices()
    ends = [end for end, _ in slices]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)  # strictly increasing
    assert sum(b for _, b in slices) == sum(size for _, size in reads)
    assert len(slices) <= 500
    assert all(b > 0 for _, b in slices)  # an empty slice is left out
    # every read falls in the slice that ends within one width after it
    assert log.slice_s >= SLICE_S and ends[-1] - log.slice_s <= reads[-1][0] < ends[-1]


def test_a_long_run_doubles_the_width_and_keeps_the_grid() -> None:
    log = DeliveredLog(max_slices=100)
    for k in range(1000):  # 10 s of reads, one per 10 ms slice
        log.add(10, 5.0 + k * SLICE_S + SLICE_S / 2)
    assert log.slice_s in (0.08, 0.16)  # 1000 -> under 100 slices: 3 or 4 doublings
    assert sum(b for _, b in log.slices()) == 10_000
    assert all(abs(end / log.slice_s - round(end / log.slice_s)) < 1e-6 for end, _ in log.slices())


def test_logs_of_several_receivers_add_up_slice_by_slice() -> None:
    a, b = DeliveredLog(), DeliveredLog(max_slices=10)
    for k in range(50):
        a.add(100, 2.0 + k * SLICE_S + 0.001)
        b.add(7, 2.0 + k * SLICE_S + 0.002)
    width, merged = merge([(a.slice_s, a.slices()), (b.slice_s, b.slices())])
    assert width == b.slice_s > a.slice_s
    assert sum(n for _, n in merged) == 50 * 107
    ends = [end for end, _ in merged]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    assert merge([]) == (SLICE_S, [])


def test_the_report_draws_rate_with_the_gaps_as_zero() -> None:
    # 1 MB in the first slice, nothing for 20 ms, 1 MB: three points, the middle one at zero
    points = delivered_rate([[0.01, 1_000_000], [0.04, 1_000_000]], 0.01)
    assert [round(ms) for ms, _ in points] == [5, 15, 25, 35]
    assert [round(gbps, 3) for _, gbps in points] == [0.1, 0.0, 0.0, 0.1]
    many = delivered_rate([[0.01 * (k + 1), 1000] for k in range(3000)], 0.01, n=300)
    assert len(many) == 300 and abs(sum(g for _, g in many) * 0.1 * 1e9 - 3_000_000) < 1
