"""Both profilers through the real tools on a small cell: artifacts parse, summaries name our code."""

from __future__ import annotations

import base64
import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import memray
import pytest

from streambench.harness.cli import main
from streambench.harness.measure import profilers
from tests.helpers import records_of

# Real matrices, servers or browsers: minutes in all (pytest -m "not slow" leaves them out).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def profiled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("prof")
    # A 100 MB/s consumer makes each 48 MiB run last ~0.5 s: enough py-spy samples at 100 Hz.
    assert main([
        "run", "--strategy", "whole-file,readinto", "--workload", "video:48MiB", "--sink", "tcp",
        "--consumer-rate", "100MB/s", "--repeat", "2", "--warmup", "0", "--profile", "both",
        "--out", str(out),
    ]) == 0  # fmt: skip
    (run_dir,) = list(out.iterdir())
    return run_dir, records_of(run_dir)


def _pass(records: list[dict[str, Any]], strategy: str, profiler: str) -> dict[str, Any]:
    return next(r for r in records if r["strategy"] == strategy and r["profiler"] == profiler)


def test_profiled_passes_are_extra_and_separate(profiled_run: tuple[Path, list[dict[str, Any]]]) -> None:
    _, records = profiled_run
    timed = [r for r in records if r["profiler"] is None]
    assert len(timed) == 4  # 2 strategies x 2 repeats, untouched by profilers
    passes = sorted((r["strategy"], r["profiler"]) for r in records if r["profiler"])
    assert passes == sorted(
        (s, p) for s in ("whole-file", "readinto") for p in ("memory", "cpu", "cpu-flamegraph")
    )
    for r in records:
        assert r["verified"], (r["strategy"], r["profiler"], r["verify_detail"])
    for r in records:
        if r["profiler"]:
            assert r["profile_error"] is None
            assert r["profile_overhead"] is not None and r["profile_overhead"] > 0


def test_memray_capture_and_summary(profiled_run: tuple[Path, list[dict[str, Any]]]) -> None:
    run_dir, records = profiled_run
    r = _pass(records, "whole-file", "memory")
    capture = run_dir / r["profile_artifacts"]["capture"]
    reader = memray.FileReader(str(capture))
    assert reader.metadata.peak_memory >= 48 << 20  # whole-file holds the file: heap sees it
    reader.close()
    for key in ("flamegraph_html", "table_html"):
        html = (run_dir / r["profile_artifacts"][key]).read_text()
        assert "<html" in html.lower()
    summary = r["profile"]
    assert summary["peak_heap_bytes"] >= 48 << 20
    assert "heap" in summary["peak_is"] and "page cache" in summary["peak_is"]
    assert (
        summary["top_allocations"][0]["location"].startswith("WholeFile.run")
        or "whole_file.py" in (summary["top_allocations"][0]["location"])
    )
    assert summary["snapshots"] and len(summary["snapshots"][0]) == 3


def test_py_spy_artifacts_and_summary(profiled_run: tuple[Path, list[dict[str, Any]]]) -> None:
    run_dir, records = profiled_run
    r = _pass(records, "readinto", "cpu")
    doc = json.loads((run_dir / r["profile_artifacts"]["speedscope_json"]).read_text())
    assert sum(len(p["samples"]) for p in doc["profiles"]) > 10
    summary = r["profile"]
    assert summary["idle_included"] is True
    named = " ".join(t["function"] for t in summary["top_total"])
    assert "ReadInto.run" in named
    svg_record = _pass(records, "readinto", "cpu-flamegraph")
    svg = (run_dir / svg_record["profile_artifacts"]["flamegraph_svg"]).read_text()
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg")
    assert 0 < svg_record["profile"]["active_share"] <= 1
    # The report draws it under its cell (a sandboxed frame of the SVG itself), beside the top functions.
    page = (run_dir / "report.html").read_text()
    embedded = base64.b64encode(svg.encode()).decode()
    assert f'sandbox="allow-scripts" loading="lazy" src="data:image/svg+xml;base64,{embedded}"' in page
    hottest = r["profile"]["top_self"][0]["function"]
    assert f'<td class="l wrap">{html.escape(hottest)}</td>' in page


def test_profile_command_prints_a_summary(
    profiled_run: tuple[Path, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = profiled_run
    assert main(["profile", str(run_dir), "readinto"]) == 0
    out = capsys.readouterr().out
    assert "memray: peak heap" in out and "py-spy:" in out and "flamegraph_svg:" in out
    assert main(["profile", str(run_dir), "readinto", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cell"].startswith("readinto") and doc["summary"]["memory"]["peak_heap_bytes"] > 0
    paths = [Path(p) for p in doc["artifacts"].values()]
    assert paths and all(p.is_absolute() and p.exists() for p in paths)
    assert main(["profile", str(run_dir), "nothing-like-this"]) == 2


def test_missing_profiler_is_said_once_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(profilers, "py_spy_path", lambda: None)
    assert main([
        "run", "--strategy", "pipe,cat", "--workload", "video:4MiB", "--sink", "null", "--repeat", "1",
        "--warmup", "0", "--profile", "cpu", "--out", str(tmp_path),
    ]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("cpu profiling cannot run here") == 1 and "pip install py-spy" in err
    (run_dir,) = list(tmp_path.iterdir())
    records = records_of(run_dir)
    timed = [r for r in records if r["profiler"] is None]
    assert len(timed) == 2 and all(r["verified"] for r in timed)
    skipped = [r for r in records if r["profiler"]]
    assert len(skipped) == 4 and all("py-spy is not installed" in r["profile_error"] for r in skipped)
