"""Hostile conditions: a full disk, planted symlinks, two owners of one run, hostile names, bad values.

Each case is one a hostile user found; each must end in one clear line and exit
status 2 (or a record that says what happened), never a traceback, and lose
nothing already measured.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.results import store as store_module
from streambench.harness.results.record import Record
from streambench.harness.results.store import ResultStore, StoreError
from streambench.harness.sinks.handles import FileSink
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec
from tests.helpers import CLI, records_of

MiB = 1 << 20
ROOT = os.geteuid() == 0


def _run(tmp_path: Path, *argv: str) -> tuple[int, Path]:
    out = tmp_path / "out"
    code = main(["run", "--no-plugins", "--repeat", "1", "--warmup", "0", "--out", str(out), *argv])
    return code, out


def _only_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def _record(**changes: Any) -> Record:
    """A plausible record; fields a test does not care about are None (not checked at run time)."""
    values: dict[str, Any] = {
        f.name: None for f in fields(Record) if f.default is MISSING and f.default_factory is MISSING
    }
    values.update(
        run_id="r", cell_id="pipe-video-null-00000000", repeat=0, warmup=False, strategy="pipe",
        workload="video", size_bytes=MiB, outcome="ok", verified=True, verify_detail="ok",
    )  # fmt: skip
    values.update(changes)
    return Record(**values)


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


# --- data loss ----------------------------------------------------------------------------------


def test_a_short_write_is_rolled_back_and_the_next_record_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ResultStore(tmp_path / "run")
    store.append(_record(repeat=0))
    real_write = os.write
    calls = {"n": 0}

    def short_then_full(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:2]))  # '{"': what the full disk left
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.os, "write", short_then_full)
    with pytest.raises(StoreError, match="--resume"):
        store.append(_record(repeat=1))
    monkeypatch.setattr(store_module.os, "write", real_write)
    assert store.results_path.read_bytes().endswith(b"}\n")  # no fragment left behind
    store.append(_record(repeat=2))  # space came back
    assert [r["repeat"] for r in records_of(store.run_dir)] == [0, 2]


def test_a_record_glued_onto_a_fragment_is_recovered(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "run")
    store.append(_record(repeat=0))
    with open(store.results_path, "a") as f:  # what the old store left after a full disk
        f.write('{"' + _record(repeat=1).to_json() + "\n")
    store.append(_record(repeat=2))
    assert [r["repeat"] for r in records_of(store.run_dir)] == [0, 1, 2]


@pytest.mark.skipif(not ROOT, reason="mounting a tiny tmpfs needs root (as on CI)")
def test_a_full_disk_under_the_results_keeps_every_record_and_says_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(out)], check=True)
    try:
        # Fill all but a little: run.json fits, a record or a few, then ENOSPC.
        filler = out / "filler"
        filler.write_bytes(b"x" * (_free_bytes(out) - 40_000))
        code = main([
            "run", "--no-plugins", "--strategy", "pipe", "--workload", "video:1MiB", "--sink", "null",
            "--repeat", "40", "--warmup", "0", "--out", str(out),
        ])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2
        assert "No space left on device" in err and "--resume" in err and "Traceback" not in err
        run_dir = next(p for p in out.iterdir() if p.is_dir())
        kept = records_of(run_dir)  # every stored line whole
        assert 0 < len(kept) < 40
        assert run_dir.joinpath("results.jsonl").read_bytes().endswith(b"\n")
        filler.unlink()  # space comes back: resume finishes the run
        assert main(["run", "--resume", str(run_dir)]) == 0
        records = records_of(run_dir)
        assert sorted(r["repeat"] for r in records) == list(range(40))
        assert records[: len(kept)] == kept
    finally:
        subprocess.run(["umount", str(out)], check=True)


@pytest.mark.skipif(not ROOT, reason="mounting a tiny tmpfs needs root (as on CI)")
def test_a_full_disk_at_the_start_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(out)], check=True)
    try:
        (out / "filler").write_bytes(b"x" * _free_bytes(out))
        code = main(["run", "--no-plugins", "--strategy", "pipe", "--workload", "video:1MiB",
                     "--sink", "null", "--repeat", "1", "--warmup", "0", "--out", str(out)])  # fmt: skip
    finally:
        subprocess.run(["umount", str(out)], check=True)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("streambench: error:")
    assert "No space left on device" in err


def test_a_run_removes_only_its_own_scratch_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "here"
    (data_dir / "dest").mkdir(parents=True)
    mine = data_dir / "dest" / "app.bin"
    mine.write_bytes(b"the user's own file")
    code, _ = _run(tmp_path, "--data-dir", str(data_dir), "--strategy", "pipe", "--workload",
                   "video:1MiB", "--sink", "file")  # fmt: skip
    assert code == 0
    assert mine.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in (data_dir / "dest").iterdir()) == ["app.bin"]


def test_one_process_owns_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, "--strategy", "pipe", "--workload", "video:1MiB", "--sink", "null")
    assert code == 0
    run_dir = _only_run_dir(out)
    lines = run_dir.joinpath("results.jsonl").read_text().splitlines()
    run_dir.joinpath("results.jsonl").write_text("")  # as if nothing ran yet
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from streambench.harness.results.store import ResultStore; "
         "from pathlib import Path; s = ResultStore(Path(sys.argv[1])); s.acquire(); "
         "print('held', flush=True); time.sleep(30)",
         str(run_dir)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert main(["run", "--resume", str(run_dir)]) == 2
        assert f"in use by streambench (pid {holder.pid})" in capsys.readouterr().err
        assert run_dir.joinpath("results.jsonl").read_text() == ""  # the second owner ran nothing
    finally:
        holder.kill()
        holder.wait()
    assert main(["run", "--resume", str(run_dir)]) == 0  # the owner is gone: resume runs
    assert len(records_of(run_dir)) == len(lines)


def test_the_cache_follows_xdg_and_tests_never_reach_the_home(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Path(os.environ["STREAMBENCH_DATA_DIR"]).is_relative_to(Path.home() / ".cache")
    monkeypatch.delenv("STREAMBENCH_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/some/xdg")
    assert cache.default_data_dir() == Path("/some/xdg/streambench")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache.default_data_dir() == Path.home() / ".cache" / "streambench"


# --- escapes ------------------------------------------------------------------------------------


def test_bench_overhead_quotes_paths_and_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if subprocess.run(["which", "hyperfine"], capture_output=True).returncode != 0:
        pytest.fail("hyperfine is missing: .ci/run installs it")
    marker = tmp_path / "pwned"
    data_dir = tmp_path / f"a b;touch {marker};$(touch {marker})"
    assert main(["bench-overhead", "--size", "1MiB", "--rounds", "3", "--data-dir", str(data_dir)]) == 0
    # At 1 MiB the standalone run may take no longer than its start-up: said, never a negative time.
    said = capsys.readouterr().out
    assert "harness / standalone" in said or "took no longer than its start-up" in said
    assert not marker.exists()
    assert main(["bench-overhead", "--strategy", f"pipe;touch {marker}", "--size", "1MiB"]) == 2
    assert not marker.exists()


def test_a_tag_never_becomes_a_path_outside_the_run(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "--strategy", "pipe:tag=/../../../escaped", "--workload", "video:1MiB",
                     "--sink", "null", "--profile", "memory")  # fmt: skip
    assert code == 0
    run_dir = _only_run_dir(out)
    (profile_dir,) = (run_dir / "profiles").iterdir()
    assert "/" not in profile_dir.name and not profile_dir.name.startswith(".")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in out.iterdir()] == [run_dir.name]


def test_the_file_sink_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"v" * MiB)
    dest = tmp_path / "scratch" / f"dest-{MiB}B.out"
    dest.parent.mkdir()
    dest.symlink_to(victim)
    with pytest.raises(OSError) as info:
        FileSink(dest, MiB, "existing")
    assert info.value.errno == errno.ELOOP
    sink = FileSink(dest, MiB, "new")  # a new destination replaces the link itself
    sink.release_child_fd()
    assert not dest.is_symlink()
    assert victim.read_bytes() == b"v" * MiB


def test_markup_in_names_is_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, "--strategy", "pipe:tag=[/],pipe:tag=[bold]x", "--workload", "video:1MiB",
                     "--sink", "null,tcp", "--consumer-close-after", "64KiB")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 4  # failures are records, the summary and report are written; "runs failed"
    assert "[/]" in err and "Traceback" not in err
    run_dir = _only_run_dir(out)
    assert (run_dir / "report.html").exists()
    # compare: both sides failed alike (no change), never 1 from a crash
    assert main(["compare", str(run_dir), str(run_dir)]) == 0


def test_escape_sequences_from_records_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(tmp_path, "--strategy", "pipe", "--workload", "video:1MiB", "--sink", "null")
    assert code == 0
    run_dir = _only_run_dir(out)
    path = run_dir / "results.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for r in records:
        r["strategy"] = "pipe\x1b[2J\x1b]0;owned\x07"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    capsys.readouterr()
    assert main(["compare", str(run_dir), str(run_dir)]) == 3  # one run a side cannot decide
    assert main(["report", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert main(["run", "--strategy", "pipe:tag=\x1b[2J", "--workload", "video:1MiB", "--dry-run"]) == 2


# --- children -----------------------------------------------------------------------------------


def _tools_reading(path: Path) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and argv[0] in (b"dd", b"cat") and any(str(path).encode() in a for a in argv):
            found.append(int(entry.name))
    return found


def test_a_timed_out_worker_leaves_no_dd_behind(tmp_path: Path, data_dir: Path) -> None:
    workload = cache.ensure(WorkloadSpec("video", 8 * MiB, seed=3), data_dir)
    code, out = _run(tmp_path, "--strategy", "dd,cat", "--workload", "video:8MiB", "--seed", "3",
                     "--sink", "tcp", "--consumer-rate", "2MB/s", "--timeout", "1")  # fmt: skip
    assert code == 4  # runs failed
    records = records_of(_only_run_dir(out))
    assert [r["outcome"] for r in records] == ["timeout", "timeout"]
    assert _tools_reading(workload.path) == []  # the tool went with its worker's group


def test_what_a_worker_leaves_running_is_killed_and_counted() -> None:
    from streambench.harness.common.lifeline import group_members, kill_group

    # A group leader that starts a child and exits: the child is a leftover.
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 30 & echo $!"], stdout=subprocess.PIPE, text=True, process_group=0
    )
    assert leader.stdout is not None
    orphan = int(leader.stdout.readline())
    leader.wait()
    assert group_members(leader.pid) == [orphan]
    assert kill_group(leader.pid) == 1
    assert group_members(leader.pid) == []
    assert kill_group(leader.pid) == 0


def test_kill_9_of_the_harness_takes_dd_with_it(tmp_path: Path, data_dir: Path) -> None:
    workload = cache.ensure(WorkloadSpec("video", 8 * MiB, seed=4), data_dir)
    harness = subprocess.Popen(
        [*CLI, "run", "--no-plugins", "--strategy", "dd", "--workload",
         "video:8MiB", "--seed", "4", "--sink", "tcp", "--consumer-rate", "2MB/s", "--repeat", "1",
         "--warmup", "0", "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not _tools_reading(workload.path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tools_reading(workload.path), "dd never started"
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    deadline = time.monotonic() + 2
    while _tools_reading(workload.path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _tools_reading(workload.path) == []


# --- validation ---------------------------------------------------------------------------------

BAD_RUNS = [
    (["--timeout", "x"], "timeout"),
    (["--timeout", "0"], "timeout"),
    (["--timeout", "-5"], "timeout"),
    (["--timeout", "nan"], "timeout"),
    (["--workload", "video:" + "9" * 400 + "MiB"], "bad size"),
    (["--workload", "video:5XB"], "bad size"),
    (["--seed", "-1"], "seed"),
    (["--consumer-rate", "0", "--sink", "tcp"], "bad rate"),
    (["--memory-limit", "1MiB"], "too small for a worker to start"),
    (["--disk-read-rate", "5XB"], "bad rate"),
    (["--strategy", "mmap:window=abc"], "bad window='abc'"),
    (["--strategy", "async:loop=tokio"], "bad loop='tokio'"),
    (["--strategy", "nope"], "unknown strategy"),
    (["--repeat", "1", "--repeat", "2"], "--repeat was given twice"),
    (["--strategy", "pipe", "--workload", "video:1MiB,video:2MiB,video:3MiB", "--chunk-size",
      ",".join(f"{k}KiB" for k in range(1, 200)), "--consumer-rate",
      ",".join(f"{k}MB/s" for k in range(1, 200))], "cells (more than"),
    (["--repeat", "3000"], "pass --yes"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), BAD_RUNS, ids=[m for _, m in BAD_RUNS])
def test_bad_run_values_are_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    defaults = {"--strategy": "pipe", "--workload": "video:1MiB", "--sink": "null"}
    full = [*argv]
    for flag, value in defaults.items():
        if flag not in argv:
            full += [flag, value]
    started = time.monotonic()
    code = main(["run", "--no-plugins", "--out", str(tmp_path / "out"), *full])
    err = capsys.readouterr().err
    assert code == 2, err
    assert time.monotonic() - started < 10
    assert message in err and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("streambench: error:")
    assert not (tmp_path / "out").exists()  # nothing was started


def test_a_disk_read_rate_no_cgroup_can_apply_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not root, no blkio or io controller: the limit asked for cannot be applied, so nothing runs
    (cold figures without it would be a lie)."""
    from streambench.harness.measure import disk_throttle

    monkeypatch.setattr(disk_throttle, "_groups", lambda *_: [])
    argv = ["run", "--no-plugins", "--strategy", "pipe", "--workload", "video:1MiB", "--sink", "null",
            "--cache", "cold", "--disk-read-rate", "32MB/s", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--disk-read-rate needs a block-I/O cgroup" in err, err
    assert not (tmp_path / "out").exists()


def test_repeated_axis_flags_join(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-plugins", "--strategy", "pipe", "--strategy", "cat", "--workload",
                 "video:1MiB", "--sink", "null", "--repeat", "2", "--warmup", "0",
                 "--dry-run"]) == 0  # fmt: skip
    assert "plan: 4 runs" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('workload = ["video:1MiB"]\nrepeat = 1.7\n', "repeat must be a whole number"),
        ('workload = ["video:1MiB"]\nrepeat = true\n', "repeat must be a whole number"),
        ('workload = ["video:1MiB"]\nstrategy = []\n', "'strategy' is empty"),
        ("workload = [\n", "malformed TOML"),
    ],
)
def test_bad_toml_values_are_one_line(
    toml: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(toml)
    assert main(["run", "--matrix", str(matrix), "--dry-run"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["calibrate", "--runs", "x"],
        ["bench-overhead", "--rounds", "x"],
        ["bench-generate", "--rounds", "many"],
        ["bench-generate", "--kind", "video,nope"],
        ["bench-gate", "--real", "--runs", "2"],
        ["bench-gate", "--real", "--pairs", "0"],
        ["bench-gate", "--real", "--size", "5XB"],
        ["bench-gate", "--real", "--chunk-size", "0"],
        ["bench-gate", "--real", "--size", "1KiB"],
        ["generate", "video", "--size", "1MiB", "--seed", "-1"],
        ["generate", "video", "--size", "1" + "0" * 300],
    ],
)
def test_bad_counts_in_other_commands_are_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("streambench: error:") and "Traceback" not in err


def test_bad_outputs_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    base = ["run", "--strategy", "pipe", "--workload", "video:3MiB", "--seed", "77", "--sink", "null"]
    assert main([*base, "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main([*base, "--out", str(a_file / "below")]) == 2
    assert "cannot make results folder" in capsys.readouterr().err
    # refused before the workload was generated
    assert cache.check_cached(WorkloadSpec("video", 3 * MiB, 77), cache.default_data_dir())[0] is None


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    assert main(["run", "--no-plugins", "--strategy", "pipe", "--workload", "video:1MiB", "--sink",
                 "null", "--repeat", "1", "--warmup", "0", "--out", str(out)]) == 0  # fmt: skip
    return _only_run_dir(out)


def test_report_and_export_outputs(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(small_run), "-o", str(tmp_path)]) == 2
    assert "it is a folder" in capsys.readouterr().err
    a_file = tmp_path / "f"
    a_file.write_text("")
    assert main(["export", str(small_run), "--format", "csv", "-o", str(a_file / "x")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("results.jsonl", b"\xff\xfe not utf-8\n", "not UTF-8"),
        ("results.jsonl", b"[1, 2]\n{}\n", "must be a JSON object"),
        ("results.jsonl", b'{"outcome": "ok"}\n{}\n', "not a streambench record"),
        ("results.jsonl", b"[" * 100_000 + b"\n{}\n", "nested deeper"),
        ("run.json", b"[" * 100_000, "nested deeper"),
        ("run.json", b"\xff", "not UTF-8"),
    ],
)
def test_hostile_run_files_are_one_line(
    name: str, content: bytes, message: str, small_run: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for f in small_run.iterdir():
        if f.is_file():
            (run_dir / f.name).write_bytes(f.read_bytes())
    (run_dir / name).write_bytes(content)
    for argv in (
        ["report", str(run_dir)],
        ["run", "--resume", str(run_dir)],
        ["compare", str(run_dir), str(small_run)],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


def test_a_deeply_nested_json_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = tmp_path / "bench.json"
    bench.write_text("[" * 100_000)
    assert main(["report", str(bench)]) == 2
    assert "nested deeper" in capsys.readouterr().err


def test_a_manifest_with_a_non_numeric_size_is_untrusted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    workload = cache.ensure(WorkloadSpec("video", MiB), data_dir)
    manifest_path = cache.paths_for(workload.spec, data_dir)[1]
    raw = json.loads(manifest_path.read_text())
    raw["size_bytes"] = "lots"
    manifest_path.write_text(json.dumps(raw))
    assert main(["workloads", "--data-dir", str(data_dir)]) == 0
    assert "no manifest" in capsys.readouterr().out
    assert cache.ensure(workload.spec, data_dir).manifest.size_bytes == MiB  # regenerated


def test_many_skipped_cells_are_summarised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-plugins", "--strategy", "sendfile,cat,dd", "--workload", "video:1MiB",
                 "--sink", "null,tcp,file", "--transform", "none,gzip,sha256,grep",
                 "--chunk-size", "4KiB,64KiB,1MiB", "--dry-run"]) == 0  # fmt: skip
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("skipped")]
    assert 0 < len(lines) <= 5


# --- trust in the cache -------------------------------------------------------------------------


def test_a_flipped_byte_is_found_and_the_workload_regenerated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    workload = cache.ensure(WorkloadSpec("video", 2 * MiB, seed=9), data_dir)
    with open(workload.path, "r+b") as f:
        f.seek(MiB)
        byte = f.read(1)
        f.seek(MiB)
        f.write(bytes([byte[0] ^ 0xFF]))
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "--no-plugins",
                "--data-dir",
                str(data_dir),
                "--strategy",
                "pipe,readinto",
                "--workload",
                "video:2MiB",
                "--seed",
                "9",
                "--sink",
                "null",
                "--repeat",
                "2",
                "--warmup",
                "0",
                "--out",
                str(out),
            ]
        )
        == 4
    )  # fmt: skip (the corrupt run failed)
    assert "no longer matches its manifest" in capsys.readouterr().err
    records = records_of(_only_run_dir(out))
    assert records[0]["verified"] is False and "regenerated" in records[0]["verify_detail"]
    assert all(r["verified"] for r in records[1:])
    assert cache.file_checksum(workload.path) == workload.manifest.xxh3_64


def test_a_same_size_file_behind_a_symlink_is_not_trusted(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    workload = cache.ensure(WorkloadSpec("video", MiB, seed=2), data_dir)
    other = tmp_path / "other"
    other.write_bytes(b"\0" * MiB)
    workload.path.unlink()
    workload.path.symlink_to(other)
    cached, why = cache.check_cached(workload.spec, data_dir)
    assert cached is None and "symbolic link" in why
    again = cache.ensure(workload.spec, data_dir)
    assert not again.path.is_symlink() and cache.file_checksum(again.path) == again.manifest.xxh3_64
    assert other.read_bytes() == b"\0" * MiB  # the link's target was never touched


# --- any string at all --------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ANY_TEXT = st.text(min_size=0, max_size=40)
_SIZE_TEXT = st.one_of(
    _ANY_TEXT, st.from_regex(r"\A[0-9]{1,3}(\.[0-9])?(B|KB|KiB|MiB|GB|XB|)\Z"), st.just("1" + "0" * 400)
)


def _files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*")} if path.exists() else set()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_ANY_TEXT,
    tag=_ANY_TEXT,
    option=_ANY_TEXT,
    size=_SIZE_TEXT,
    chunk=_SIZE_TEXT,
    rate=_ANY_TEXT,
    timeout=_ANY_TEXT,
)
def test_any_names_tags_options_and_sizes_exit_0_or_2_and_write_nowhere(
    name: str, tag: str, option: str, size: str, chunk: str, rate: str, timeout: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    before = _files_under(tmp_path)
    argvs = [
        ["run", "--no-plugins", "--strategy", f"{name},pipe:tag={tag},mmap:{option}", "--workload",
         f"video:{size}", "--chunk-size", chunk, "--dry-run"],
        ["run", "--no-plugins", "--strategy", "pipe", "--workload", "video:1MiB", "--consumer-rate", rate,
         "--sink", "tcp", "--timeout", timeout, "--dry-run"],
        ["generate", name or "video", "--size", size, "--seed", tag or "0", "--data-dir", "/nonexistent/x"],
        ["profile", str(tmp_path / "no-run"), name],
    ]  # fmt: skip
    for argv in argvs:
        code = main(argv)  # any exception other than a handled one fails the test here
        assert code in (0, 2), argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if code == 2:
            assert err.strip().splitlines()[-1].startswith("streambench: error:"), err
    assert _files_under(tmp_path) == before  # a dry run and a refused command write nothing


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tag=st.text(min_size=1, max_size=24))
def test_any_tag_of_a_real_run_stays_inside_the_run_directory(
    tag: str, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path_factory.mktemp("tagged")
    out = home / "out"
    code = main(["run", "--no-plugins", "--strategy", f"pipe:tag={tag}", "--workload", "video:1MiB",
                 "--sink", "null", "--repeat", "1", "--warmup", "0", "--out", str(out),
                 "--profile", "memory"])  # fmt: skip
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err
    assert sorted(p.name for p in home.iterdir()) == (["out"] if code == 0 else [])
    if code == 0:
        (run_dir,) = out.iterdir()
        for path in run_dir.rglob("*"):
            assert path.resolve().is_relative_to(run_dir.resolve()), path
        assert all(r["verified"] for r in records_of(run_dir))
