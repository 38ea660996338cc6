"""Rendered report and comparison against golden files; escaping; old and odd records.

Regenerate the golden files after an intended change with
``STREAMBENCH_UPDATE_GOLDEN=1 pytest tests/test_reports_golden.py`` and read the diff.
The fixtures (tests/fixtures/reports/, written by make_fixtures.py) have fixed run ids
and timestamps; ``normalise`` still blanks anything run-specific in case a fixture gains it.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from rich.console import Console

from streambench.harness.results.store import load_records, load_run_meta
from streambench.reports import compare as comparing
from streambench.reports import html as reporting
from streambench.reports.compare import comparison_table, render_comparison
from tests.helpers import FIXTURES, GOLDEN, as_records


def compare(base: list[Any], cand: list[Any], fail_on: float, **kwargs: Any) -> comparing.Comparison:
    return comparing.compare(as_records(base), as_records(cand), fail_on, **kwargs)


def render_report(meta: dict[str, Any], records: list[Any], artifacts: Any = None) -> str:
    return reporting.render_report(meta, as_records(records), artifacts)


def summary_frame(records: list[Any]) -> Any:
    return reporting.summary_frame(as_records(records))


HOSTILE = "<script>alert(1)</script>"


def normalise(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<timestamp>", text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    actual = normalise(actual)
    if os.environ.get("STREAMBENCH_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with STREAMBENCH_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (STREAMBENCH_UPDATE_GOLDEN=1 to accept)"


def run(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return load_run_meta(FIXTURES / name), load_records(FIXTURES / name)


def test_report_golden() -> None:
    check_golden("report.html", render_report(*run("run")))


def test_comparison_golden() -> None:
    base_meta, base = run("compare-base")
    cand_meta, cand = run("compare-cand")
    comparison = compare(base, cand, 0.05)
    check_golden("compare.html", render_comparison(comparison, base_meta, cand_meta))
    console = Console(file=io.StringIO(), width=180, record=True, color_system=None)
    console.print(comparison_table(comparison))
    check_golden("compare.txt", console.export_text())


def test_comparison_finds_the_planted_regressions() -> None:
    comparison = compare(run("compare-base")[1], run("compare-cand")[1], 0.05)
    verdicts = {c.fields["strategy"]: c for c in comparison.cells}
    assert set(verdicts) == {"whole-file", "pipe", "pause-drain", "cat", "mmap"}
    # pipe: 20% slower, 6 vs 6 separated: p = 2/924, Holm over the 4 cells both runs have: 4 * 2/924
    assert verdicts["pipe"].verdict == "worse" and verdicts["pipe"].throughput.judgement == "worse"
    assert verdicts["pipe"].throughput.ratio == pytest.approx(0.8, rel=0.01)
    assert verdicts["pipe"].throughput.p_adjusted == pytest.approx(4 * 2 / 924)
    whole = verdicts["whole-file"]
    assert whole.memory.judgement == "worse" and whole.throughput.judgement == "same"
    # mmap was measured in the base run only: missing is a failure, not a note
    assert verdicts["mmap"].verdict == "missing" and verdicts["mmap"].regression
    assert verdicts["cat"].verdict == "same" and verdicts["cat"].throughput.change.p_value == 1.0
    # pause-drain's interval reaches past 5%: cannot decide, never "no change"
    assert verdicts["pause-drain"].verdict == "undecided"
    assert comparison.has_regression and len(comparison.regressions) == 3
    # A 25% threshold lets the 20% drop through but not the 30% memory growth (nor the missing cell).
    lenient = compare(run("compare-base")[1], run("compare-cand")[1], 0.25, allow_missing=True)
    assert [c.fields["strategy"] for c in lenient.regressions] == ["whole-file"]
    assert lenient.only_base == ["mmap video:8MiB -> null chunk 64KiB warm"]


def test_a_run_compared_with_itself_changes_nothing_it_can_see() -> None:
    _, records = run("run")
    comparison = compare(records, records, 0.05)
    assert not comparison.has_regression
    assert all(c.throughput.change.p_value == 1.0 and c.throughput.ratio == 1.0 for c in comparison.cells)
    assert not any(c.throughput.significant or c.memory.significant for c in comparison.cells)
    # 3 runs a side give no 95% interval: "cannot decide", never "no change"
    assert comparison.outcome == "undecided" and comparison.exit_status == 3
    assert "re-run both with --repeat" in comparison.summary_line()


def test_three_runs_a_side_can_never_be_significant() -> None:
    # 3 runs against 3: the smallest two-sided p is 2 / C(6, 3) = 0.1, even for a 50% drop.
    from streambench.reports.synthetic import synthetic_run

    _, base = synthetic_run(
        strategies=("pipe",), sizes=(8 << 20,), sinks=("null",), chunks=(65536,), repeat=3
    )
    slower = [dict(r, wall_s=r["wall_s"] * 2) for r in base]
    comparison = compare(base, slower, 0.05)
    (cell,) = comparison.cells
    assert cell.throughput.ratio == pytest.approx(0.5, rel=0.05)
    assert cell.throughput.change.p_value == pytest.approx(0.1)
    assert cell.verdict == "undecided" and not comparison.has_regression
    assert comparison.exit_status == 3
    assert "--repeat 4" in comparison.summary_line()


def test_identical_code_twice_is_not_a_regression() -> None:
    # Two runs of the same code differ only by noise: independent noise, same model.
    from streambench.reports.synthetic import synthetic_run

    _, first = synthetic_run(sinks=("null",), repeat=10, seed=11)
    _, second = synthetic_run(sinks=("null",), repeat=10, seed=12)
    comparison = compare(first, second, 0.05)
    assert len(comparison.cells) == 28
    assert not comparison.has_regression


def test_every_string_is_escaped() -> None:
    meta, records = run("run")
    html = render_report(meta, records)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # in SVG text too (the dots chart labels its row with the strategy's name and best chunk)
    assert re.search(r"<text[^>]*>&lt;script&gt;alert\(1\)&lt;/script&gt; \d+ [KM]iB</text>", html)
    assert "<img src=x" not in html and "<b>transform</b>" not in html
    # the only script is ours; a hostile profile path is shown, never linked
    assert html.count("<script>") == 1
    assert 'href="javascript:' not in html
    assert 'href="profiles/' in html
    comparison = compare(records, records, 0.05)
    page = render_comparison(comparison, {"run_id": HOSTILE}, {"run_id": HOSTILE})
    assert HOSTILE not in page and page.count("<script>") == 1


def test_self_contained() -> None:
    html = render_report(*run("run"))
    # nothing to fetch: no external script, stylesheet, font or image
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert "@import" not in html and "url(" not in html
    assert "<link" not in html


def test_sections_say_why_they_are_empty() -> None:
    meta, records = run("compare-base")  # one size, one chunk size, no calibration, no failures
    html = render_report(meta, records)
    assert "the fit needs at least two sizes" in html
    assert "a sweep needs at least two" in html
    assert "no calibration" in html
    assert "None: every run finished" in html
    assert "None: every cell of the matrix could run" in html
    assert 'id="profiles"' not in html  # no record has profiles: nothing rendered
    # what the harness stores when this machine was never calibrated
    assert "no calibration" in render_report({**meta, "calibration": {}}, records)


def test_profiler_passes_are_linked_not_timed() -> None:
    meta, records = run("run")
    passes = [r for r in records if r.profiler]
    assert len(passes) == 2
    timed = [r for r in records if not r.profiler]
    summary = summary_frame(records)
    cell = summary[summary["cell_id"] == passes[0].cell_id].iloc[0]
    assert cell["runs"] == 3
    assert (
        cell["throughput_gbps_median"]
        == summary_frame(timed).set_index("cell_id").loc[passes[0].cell_id, "throughput_gbps_median"]
    )
    html = render_report(meta, records)
    assert f'href="profiles/{passes[0].cell_id}/memray-flamegraph.html"' in html
    assert "cpu failed: py-spy &lt;missing&gt;" in html and "memory: x1.10 wall time" in html
    assert "2 profiler passes left out" in html


def test_a_strategy_with_options_keeps_its_flame_graph_and_links() -> None:
    """A cell id holds the ':' and '=' of ``async:loop=uvloop``: its profile is linked and embedded."""
    from dataclasses import replace

    meta, records = run("run")
    cpu = next(r for r in records if r.profiler == "cpu")
    cell_id = "async:loop=uvloop-video-null-0123abcd"
    svg = f"profiles/{cell_id}/flame.svg"
    doctored = [
        replace(r, cell_id=cell_id, strategy="async:loop=uvloop", profile_artifacts={"flamegraph_svg": svg})
        if r is cpu
        else r
        for r in records
    ]
    html = render_report(meta, doctored, {svg: "<svg xmlns='http://www.w3.org/2000/svg'/>"})
    assert 'href="profiles/async%3Aloop%3Duvloop-video-null-0123abcd/flame.svg"' in html
    assert "data:image/svg+xml;base64," in html and f"{svg}</code> (not a relative path)" not in html


def test_summary_frame_for_the_terminal() -> None:
    # harness.cli prints these columns after a run.
    summary = summary_frame(run("run")[1])
    columns = {
        "strategy",
        "workload",
        "size_bytes",
        "sink",
        "chunk_bytes",
        "throughput_gbps_median",
        "share_of_cat",
        "peak_rss_bytes_median",
        "verified_runs",
        "runs",
    }
    assert columns <= set(summary.columns)
    row = summary[
        (summary["strategy"] == "whole-file")
        & (summary["size_bytes"] == 8 << 20)
        & (summary["chunk_bytes"] == 1 << 20)
    ].iloc[0]
    assert (row["verified_runs"], row["runs"]) == (2, 3)


def test_old_and_odd_records_do_not_crash() -> None:
    _, records = run("run")
    keep = {
        "strategy",
        "workload",
        "size_bytes",
        "sink",
        "chunk_bytes",
        "repeat",
        "wall_s",
        "bytes_moved",
        "outcome",
    }
    old = [{k: v for k, v in r.to_dict().items() if k in keep} for r in records]
    html = render_report({}, old)
    assert "pipe" in html
    odd = [
        {
            "strategy": None,
            "size_bytes": "big",
            "wall_s": "fast",
            "outcome": None,
            "rss_timeline": [[0, "x"], "y"],
        },
        {"strategy": "pipe", "rss_timeline": None, "buffered_timeline": 3, "profiles": "nope", "io": None},
    ]
    render_report(
        {"calibration": "broken", "machine": [], "config": None, "skipped_cells": [1, {"x": 2}]}, odd
    )
    assert "No measured run" in render_report({}, [])
    comparison = compare(old, [], 0.05)
    assert comparison.cells and all(c.verdict == "missing" for c in comparison.cells)
    assert compare([], [], 0.05).outcome == "undecided"


@settings(max_examples=4, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4, unique=True))
def test_any_strategy_name_stays_text(names: list[str]) -> None:
    """Several drawn names share one report: rendering is most of this test's time."""
    from streambench.reports.synthetic import synthetic_run

    meta, template = synthetic_run(strategies=("pipe",), sizes=(1 << 20, 4 << 20), sinks=("null",), repeat=2)
    records = [{**r, "strategy": name} for name in names for r in template]
    skipped = [{"label": name, "reason": name} for name in names]
    html = render_report({**meta, "skipped_cells": skipped}, records)
    assert html.count("<script>") == 1 and html.count("</script>") == 1
    for name in names:
        assert f'data-v="{escape(name)}">{escape(name)}</td>' in html  # the table shows it, escaped
