"""The real-pairs gate's judging (reports.gate.judge_pair / real_rates) on records of known shape:
time, time against the reference round by round, and the work counters, each by compare's rule."""

from __future__ import annotations

import math
from typing import Any

from streambench.reports.gate import judge_pair, real_rates
from tests.helpers import as_records

MiB = 1 << 20
SIZE = 256 * MiB


def _side(walls: list[float], cat_walls: list[float], syscalls: int = 8192) -> list[Any]:
    """Records as a side makes them: subject, cat, subject, cat ... (one round each)."""
    rows: list[dict[str, Any]] = []
    for i, (wall, cat) in enumerate(zip(walls, cat_walls, strict=True)):
        for strategy, w, calls in (("planted", wall, syscalls), ("cat", cat, 4096)):
            rows.append({
                "strategy": strategy, "workload": "video", "size_bytes": SIZE, "sink": "null",
                "chunk_bytes": 65536, "repeat": i, "warmup": False, "profiler": None, "outcome": "ok",
                "verified": True, "wall_s": w, "bytes_moved": SIZE, "peak_rss_bytes": 20 * MiB,
                "io": {"syscr": calls // 2, "syscw": calls // 2, "rchar": 2 * SIZE, "wchar": SIZE},
            })  # fmt: skip
    return as_records(rows)


STEADY = [0.100, 0.101, 0.099, 0.100, 0.1005, 0.0995, 0.100, 0.101, 0.099, 0.100]


def test_a_a_pairs_say_no_change_by_counters_and_cannot_decide_by_time_at_three_runs() -> None:
    base = _side(STEADY[:3], STEADY[7:])
    cand = _side(STEADY[3:6], STEADY[4:7])
    answers = judge_pair(base, cand, "planted")
    # 3 runs a side give no 95% interval: time cannot say "no change" (nor a regression)
    assert answers["time"] == "undecided" and answers["time vs reference"] == "undecided"
    assert answers["counters"] == "same"


def test_twice_the_writes_is_caught_by_counters_at_three_runs() -> None:
    base = _side(STEADY[:3], STEADY[:3])
    cand = _side(STEADY[3:6], STEADY[3:6], syscalls=12288)
    answers = judge_pair(base, cand, "planted")
    assert answers["counters"] == "worse" and answers["gate"] == "worse"


def test_a_slowdown_the_reference_shares_is_no_change_against_it() -> None:
    """The machine slowed by 30% between the runs (cat too): time alarms, time against cat does not."""
    base = _side(STEADY, STEADY)
    cand = _side([w * 1.3 for w in STEADY], [w * 1.3 for w in STEADY])
    answers = judge_pair(base, cand, "planted")
    assert answers["time"] == "worse"
    assert answers["time vs reference"] == "same"
    assert answers["gate"] == "machine"


def test_a_real_slowdown_is_worse_by_time_and_against_the_reference() -> None:
    base = _side(STEADY, STEADY)
    cand = _side([w * 1.3 for w in STEADY], STEADY)
    answers = judge_pair(base, cand, "planted")
    assert answers["time"] == "worse" and answers["time vs reference"] == "worse"
    assert answers["counters"] == "same" and answers["gate"] == "worse"


def test_rates_are_shares_over_pairs_with_the_change_each_made() -> None:
    base = _side(STEADY, STEADY)
    pairs = [
        ("A/A", base, _side(STEADY, STEADY)),
        ("A/A", base, _side(STEADY, STEADY)),
        ("30%", base, _side([w * 1.3 for w in STEADY], STEADY)),
    ]
    rows = {r.plant: r for r in real_rates(pairs, "planted")}
    assert rows["A/A"].pairs == 2 and rows["A/A"].shares["time"]["worse"] == 0
    assert rows["A/A"].shares["counters"]["same"] == 1.0
    assert rows["30%"].shares["time"]["worse"] == 1.0
    assert math.isclose(rows["30%"].time_change, 0.3, rel_tol=1e-6)
