"""compare's two new witnesses: the work counters (a deterministic count decides at 3 runs a side),
and the reference cell (cat) that tells the machine's drift from the code's regression."""

from __future__ import annotations

from streambench.reports.compare import Runs, Sample, compare_samples, counter_judgement

FIELDS = {"workload": "video", "size_bytes": 1 << 30, "sink": "null", "chunk_bytes": 65536, "cache": "warm"}


def _sample(strategy: str, gbps: list[float], syscalls: float = 32.0) -> Sample:
    n = len(gbps)
    return Sample(strategy, {**FIELDS, "strategy": strategy}, Runs(n, n), [g * 1e9 for g in gbps],
                  [50e6] * n, {"syscalls_per_mib": [syscalls] * n})  # fmt: skip


def test_a_counter_decides_at_three_runs_where_time_cannot() -> None:
    assert counter_judgement([32, 32, 32.1], [64, 64, 64.2], 0.05) == "worse"
    assert counter_judgement([32, 32, 32.1], [32, 32.1, 32], 0.05) == "same"
    assert counter_judgement([32, 32, 32.1], [16, 16, 16], 0.05) == "better"
    assert counter_judgement([32, 40, 32], [64, 64, 64], 0.05) is None  # noisy here: no vote
    assert counter_judgement([32, 32], [64, 64], 0.05) is None  # fewer than 3 runs
    base = {"pipe": _sample("pipe", [1.0, 1.2, 0.9])}
    cand = {"pipe": _sample("pipe", [1.1, 0.95, 1.05], syscalls=64.0)}
    comparison = compare_samples(base, cand, 0.05)
    (cell,) = comparison.cells
    assert cell.throughput.judgement == "undecided" and cell.verdict == "worse"
    assert comparison.exit_status == 1 and any("syscalls per MiB" in r for r in cell.reasons)


def test_a_slowdown_the_reference_shares_is_the_machines_not_the_codes() -> None:
    base = {"cat": _sample("cat", [2.0, 2.02, 1.98, 2.01, 1.99, 2.0]),
            "pipe": _sample("pipe", [1.0, 1.01, 0.99, 1.0, 1.02, 0.98]),
            "slow": _sample("slow", [1.0, 1.01, 0.99, 1.0, 1.02, 0.98])}  # fmt: skip
    cand = {"cat": _sample("cat", [1.6, 1.61, 1.59, 1.6, 1.62, 1.58]),
            "pipe": _sample("pipe", [0.8, 0.81, 0.79, 0.8, 0.8, 0.81]),
            "slow": _sample("slow", [0.6, 0.61, 0.59, 0.6, 0.6, 0.61])}  # fmt: skip
    comparison = compare_samples(base, cand, 0.05)
    by = {c.label: c for c in comparison.cells}
    assert by["pipe"].verdict == "machine" and abs(by["pipe"].normalised_ratio - 1) < 0.02
    assert "the machine changed" in " ".join(by["pipe"].reasons)
    # 40% slower where the machine lost 20%: still the code's regression, and the gate fails.
    assert by["slow"].verdict == "worse" and by["slow"].normalised_ratio < 0.8
    assert comparison.exit_status == 1
    only_machine = compare_samples(
        {k: base[k] for k in ("cat", "pipe")}, {k: cand[k] for k in ("cat", "pipe")}, 0.05
    )
    assert only_machine.outcome == "machine changed" and only_machine.exit_status == 5
    assert "the machine changed" in only_machine.summary_line()


def test_the_report_draws_a_failure_a_claim_expects_as_the_answer() -> None:
    from streambench.reports.html import render_report
    from streambench.reports.synthetic import MiB, synthetic_run
    from tests.helpers import as_records

    meta, raw = synthetic_run(sizes=(256 * MiB,), sinks=("null",), chunks=(64 << 10,), repeat=3, warmup=0)
    raw[0] = {**raw[0], "outcome": "oom", "error": "killed at the cap"}
    records = as_records(raw)
    html = render_report({**meta, "expected_outcomes": {records[0].cell_id: "oom"}}, records)
    assert "oom (expected)" in html and "as the scenario&#39;s claims expect" in html
