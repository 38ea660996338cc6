"""End to end through real worker processes: physics, verification, reports, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from streambench.harness.cli import main
from streambench.harness.results.record import SCHEMA_VERSION
from tests.helpers import records_of

MiB = 1 << 20


def _run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_physics_whole_file_vs_pipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size_bytes = 64 * MiB
    rc = main(
        [
            "run",
            "--strategy",
            "whole-file,pipe",
            "--workload",
            "video:64MiB",
            "--sink",
            "null,file",
            "--chunk-size",
            "64KiB",
            "--repeat",
            "2",
            "--warmup",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    report_path = Path(capsys.readouterr().out.strip().splitlines()[-1])
    run_dir = _run_dir(tmp_path)
    assert report_path == (run_dir / "report.html").resolve()
    records = records_of(run_dir)
    assert len(records) == 2 * 2 * 2
    for r in records:
        assert r["schema_version"] == SCHEMA_VERSION
        assert r["outcome"] == "ok", r["error"]
        assert r["verified"], r["verify_detail"]
        assert r["bytes_moved"] == size_bytes
        assert r["peak_rss_method"] == "VmHWM after clear_refs"
        assert r["cache_state_ok"] is True
        assert r["user_s"] is not None and r["sys_s"] is not None and r["wall_s"] > 0
        growth = r["peak_rss_bytes"] - r["baseline_rss_bytes"]
        if r["strategy"] == "whole-file":
            # fs.readFile holds the whole file: resident memory grows by its size.
            assert growth >= 0.95 * size_bytes
            # The anon peak is sampled every 10 ms, so it is a lower bound: the top
            # can fall between samples while the buffer is written out (~10 ms here).
            assert r["peak_rss_anon_bytes"] - r["baseline_rss_anon_bytes"] >= 0.75 * size_bytes
        else:
            # a 64 KiB copy loop holds one chunk at a time.
            assert growth < 8 * MiB
        # I/O counters show the file really was read by the worker (or its children).
        assert r["io"]["rchar"] >= size_bytes
        if r["sink"] == "null":
            assert r["ttfb_s"] is not None and 0 <= r["ttfb_s"] <= r["sink_last_byte_s"]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["machine"]["cpu_count"] >= 1 and meta["finished_at_utc"]
    html = report_path.read_text()
    assert "whole-file" in html and "pipe" in html
    # Self-contained: nothing to fetch, it opens from disk.
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    # The scratch destination was removed; the workload cache stays.
    assert not (Path(meta["config"]["data_dir"]) / "dest").exists()


def test_report_rebuilds_and_tolerates_torn_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "run",
                "--strategy",
                "pipe",
                "--workload",
                "video:1MiB",
                "--sink",
                "null",
                "--repeat",
                "1",
                "--warmup",
                "0",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    run_dir = _run_dir(tmp_path)
    with open(run_dir / "results.jsonl", "a") as f:
        f.write('{"run_id": "torn')  # the harness was killed mid-write
    capsys.readouterr()
    out_path = tmp_path / "again.html"
    assert main(["report", str(run_dir), "-o", str(out_path)]) == 0
    assert Path(capsys.readouterr().out.strip()) == out_path.resolve()
    assert "pipe" in out_path.read_text()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--workload", "video:5XB"], "'5XB'"),
        (["run", "--strategy", "teleport"], "'teleport'"),
        (["run", "--sink", "s3"], "'s3'"),
        (["run", "--workload", "mp3:1MiB"], "'mp3'"),
        (["run", "--workload", "video"], "KIND:SIZE"),
        (["run", "--chunk-size", "0"], "chunk size"),
        (["run", "--cache", "lukewarm"], "'lukewarm'"),
        (["generate", "video", "--size", "12 parsecs"], "'12 parsecs'"),
        (["report", "/nonexistent/run"], "/nonexistent/run"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("streambench: error:") and needle in err


def test_malformed_run_json_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text("")
    (run_dir / "run.json").write_text("{not json")
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "malformed JSON" in err


def test_provenance_and_a_run_under_load_are_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run.json says where the figures came from; a record taken beside a busy process says so."""
    import subprocess
    import sys

    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        argv = ["run", "--strategy", "pipe", "--workload", "video:32MiB", "--sink", "null", "--repeat", "2",
                "--warmup", "0", "--out", str(tmp_path)]  # fmt: skip
        assert main(argv) == 0
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1]).parent
    meta = json.loads((run_dir / "run.json").read_text())
    provenance = meta["provenance"]
    assert provenance["streambench_version"] and "plugins" in provenance and "thp" in provenance
    assert provenance["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", provenance["git_commit"])
    records = records_of(run_dir)
    for record in records:
        noise = record["noise"]
        assert noise["loadavg_1m_before"] is not None and noise["steal_s"] >= 0
        # Two spinning processes on two cores: nearly all of the machine was someone else's.
        assert noise["under_load"] and noise["other_cpu_s"] > 0.5 * noise["wall_s"], noise
    assert "taken under load" in (run_dir / "report.html").read_text()


def test_the_first_run_on_a_machine_calibrates_it_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a machine never calibrated
    argv = ["run", "--strategy", "pipe", "--workload", "video:8MiB", "--sink", "null", "--repeat", "1",
            "--warmup", "0", "--out", str(tmp_path / "results")]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "calibrating this machine once" in first.err
    calibration = json.loads((tmp_path / "data" / "calibration.json").read_text())
    assert calibration["pass"] == "first run (short)" and calibration["warm_read_bps"] > 0
    report = Path(first.out.strip().splitlines()[-1]).read_text()
    assert "of warm read" in report  # "% of the machine's limit" is filled in
    assert main(argv) == 0
    assert "calibrating" not in capsys.readouterr().err  # once per machine, not per run
    # Another data folder on the same machine takes the machine's calibration, measured once.
    monkeypatch.setenv("STREAMBENCH_DATA_DIR", str(tmp_path / "other-data"))
    assert main(argv) == 0
    assert "calibrating" not in capsys.readouterr().err
    assert (tmp_path / "other-data" / "calibration.json").exists()


def test_pinned_runs_record_where_they_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: nothing to place")
    cores = sorted(os.sched_getaffinity(0))
    pin = f"{cores[0]}/{cores[-1]}/{cores[-1]}"
    argv = ["run", "--strategy", "pipe", "--workload", "video:8MiB", "--sink", "null,file", "--repeat", "1",
            "--warmup", "0", "--pin", pin, "--out", str(tmp_path)]  # fmt: skip
    before = os.sched_getaffinity(0)
    assert main(argv) == 0
    assert os.sched_getaffinity(0) == before  # the harness is unpinned again after each run
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1]).parent
    by_sink = {r["sink"]: r["cpu_placement"] for r in records_of(run_dir)}
    assert by_sink["null"] == {"worker": [cores[0]], "far_end": [cores[-1]], "parent": [cores[-1]]}
    assert by_sink["file"] == {"worker": [cores[0]], "parent": [cores[-1]]}  # a file has no far end
    assert json.loads((run_dir / "run.json").read_text())["matrix_spec"]["pin"] == pin
