"""Verdict logic on fixed records: each claim form can hold, fail, or be inconclusive."""

from __future__ import annotations

import math
from typing import Any

import pytest

from streambench.reports import claims
from streambench.reports.claims import METRICS, Claim, Verdict
from tests.helpers import as_records

MiB = 1 << 20


def evaluate(claim: Claim, records: list[dict[str, Any]]) -> Verdict:
    """The claim on records as the store reads them back."""
    return claims.evaluate(claim, as_records(records))


def rec(strategy: str, size_mib: int, repeat: int = 0, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "strategy": strategy, "size_bytes": size_mib * MiB, "bytes_moved": size_mib * MiB, "repeat": repeat,
        "warmup": False, "profiler": None, "outcome": "ok", "verified": True, "wall_s": 1.0,
        "peak_rss_bytes": 20 * MiB, "baseline_rss_bytes": 20 * MiB, "chunk_bytes": 65536,
        "high_water_mark_bytes": 0, "strategy_user_s": 0.1, "strategy_sys_s": 0.1,
    }  # fmt: skip
    base.update(fields)
    return base


def growth_records(strategy: str, per_mib: float, floor_mib: float = 0.5) -> list[dict[str, Any]]:
    return [
        rec(strategy, size, r, peak_rss_bytes=int(20 * MiB + floor_mib * MiB + per_mib * size * MiB))
        for size in (16, 64, 256)
        for r in range(3)
    ]


def verdict(claim: Claim, records: list[dict[str, Any]]) -> str:
    return evaluate(claim, records).verdict


def test_scaling_linear_and_constant() -> None:
    records = growth_records("whole-file", 1.0) + growth_records("pipe", 0.0)
    on = Claim("grows", "peak_rss_growth_bytes", {"strategy": "whole-file"}, "O(n)")
    flat = Claim("flat", "peak_rss_growth_bytes", {"strategy": "pipe"}, "O(1)")
    assert verdict(on, records) == "holds" and verdict(flat, records) == "holds"
    assert verdict(Claim("x", "peak_rss_growth_bytes", {"strategy": "pipe"}, "O(n)"), records) == "fails"
    assert (
        verdict(Claim("x", "peak_rss_growth_bytes", {"strategy": "whole-file"}, "O(1)"), records) == "fails"
    )
    # slope exactly log-linear: hand computed 1.0 within rounding for pure y = x
    result = evaluate(on, records)
    assert result.numbers["slope"] == pytest.approx(1.0, abs=0.05)


def test_scaling_needs_two_sizes_apart() -> None:
    records = [rec("pipe", 16, r) for r in range(3)]
    claim = Claim("x", "peak_rss_growth_bytes", {"strategy": "pipe"}, "O(1)")
    assert verdict(claim, records) == "inconclusive"


def _timed(strategy: str, walls: list[float]) -> list[dict[str, Any]]:
    return [rec(strategy, 64, r, wall_s=w) for r, w in enumerate(walls)]


def test_ratio_holds_fails_and_is_inconclusive_when_noisy() -> None:
    claim = Claim("pipe >= 0.9x", "throughput_bps", {"strategy": "pipe"}, ">= 0.9x", {"strategy": "manual"})
    # pipe clearly as fast: the ratio's whole 95% interval (4 runs a side: the extreme pairs) is above
    assert verdict(
        claim, _timed("pipe", [1.0, 1.01, 0.99, 1.0]) + _timed("manual", [1.0, 1.02, 0.98, 1.01])
    ) == ("holds")
    # pipe clearly slower: the whole interval is below 0.9
    assert verdict(
        claim, _timed("pipe", [2.0, 2.1, 1.9, 2.0]) + _timed("manual", [1.0, 1.0, 1.01, 0.99])
    ) == ("fails")
    # noisy: the typical ratio is 1.0 but the interval dips below 0.9
    noisy = _timed("pipe", [1.0, 1.0, 1.3, 1.0]) + _timed("manual", [1.0, 1.0, 1.0, 1.01])
    result = evaluate(claim, noisy)
    assert result.verdict == "inconclusive"
    # hand check: ratios are throughput_pipe / throughput_manual = wall_manual / wall_pipe
    assert result.numbers[str(64 * MiB)]["low"] == pytest.approx(1 / 1.3)
    # 3 runs a side give no 95% interval: never "holds" on that evidence
    three = _timed("pipe", [1.0, 1.01, 0.99]) + _timed("manual", [1.0, 1.02, 0.98])
    assert verdict(claim, three) == "inconclusive"


def test_only_cells_whose_runs_can_feed_an_undecided_claim_get_more_rounds() -> None:
    """A throughput claim left open asks again of its ok cells, not of a cell killed at the cap."""
    base = {"strategy": "whole-file"}
    claim = Claim("pipe >= 1.0x", "throughput_bps", {"strategy": "pipe"}, ">= 1.0x", base)
    timed = _timed("pipe", [1.0, 1.01, 0.99]) + _timed("whole-file", [1.0, 1.02, 0.98])
    killed = [rec("whole-file", 512, i, outcome="oom") for i in range(3)]
    big = [rec("pipe", 512, i) for i in range(3)]
    records = [{**r, "cell_id": f"{r['strategy']}-{r['size_bytes'] >> 20}"} for r in timed + killed + big]
    cells, open_claims = claims.undecided_cells([claim], as_records(records))
    assert open_claims == ["pipe >= 1.0x"]
    assert cells == {"pipe-64", "whole-file-64", "pipe-512"}


def _buffered(cell: str, clients: int, values_mib: list[float]) -> list[dict[str, Any]]:
    return [rec("pd", 64, i, cell_id=cell, clients=clients, max_buffered_bytes=int(v * MiB))
            for i, v in enumerate(values_mib)]  # fmt: skip


def test_a_claim_whose_cells_disagree_is_split_and_holds_no_cell_back() -> None:
    """Pooled over a cell that holds and one that fails, a bound's median sits between them however
    many runs come: the claim stays inconclusive, says so, and asks for no more rounds."""
    claim = Claim("at most 2 MiB", "max_buffered_bytes", {"strategy": "pd"}, "<= 2MiB")
    one = _buffered("pd-1", 1, [1.0]) + _buffered("pd-4", 4, [3.0])
    result = evaluate(claim, one)
    assert result.verdict == "inconclusive"
    assert result.numbers["split"] == {"holds": ["clients=1"], "fails": ["clients=4"]}
    assert "clients=1 holds and clients=4 fails" in result.detail
    assert claims.undecided_cells([claim], as_records(one)) == (set(), [])
    # A cell not decided alone (a run either side of the bound): not split, both cells run again.
    unsure = _buffered("pd-1", 1, [1.0, 1.5]) + _buffered("pd-4", 4, [3.0, 1.9])
    assert "split" not in evaluate(claim, unsure).numbers
    assert claims.undecided_cells([claim], as_records(unsure))[0] == {"pd-1", "pd-4"}
    # Two cells of three on one side: more runs may move the pooled median there; not split.
    most = one + _buffered("pd-8", 8, [0.5])
    assert evaluate(claim, most).verdict == "inconclusive"
    assert "split" not in evaluate(claim, most).numbers
    assert claims.undecided_cells([claim], as_records(most))[0] == {"pd-1", "pd-4", "pd-8"}
    # Ratio claims are judged size by size, not pooled: never split.
    ratio = Claim("x", "max_buffered_bytes", {"strategy": "pd"}, ">= 1.0x", {"strategy": "other"})
    assert claims.split_cells(ratio, as_records(one)) is None


def test_a_claim_the_rounds_left_cannot_decide_holds_no_cell_back() -> None:
    """0/1 outcomes (a seek honoured or not) pooled over cells: once even every remaining run on one
    side would leave the median's interval across the bound, more rounds are not asked for."""
    claim = Claim("seeks", "max_buffered_bytes", {"strategy": "pd"}, ">= 1")
    mixed = [
        rec("pd", 64, r, cell_id=f"pd-{c}", max_buffered_bytes=(r + c) % 2)
        for r in range(2)
        for c in range(4)
    ]
    assert evaluate(claim, mixed).verdict == "inconclusive"
    # Four more rounds of the four cells, all 1s, could still make it hold (20 of 24: the 95%
    # interval x(7)..x(18) is all 1s)...
    assert not claims.cannot_be_decided(claim, as_records(mixed), 16)
    assert claims.undecided_cells([claim], as_records(mixed), 4)[0] == {"pd-0", "pd-1", "pd-2", "pd-3"}
    # ...two cannot (12 of 16: x(4)..x(13) still holds a 0), nor all 0s make it fail. Still open.
    assert claims.cannot_be_decided(claim, as_records(mixed), 8)
    assert claims.undecided_cells([claim], as_records(mixed), 2) == (set(), ["seeks"])
    # Without a number of rounds left, the cells run again (as before).
    assert claims.undecided_cells([claim], as_records(mixed))[0] == {"pd-0", "pd-1", "pd-2", "pd-3"}
    # Only claims against a constant bound are judged this way.
    ratio = Claim("x", "max_buffered_bytes", {"strategy": "pd"}, ">= 1.0x", {"strategy": "other"})
    assert not claims.cannot_be_decided(ratio, as_records(mixed), 1)


def test_field_and_constant_bounds() -> None:
    records = [rec("pd", 64, r, max_buffered_bytes=b, high_water_mark_bytes=MiB) for r, b in
               enumerate([MiB, int(1.5 * MiB), int(1.9 * MiB)])]  # fmt: skip
    assert (
        verdict(Claim("x", "max_buffered_bytes", {"strategy": "pd"}, "<= 2x high_water_mark_bytes"), records)
        == "holds"
    )
    assert (
        verdict(Claim("x", "max_buffered_bytes", {"strategy": "pd"}, "<= 1x high_water_mark_bytes"), records)
        == "fails"
    )
    assert verdict(Claim("x", "max_buffered_bytes", {"strategy": "pd"}, "<= 2MiB"), records) == "holds"
    # Fails only when the whole interval is past the bound (at 3 runs, the range: all of them)...
    assert verdict(Claim("x", "max_buffered_bytes", {"strategy": "pd"}, "<= 900KiB"), records) == "fails"
    # ...a median past it with a run within is not enough at 3 runs (the range covers only 75%).
    one_within = Claim("x", "max_buffered_bytes", {"strategy": "pd"}, "<= 1.25MiB")
    assert verdict(one_within, records) == "inconclusive"
    assert "n = 3: range, 75.0%" in evaluate(one_within, records).detail
    # median within, one run outside: inconclusive, not holds
    assert (
        verdict(Claim("x", "max_buffered_bytes", {"strategy": "pd"}, "<= 1.625MiB"), records)
        == "inconclusive"
    )


def test_outcome_verified_and_knee() -> None:
    records = [rec("whole-file", 512, 0, outcome="oom", verified=False), rec("pipe", 512, 0)]
    assert verdict(Claim("x", "wall_s", {"strategy": "whole-file"}, "outcome oom"), records) == "holds"
    assert verdict(Claim("x", "wall_s", {"strategy": "pipe"}, "outcome oom"), records) == "fails"
    assert verdict(Claim("x", "wall_s", {"strategy": "pipe"}, "verified"), records) == "holds"
    assert verdict(Claim("x", "wall_s", {"strategy": "whole-file"}, "verified"), records) == "fails"
    # throughput by chunk: 4K 1.0, 64K 1.9, 1M 2.0, 16M 2.0 GB/s -> knee at 64 KiB (1.9 >= 0.95 * 2.0)
    sweep = [
        rec("pipe", 1024, r, chunk_bytes=c, wall_s=1.073741824 / g)
        for c, g in ((4096, 1.0), (65536, 1.9), (1 << 20, 2.0), (16 << 20, 2.0))
        for r in range(3)
    ]
    knee = evaluate(Claim("x", "throughput_bps", {"strategy": "pipe"}, "knee <= 1MiB"), sweep)
    assert knee.verdict == "holds" and knee.numbers["knee_bytes"] == 65536
    assert verdict(Claim("x", "throughput_bps", {"strategy": "pipe"}, "knee <= 16KiB"), sweep) == "fails"


def test_warmups_failures_and_profiled_passes_are_not_evidence() -> None:
    records = [
        rec("pipe", 64, 0, warmup=True, wall_s=100.0),
        rec("pipe", 64, 1, outcome="error", wall_s=100.0),
        rec("pipe", 64, 2, profiler="cpu", wall_s=100.0),
        rec("pipe", 64, 3, wall_s=1.0),
    ]
    result = evaluate(Claim("x", "wall_s", {"strategy": "pipe"}, "<= 2"), records)
    assert result.verdict == "holds" and result.numbers["median"] == 1.0


def test_bad_claims_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        Claim("x", "speed", {}, ">= 1").validate()
    with pytest.raises(ValueError, match="cannot read expect"):
        Claim("x", "wall_s", {}, "about right").validate()


def test_scaling_of_times_is_not_floored_like_bytes() -> None:
    # TTFB in seconds growing with size: 0.05 s -> 0.4 s over 8x the size is O(n).
    records = [
        rec("build", size, r, http={"ttfb_p50_s": 0.05 * size / 16, "clients": 1})
        for size in (16, 128)
        for r in range(2)
    ]
    claim = Claim("x", "ttfb_p50_s", {"strategy": "build", "http.clients": 1}, "O(n)")
    result = evaluate(claim, records)
    assert result.verdict == "holds" and result.numbers["slope"] == pytest.approx(1.0)


def test_the_reports_label_and_the_claims_verdict_read_one_slope() -> None:
    """The seam's fix: stats.py and claims.py once used different thresholds (0.3/0.7 vs 0.2/0.8)."""
    from streambench.reports.scaling import complexity
    from streambench.reports.stats import classify_slope

    for slope, kind in [(0.0, "O(1)"), (0.2, "O(1)"), (0.25, "between"), (0.75, "between"), (0.8, "O(n)")]:
        assert complexity(slope) == kind
        assert classify_slope(slope).startswith(kind)


def test_within_compares_two_runtimes_both_ways_and_says_which() -> None:

    def rec(strategy: str, runtime: str, wall_s: float) -> dict[str, object]:
        return {"strategy": strategy, "runtime": runtime, "size_bytes": 1 << 30, "bytes_moved": 1 << 30,
                "wall_s": wall_s, "outcome": "ok", "warmup": False, "profiler": None}  # fmt: skip

    claim = Claim("Node pipe within 2x of Python pipe", "throughput_bps", {"strategy": "node-pipe"},
                  "within 2x", {"strategy": "pipe"})  # fmt: skip

    def runs(strategy: str, runtime: str, walls: list[float]) -> list[dict[str, object]]:
        return [rec(strategy, runtime, w) for w in walls]

    python = runs("pipe", "python", [1.0, 1.01, 0.99, 1.0])
    close = runs("node-pipe", "node", [1.5, 1.6, 1.55, 1.52]) + python
    verdict = evaluate(claim, close)
    assert verdict.verdict == "holds" and verdict.about == "node vs python"
    far = runs("node-pipe", "node", [3.0, 3.2, 3.1, 3.05]) + python
    assert evaluate(claim, far).verdict == "fails"
    faster = runs("node-pipe", "node", [0.3, 0.31, 0.29, 0.3]) + python  # two-sided: 3.3x faster fails too
    assert evaluate(claim, faster).verdict == "fails"


def browser_rec(first_frames: list[float | None], honoured: list[bool], **fields: Any) -> dict[str, Any]:
    pages = [{"first_frame_s": f, "seek_honoured": h} for f, h in zip(first_frames, honoured, strict=True)]
    played = [f for f in first_frames if f is not None]
    http = {
        "clients": len(pages), "pages": pages, "played_pages": len(played),
        "first_frame_max_s": max(played) if len(played) == len(pages) else None,
        "seek_honoured_pages": sum(honoured), "seek_honoured_share": sum(honoured) / len(pages),
        "seek_max_s": 0.2 if all(honoured) else None,
        "share_before_first_frame_max": 0.01 if len(played) == len(pages) else None, "route": "file",
    }  # fmt: skip
    return rec("node-pipe", 8, sink="browser", http=http, **fields)


def test_a_page_that_never_played_fails_plays_within_not_inconclusive() -> None:
    plays = Claim("plays within 1 s", "first_frame_s", {"strategy": "node-pipe"}, "<= 1")
    assert verdict(plays, [browser_rec([0.2], [True]) for _ in range(3)]) == "holds"
    # One of four tabs had no frame by its timeout: the worst page is "never", and the claim fails.
    never = [browser_rec([0.2, 0.3, None, 0.2], [True] * 4) for _ in range(3)]
    result = evaluate(plays, never)
    assert result.verdict == "fails" and "never" in result.detail
    seek = Claim("seek honoured", "seek_honoured_share", {"strategy": "node-pipe"}, ">= 1")
    assert verdict(seek, [browser_rec([0.2], [False]) for _ in range(3)]) == "fails"
    assert verdict(seek, [browser_rec([0.2], [True]) for _ in range(3)]) == "holds"
    # A seek that was not honoured has no seek time: "never", not a fast one.
    assert METRICS["seek_s"](*as_records([browser_rec([0.2], [False])])) == math.inf
    # Not a browser record: no figure at all (other claims never see infinities).
    assert METRICS["first_frame_s"](*as_records([rec("pipe", 8)])) is None


def test_work_counters_per_mib_are_claim_metrics() -> None:
    """A claim weighs the work counters as compare does: per MiB moved (reports.work)."""
    io = {"syscr": 1024, "syscw": 1024, "rchar": 64 * MiB, "wchar": 64 * MiB}
    records = [rec("pipe", 64, r, io=io) for r in range(3)] + [rec("half", 64, r, io=dict(io, syscw=2048))
                                                              for r in range(3)]  # fmt: skip
    assert METRICS["syscalls_per_mib"](as_records(records)[0]) == pytest.approx(32.0)
    assert METRICS["kernel_bytes_per_mib"](as_records(records)[0]) == pytest.approx(2 * MiB)
    assert verdict(Claim("x", "syscalls_per_mib", {"strategy": "pipe"}, "<= 32"), records) == "holds"
    assert verdict(Claim("x", "syscalls_per_mib", {"strategy": "half"}, "<= 32"), records) == "fails"
    # a record without /proc/<pid>/io figures has no value, not a zero
    assert METRICS["syscalls_per_mib"](as_records([rec("pipe", 64)])[0]) is None
