"""The run's edges (issue 23): a run stopped before its first record resumes; kill -9 leaves nothing
that the next run does not sweep; hostile baselines, addresses and run files are one line; every
input the harness used to ignore is refused; exit statuses say what happened."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.common.errors import Exit
from streambench.harness.common.scratch import owned_tempdir
from streambench.harness.http.ranges import parse_range
from streambench.harness.sinks.handles import dest_dir
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec
from tests.helpers import CLI, records_of

MiB = 1 << 20
BASE = ["run", "--no-plugins", "--strategy", "pipe", "--workload", "video:1MiB", "--sink", "null",
        "--repeat", "1", "--warmup", "0"]  # fmt: skip


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def only_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


# --- stopped before the first record --------------------------------------------------------------


@pytest.mark.parametrize(("sig", "status", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])  # fmt: skip
def test_a_run_stopped_before_its_first_record_resumes(
    sig: int, status: int, word: str, tmp_path: Path, data_dir: Path
) -> None:
    out = tmp_path / "out"
    # A slow consumer: the first run takes seconds, the signal comes before its record.
    argv = [*CLI, "run", "--no-plugins", "--strategy", "pipe", "--workload",
            "video:256KiB", "--sink", "tcp", "--consumer-rate", "100KB/s", "--repeat", "1", "--warmup", "0",
            "--out", str(out)]  # fmt: skip
    # The harness starts with Ctrl-C's usual meaning whatever this test inherited: a shell's background
    # job (`CI=true bash .ci/run &`) starts with SIGINT ignored, a process that inherits SIGINT
    # ignored keeps ignoring it, and so a harness started from it could not be interrupted at all.
    harness = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, STREAMBENCH_DATA_DIR=str(data_dir)),
                               preexec_fn=_default_sigint)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(out.glob("*/run.json"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the run is under way
    # How the harness takes signals as it is sent one, in the message should it fail.
    dispositions = [line for line in Path(f"/proc/{harness.pid}/status").read_text().splitlines()
                    if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]  # fmt: skip
    harness.send_signal(sig)
    _, err = harness.communicate(timeout=60)
    assert harness.returncode == status, f"{dispositions}\n{err}"
    run_dir = only_run_dir(out)
    assert f"{word}: every finished record is kept" in err and f"--resume {run_dir}" in err
    assert records_of(run_dir) == []  # nothing measured yet, and nothing torn
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert len(records_of(run_dir)) == 1


def test_a_run_folder_of_an_older_version_without_results_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([*BASE, "--out", str(out)]) == 0
    run_dir = only_run_dir(out)
    (run_dir / "results.jsonl").unlink()  # what a run stopped before its first record used to leave
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert len(records_of(run_dir)) == 1


# --- kill -9 leftovers ------------------------------------------------------------------------------


def test_a_killed_harness_scratch_folder_is_swept_by_the_next_run(tmp_path: Path, data_dir: Path) -> None:
    dest = dest_dir(data_dir)
    dest.mkdir(parents=True, exist_ok=True)
    stale = dest / f"20260101-000000-abcd.{dead_pid()}"
    stale.mkdir()
    (stale / "dest-1048576B.out").write_bytes(b"x" * MiB)
    mine = dest / f"users-own.{dead_pid()}"  # not only scratch files: never touched
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    alive = dest / f"20260101-000000-beef.{os.getppid()}"  # a live owner: never touched
    alive.mkdir()
    (alive / "dest-1B.out").write_bytes(b"x")
    try:
        assert main([*BASE, "--sink", "file", "--out", str(tmp_path / "out")]) == 0
        assert not stale.exists()
        assert (mine / "notes.txt").read_text() == "mine" and (alive / "dest-1B.out").exists()
    finally:
        shutil.rmtree(mine)
        shutil.rmtree(alive)


def test_a_killed_browsers_profile_is_swept() -> None:
    tmp = Path(tempfile.gettempdir())
    stale = tmp / f"streambench-chromium-{dead_pid()}-x1y2"
    stale.mkdir()
    (stale / "Local State").write_text("{}")
    fresh = owned_tempdir("streambench-chromium-")
    try:
        assert not stale.exists()
        assert fresh.name.startswith(f"streambench-chromium-{os.getpid()}-")
    finally:
        shutil.rmtree(fresh)


# --- baselines -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("baselines")
    for name in ("ok1", "ok2"):
        out = root.parent / f"out-{name}"
        assert main([*BASE, "--out", str(out), "--save-baseline", name, "--baselines-dir", str(root)]) == 0
    return root


def test_a_hostile_baseline_json_stops_nothing(saved: Path, tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "b"
    shutil.copytree(saved, root)
    info = json.loads((root / "ok1" / "baseline.json").read_text())
    (root / "ok1" / "baseline.json").write_text(json.dumps({**info, "saved_at": "x", "name": "ok2"}))
    assert main(["history", "--baselines-dir", str(root), "-o", str(tmp_path / "h.html")]) in (0, 1)
    capsys.readouterr()
    run = next(p for p in (saved.parent / "out-ok2").iterdir() if p.is_dir())
    assert main(["compare", "--baseline", "ok2", "--baselines-dir", str(root), str(run)]) in (0, 3)
    assert main(["compare", "--baseline", "nope", "--baselines-dir", str(root), str(run)]) == 2
    err = capsys.readouterr().err
    # Named by its folder: ok1's file cannot pose as ok2.
    assert "(saved: ok1, ok2)" in err and "Traceback" not in err


@pytest.mark.parametrize(("name", "message"), [("", "bad baseline name"), ("x\n", "bad baseline name")])
def test_bad_baseline_names_are_refused_before_running(
    name: str, message: str, tmp_path: Path, capsys: Any
) -> None:
    assert main([*BASE, "--out", str(tmp_path / "out"), "--save-baseline", name]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_baselines_dir_that_is_a_file_is_refused_before_running(tmp_path: Path, capsys: Any) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    for where in (a_file, a_file / "below"):
        argv = [*BASE, "--out", str(tmp_path / "out"), "--save-baseline", "b", "--baselines-dir", str(where)]
        assert main(argv) == 2
        assert "baselines folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- addresses, run files, inputs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["tls://127.0.0.1:1", "tcp://[::1", "tcp://127.0.0.1:99999", "tcp://999.1.1.1:8786", "tcp://host"],
)
def test_bad_scheduler_addresses_are_one_line_at_once(address: str, tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("distributed")
    started = time.monotonic()
    assert main([*BASE, "--out", str(tmp_path / "out"), "--scheduler", address]) == 2
    assert time.monotonic() - started < 3
    err = capsys.readouterr().err
    assert "bad --scheduler" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_leaves_no_run_folder(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("distributed")
    assert main([*BASE, "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "cannot reach" in capsys.readouterr().err
    assert not any((tmp_path / "out").glob("*/run.json"))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    assert main([*BASE, "--out", str(out)]) == 0
    return only_run_dir(out)


def copy_run(run: Path, to: Path, meta: dict[str, Any] | None = None, edit: Any = None) -> Path:
    shutil.copytree(run, to)
    if meta is not None:
        (to / "run.json").write_text(json.dumps({**json.loads((to / "run.json").read_text()), **meta}))
    if edit is not None:
        lines = [
            json.dumps(edit(json.loads(line))) for line in (to / "results.jsonl").read_text().splitlines()
        ]
        (to / "results.jsonl").write_text("\n".join(lines) + "\n")
    return to


def test_reports_and_compare_survive_odd_run_files(small_run: Path, tmp_path: Path, capsys: Any) -> None:
    hostile = {"sink": "http", "http": {"ttfb_p50_s": "x", "clients": 1}}
    odd_http = copy_run(small_run, tmp_path / "http", edit=lambda r: {**r, **hostile})
    assert main(["report", str(odd_http)]) == 0
    for meta in ({"scenario": None}, {"scenario": {"name": "backpressure", "size_bytes": "huge"}}):
        odd = copy_run(small_run, tmp_path / f"s{len(list(tmp_path.iterdir()))}", meta)
        assert main(["report", str(odd)]) in (0, 2)
        assert "Traceback" not in capsys.readouterr().err
    machine = copy_run(small_run, tmp_path / "machine", {"machine": "x", "calibration": [1]})
    assert main(["compare", str(small_run), str(machine)]) in (0, 3)
    assert "Traceback" not in capsys.readouterr().err


def test_resume_refuses_what_it_would_ignore(small_run: Path, tmp_path: Path, capsys: Any) -> None:
    for extra in (["--profile", "memory"], ["--out", str(tmp_path)], ["--no-plugins"], ["--drop-caches"]):
        assert main(["run", "--resume", str(small_run), *extra]) == 2
        assert "drop --" in capsys.readouterr().err


def test_a_cluster_run_resumed_locally_says_so(small_run: Path, tmp_path: Path, capsys: Any) -> None:
    run = copy_run(small_run, tmp_path / "c", {"cluster": [{"cluster": "local:2"}]})
    (run / "results.jsonl").write_text("")
    assert main(["run", "--resume", str(run)]) == 0
    assert "its missing runs now run on this machine" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "20"], "--budget bounds --repeat auto"),
        (["--pin", ""], "bad --pin"),
        (["--pin", "１/0/0"], "bad --pin"),
    ],
)
def test_inputs_once_ignored_are_refused(argv: list[str], message: str, tmp_path: Path, capsys: Any) -> None:
    assert main([*BASE, "--out", str(tmp_path / "out"), *argv[:]]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "message"),
    [('workload = ["video:1MiB"]\ngroup = []\n', "'group' is empty")],
)
def test_an_empty_group_list_is_refused(toml: str, message: str, tmp_path: Path, capsys: Any) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(toml)
    assert main(["run", "--matrix", str(matrix), "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_a_matrix_file_with_a_bom_reads(tmp_path: Path, capsys: Any) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_bytes('\ufeffworkload = ["video:1MiB"]\nstrategy = ["pipe"]\nsink = ["null"]\n'.encode())
    assert main(["run", "--matrix", str(matrix), "--dry-run"]) == 0


def test_non_ascii_digits_are_no_range() -> None:
    assert parse_range("bytes=０-１", 100).status == 200
    assert parse_range("bytes=0-1", 100).status == 206


def test_bench_overhead_needs_three_rounds(capsys: Any) -> None:
    assert main(["bench-overhead", "--rounds", "1"]) == 2
    assert "--rounds must be a whole number from 3" in capsys.readouterr().err


def test_a_folder_at_a_workloads_path_is_named_and_nothing_is_left(tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    spec = WorkloadSpec("video", MiB, seed=3)
    path, _ = cache.paths_for(spec, data)
    path.mkdir(parents=True)
    assert main(["generate", "video", "--size", "1MiB", "--seed", "3", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "in the way" in err
    assert not list(path.parent.glob("*.sb-tmp"))


# --- exit statuses --------------------------------------------------------------------------------------


def test_a_run_whose_runs_fail_exits_4(tmp_path: Path, capsys: Any) -> None:
    assert main([*BASE, "--out", str(tmp_path / "out"), "--timeout", "0.001"]) == Exit.RUNS_FAILED
    assert "runs failed or were not verified" in capsys.readouterr().err


def test_a_bug_is_one_line_and_status_70(
    monkeypatch: pytest.MonkeyPatch, small_run: Path, capsys: Any
) -> None:
    from streambench.reports import compare as compare_module

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(compare_module, "compare", broken)
    assert main(["compare", str(small_run), str(small_run)]) == Exit.INTERNAL
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: planted" in err and "Traceback" not in err


def test_compare_and_history_gate_on_good_runs(small_run: Path, tmp_path: Path) -> None:
    bad = copy_run(small_run, tmp_path / "bad", edit=lambda r: {**r, "verified": False})
    assert main(["compare", str(small_run), str(bad)]) == Exit.REGRESSION
    crashed = copy_run(small_run, tmp_path / "crashed", edit=lambda r: {**r, "outcome": "crashed"})
    assert main(["compare", str(small_run), str(crashed)]) == Exit.REGRESSION
    assert main(["history", str(small_run), str(crashed), "-o", str(tmp_path / "h.html")]) == Exit.REGRESSION


def test_a_counter_change_with_unchanged_time_is_a_regression(tmp_path: Path, capsys: Any) -> None:
    """Twice the write system calls and bytes written, the clock unchanged: compare says regression,
    and which counter; the same runs compared with themselves say no change of work."""
    from streambench.harness.results.store import load_records
    from streambench.reports.compare import compare

    assert main([*BASE[:-4], "--repeat", "3", "--warmup", "0", "--out", str(tmp_path / "r")]) == 0
    run = only_run_dir(tmp_path / "r")

    def doubled(r: dict[str, Any]) -> dict[str, Any]:
        io = dict(r.get("io") or {})
        io["syscw"], io["wchar"] = 2 * io.get("syscw", 0), 2 * io.get("wchar", 0)
        return {**r, "io": io}

    more_work = copy_run(run, tmp_path / "more-work", edit=doubled)
    assert main(["compare", str(run), str(more_work), "--fail-on", "5%"]) == Exit.REGRESSION
    out = capsys.readouterr()
    assert "syscalls per MiB" in out.out + out.err
    same = compare(load_records(run), load_records(run), 0.05)
    votes = [vote for cell in same.cells for _, vote in cell.counters.values()]
    assert votes and all(v == "same" for v in votes), votes
    worse = compare(load_records(run), load_records(more_work), 0.05)
    assert [c.counters["syscalls_per_mib"][1] for c in worse.cells] == ["worse"]
    assert worse.cells[0].throughput.judgement != "worse"  # the clock alone saw nothing
