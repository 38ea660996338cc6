"""The report commands (compare, export, report inputs) and pytest-benchmark interop, end to end."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import pytest

from streambench.harness.cli.results import add_commands, load_inputs
from streambench.harness.common.errors import UsageError
from streambench.harness.common.units import parse_fraction
from streambench.reports.html import render_report
from streambench.reports.pytest_benchmark import records_from_pytest_benchmark, to_pytest_benchmark
from tests.helpers import FIXTURES, as_records, outer_pytest_free_env, records_of


class _Parser(argparse.ArgumentParser):
    """Like the CLI's: a parse error is a UsageError (exit 2), never a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def run_command(argv: list[str]) -> int:
    parser = _Parser(prog="streambench")
    add_commands(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_compare_exit_status_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = str(FIXTURES / "compare-base"), str(FIXTURES / "compare-cand")
    out = tmp_path / "compare.html"
    assert run_command(["compare", base, cand, "--fail-on", "5%", "-o", str(out)]) == 1
    text = capsys.readouterr().out
    assert "REGRESSION" in text and "MISSING" in text
    assert "2 regression(s) beyond --fail-on 5%; 1 cell(s) missing from the candidate" in text
    assert "pipe video:8MiB" in out.read_text()
    # the base against itself: pause-drain's spread reaches past 5% (never "no change"), at 10% it is within
    assert run_command(["compare", base, base]) == 3
    assert run_command(["compare", base, base, "--fail-on", "10%"]) == 0
    assert "no regression: every cell within ±10%" in capsys.readouterr().out
    # 31% allowed: both planted regressions (20% slower, 30.0% more memory) are within it; the
    # cell the candidate lacks fails the gate unless it is allowed to be missing
    assert run_command(["compare", base, cand, "--fail-on", "31%"]) == 1
    assert run_command(["compare", base, cand, "--fail-on", "31%", "--allow-missing"]) == 0
    assert run_command(["compare", base, cand, "--correction", "bh"]) == 1


def test_compare_says_when_these_runs_cannot_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three exit codes: 0 no change, 1 a regression, 3 cannot decide (3 runs a side: p >= 0.1)."""
    run = str(FIXTURES / "run")
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert run_command(["compare", run, run]) == 3
    text = capsys.readouterr().out
    assert "cannot decide" in text and "--repeat" in text
    # The same, as data: the runs needed are said.
    assert run_command(["compare", run, run, "--format", "json"]) == 3
    decided = json.loads(capsys.readouterr().out)
    assert decided["outcome"] == "undecided" and decided["exit_status"] == 3
    assert decided["runs_needed"] >= 4 and all(c["verdict"] == "undecided" for c in decided["cells"])
    base, cand = str(FIXTURES / "compare-base"), str(FIXTURES / "compare-cand")
    assert run_command(["compare", base, cand, "--format", "md"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("### streambench compare: regression") and "| --- |" in markdown
    assert run_command(["compare", base, base, "--format", "json", "--fail-on", "10%"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "no change"
    # Each comparison appended its Markdown to the step summary, in order.
    headings = [line for line in summary.read_text().splitlines() if line.startswith("### ")]
    assert [h.split(": ")[1] for h in headings] == ["undecided", "undecided", "regression", "no change"]


def test_compare_warns_when_the_machines_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    base, other = tmp_path / "here", tmp_path / "other-machine"
    for run_dir, kernel, read_bps in ((base, None, 10e9), (other, "9.9.9-elsewhere", 4e9)):
        shutil.copytree(FIXTURES / "compare-base", run_dir)
        meta = json.loads((run_dir / "run.json").read_text())
        if kernel:
            meta.setdefault("machine", {})["kernel"] = kernel
        meta.setdefault("calibration", {})["warm_read_bps"] = read_bps
        (run_dir / "run.json").write_text(json.dumps(meta))
    assert run_command(["compare", str(base), str(other), "--format", "json", "--fail-on", "10%"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("differ in kernel" in n and "9.9.9-elsewhere" in n for n in notes), notes
    assert any("calibrations differ: warm_read_bps" in n for n in notes), notes


@pytest.mark.parametrize("text, expected", [("5%", 0.05), ("5", 0.05), (" 12.5 % ", 0.125), ("0%", 0.0)])
def test_parse_fraction(text: str, expected: float) -> None:
    assert parse_fraction(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "five", "-5%", "100%", "5%%", "0.05.1"])
def test_bad_percentage(text: str) -> None:
    with pytest.raises(UsageError, match="bad percentage"):
        parse_fraction(text)


def test_bad_input_is_one_usage_error(tmp_path: Path) -> None:
    base = str(FIXTURES / "compare-base")
    with pytest.raises(UsageError, match="no such run directory or file"):
        run_command(["compare", base, str(tmp_path / "missing")])
    with pytest.raises(UsageError, match="bad percentage"):
        run_command(["compare", base, base, "--fail-on", "lots"])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UsageError, match="malformed JSON"):
        run_command(["compare", base, str(broken)])
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    with pytest.raises(UsageError, match="neither a streambench run directory nor pytest-benchmark JSON"):
        load_inputs(other)
    torn = tmp_path / "torn"
    torn.mkdir()
    first = '{"cell_id": "c", "repeat": 0, "warmup": false, "outcome": "ok"}'
    (torn / "results.jsonl").write_text(first + '\nnot json\n{"b": 2}\n')
    with pytest.raises(UsageError, match="not a JSON record"):
        load_inputs(torn)
    with pytest.raises(UsageError, match="not a streambench run directory"):
        load_inputs(tmp_path)
    with pytest.raises(UsageError):
        run_command(["export", base, "--format", "xml", "-o", str(tmp_path / "x")])
    with pytest.raises(UsageError, match="cannot write"):
        run_command(["export", base, "--format", "csv", "-o", str(tmp_path / "no" / "such" / "dir.csv")])


def test_export_csv_and_parquet(tmp_path: Path) -> None:
    run_dir = FIXTURES / "run"
    records = records_of(run_dir)
    assert run_command(["export", str(run_dir), "--format", "csv", "-o", str(tmp_path / "r.csv")]) == 0
    df = pd.read_csv(tmp_path / "r.csv")
    assert len(df) == len(records)
    assert {"cell_id", "wall_s", "throughput_gbps", "io_rchar", "rss_timeline"} <= set(df.columns)
    assert json.loads(df["rss_timeline"].iloc[0])[0][0] < 0  # a timeline travels as JSON text
    pytest.importorskip("pyarrow")
    assert (
        run_command(["export", str(run_dir), "--format", "parquet", "-o", str(tmp_path / "r.parquet")]) == 0
    )
    back = pd.read_parquet(tmp_path / "r.parquet")
    assert len(back) == len(records)
    assert back["throughput_gbps"].max() == pytest.approx(df["throughput_gbps"].max())
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(tmp_path / "r.parquet").metadata[b"streambench.run"])
    assert meta["run_id"] == "20260101-000000-fixt"


def test_pytest_benchmark_export_round_trips(tmp_path: Path) -> None:
    run_dir = FIXTURES / "run"
    out = tmp_path / "bench.json"
    assert run_command(["export", str(run_dir), "--format", "pytest-benchmark", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(doc)
    bench = doc["benchmarks"][0]
    assert {"group", "name", "fullname", "params", "stats", "extra_info", "options"} <= set(bench)
    fields = {
        "min",
        "max",
        "mean",
        "stddev",
        "rounds",
        "median",
        "iqr",
        "q1",
        "q3",
        "iqr_outliers",
        "stddev_outliers",
        "outliers",
        "ld15iqr",
        "hd15iqr",
        "ops",
        "total",
        "data",
        "iterations",
    }
    assert fields <= set(bench["stats"])
    # the hostile cell lost one run: its stats have 2 rounds (the failure is kept in extra_info)
    rounds = sorted({b["stats"]["rounds"] for b in doc["benchmarks"]})
    assert rounds == [2, 3, 5]
    # back to records: nothing lost, the report is the same
    records = records_of(run_dir)
    inputs = load_inputs(out)
    assert sorted(json.dumps(r.to_dict(), sort_keys=True) for r in inputs.records) == sorted(
        json.dumps(r, sort_keys=True) for r in records
    )
    assert inputs.meta["run_id"] == "20260101-000000-fixt"
    stored = load_inputs(run_dir)
    assert render_report(inputs.meta, inputs.records) == render_report(stored.meta, stored.records)
    # pytest-benchmark itself reads the file
    result = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(out), "--columns=min,median,rounds"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "streambench[pipe video:8MiB" in result.stdout


def test_cells_without_timing_are_named(tmp_path: Path) -> None:
    records = [dict(r, outcome="crashed", wall_s=None) for r in records_of(FIXTURES / "compare-base")]
    doc = to_pytest_benchmark(as_records(records), {"run_id": "x"})
    assert doc["benchmarks"] == []
    assert len(doc["machine_info"]["streambench_cells_without_timing"]) == 5


def _plugin_args() -> list[str]:
    registered = any(
        ep.value.startswith("streambench.harness.pytest_plugin")
        for ep in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if registered else ["-p", "streambench.harness.pytest_plugin"]


def _pytest(tmp_path: Path, source: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *_plugin_args(),
            "test_sample.py",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=outer_pytest_free_env(),
        timeout=300,
    )


def test_plugin_with_benchmarks_disabled(tmp_path: Path) -> None:
    # --benchmark-disable: one call, no warm-up; the test still gets its measured run.
    result = _pytest(
        tmp_path,
        """
        def test_pipe(streambench_cell):
            runs = streambench_cell("pipe", workload="video:1MiB", rounds=5, warmup_rounds=2)
            assert len(runs) == 1 and runs[0]["verified"] and not runs[0]["warmup"]
        """,
        "--benchmark-disable",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_foreign_pytest_benchmark_json_becomes_a_report(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        """
        import pytest

        @pytest.mark.parametrize("n", [1000, 100000])
        def test_copy(benchmark, n):
            data = bytes(n)
            benchmark.extra_info["bytes_moved"] = n
            benchmark.pedantic(bytearray, args=(data,), rounds=5, warmup_rounds=1)
        """,
        "--benchmark-json=out.json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    inputs = load_inputs(tmp_path / "out.json")
    assert len(inputs.records) == 10
    assert inputs.default_output == tmp_path / "out.html"
    html = render_report(inputs.meta, inputs.records)
    assert "test_copy[1000]" in html and "pytest-benchmark" in html
    obj = json.loads((tmp_path / "out.json").read_text())
    assert {r["wall_s"] for r in records_from_pytest_benchmark(obj)} == {
        v for b in obj["benchmarks"] for v in b["stats"]["data"]
    }


def test_plugin_runs_a_cell_in_real_workers(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        """
        import sys

        def test_untouched():
            # the plugin stays inert unless its fixture is used
            assert "streambench.harness.execute.runner" not in sys.modules

        def test_pipe(streambench_cell):
            runs = streambench_cell("pipe", workload="video:2MiB", sink="null", chunk="64KiB", rounds=3)
            assert len(runs) == 3 and all(r["verified"] for r in runs)

        def test_whole_file_to_file(streambench_cell):
            runs = streambench_cell(
                "whole-file", workload="video:2MiB", sink="file", rounds=2, warmup_rounds=0
            )
            assert all(r["peak_rss_bytes"] - r["baseline_rss_bytes"] >= 1 << 20 for r in runs)
        """,
        "--benchmark-json=cells.json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    doc: dict[str, Any] = json.loads((tmp_path / "cells.json").read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    pipe = by_name["test_pipe"]
    records = pipe["extra_info"]["streambench_records"]
    assert [r["warmup"] for r in records] == [True, False, False, False]
    # the benchmark's data are the worker's own wall times
    assert pipe["stats"]["data"] == [r["wall_s"] for r in records if not r["warmup"]]
    inputs = load_inputs(tmp_path / "cells.json")
    assert len(inputs.records) == 4 + 2
    html = render_report(inputs.meta, inputs.records)
    assert "whole-file" in html and "pipe" in html
