"""Records of several machines: the report and compare split cells by machine and say when they cross."""

from __future__ import annotations

from typing import Any

from streambench.reports import compare as comparing
from streambench.reports import html
from streambench.reports.compare import machine_notes
from streambench.reports.synthetic import MiB, synthetic_run
from tests.helpers import as_records


def compare(base: list[Any], cand: list[Any], fail_on: float) -> comparing.Comparison:
    return comparing.compare(as_records(base), as_records(cand), fail_on)


def render_report(meta: dict[str, Any], records: list[Any]) -> str:
    return html.render_report(meta, as_records(records))


def summary_frame(records: list[Any]) -> Any:
    return html.summary_frame(as_records(records))


A = {"hostname": "host-a", "machine_id": "aaaa1111", "cpu_model": "A CPU", "cpu_count": 2}
B = {"hostname": "host-b", "machine_id": "bbbb2222", "cpu_model": "B CPU", "cpu_count": 8}


def _two_machines(seed: int) -> list[dict[str, Any]]:
    _, records = synthetic_run(
        strategies=("pipe", "cat"), sizes=(8 * MiB,), sinks=("null",), chunks=(64 << 10,), repeat=12,
        warmup=0, seed=seed,
    )  # fmt: skip
    for r in records:  # rounds alternate between the machines, as a shared queue hands them out
        r["machine"] = A if r["repeat"] % 2 == 0 else B
        r["worker"] = "tcp://10.0.0.1:4000" if r["machine"] is A else "tcp://10.0.0.2:4000"
    return records


def test_a_cell_is_a_row_per_machine_and_its_setting_names_the_machine() -> None:
    records = _two_machines(1)
    summary = summary_frame(records)
    assert len(summary) == 4  # 2 cells x 2 machines
    assert sorted(summary["machine_label"]) == ["host-a", "host-a", "host-b", "host-b"]
    assert all(int(n) == 6 for n in summary["runs"])
    assert {str(label).rsplit(" on ", 1)[1] for label in summary["label"]} == {"host-a", "host-b"}
    html = render_report({"run_id": "two-machines"}, records)
    assert "video:8MiB -&gt; null warm on host-a" in html and "video:8MiB -&gt; null warm on host-b" in html


def test_one_machine_reads_as_before() -> None:
    records = _two_machines(1)
    for r in records:
        r["machine"] = A
    summary = summary_frame(records)
    assert len(summary) == 2 and set(summary["machine_label"]) == {""}
    assert not any(" on " in str(label) for label in summary["label"])


def test_compare_matches_machine_by_machine_and_says_when_it_crosses() -> None:
    comparison = compare(_two_machines(1), _two_machines(2), 0.05)
    assert len(comparison.cells) == 4
    assert {c.cell_id.rsplit("@", 1)[1] for c in comparison.cells} == {"host-a", "host-b"}
    assert not comparison.has_regression
    same = machine_notes({"machines": [A, B]}, {"machines": [B, A]})
    assert not any("crosses machines" in n for n in same)
    crossed = machine_notes({"machines": [A]}, {"machines": [B]})
    assert any(
        "the comparison crosses machines: base measured on host-a, candidate on host-b" in n for n in crossed
    )
