"""Runner features: TOML matrices and groups, interleaving, resume after kill -9, caps, cache states."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.machine.calibrate import measure
from streambench.harness.measure import limits
from streambench.harness.plan.config import Cell
from streambench.harness.plan.planning import plan_runs
from streambench.workloads.cache import WorkloadSpec
from tests.helpers import CLI, records_of

MiB = 1 << 20


def _only_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_plan_interleaves_cells_and_puts_warmups_first() -> None:
    w = WorkloadSpec("video", MiB)
    a, b = Cell("pipe", w, "null", 65536), Cell("cat", w, "null", 65536)
    order = [(p.cell.strategy, p.repeat, p.warmup) for p in plan_runs([a, b], repeat=2, warmup=1)]
    assert order == [
        ("pipe", 0, True), ("cat", 0, True),
        ("pipe", 0, False), ("cat", 0, False),
        ("pipe", 1, False), ("cat", 1, False),
    ]  # fmt: skip


def test_toml_matrix_groups_and_flag_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(
        """
        repeat = 1
        warmup = 0
        workload = "video:1MiB"
        sink = ["null", "file"]

        [[group]]
        name = "sweep"
        strategy = ["pipe"]
        chunk_size = ["4KiB", "64KiB"]

        [[group]]
        strategy = ["cat", "readinto:align=false"]
        """
    )
    out = tmp_path / "out"
    assert main(["run", "--matrix", str(matrix), "--sink", "null", "--out", str(out)]) == 0
    records = records_of(_only_run_dir(out))
    got = sorted((r["strategy"], r["sink"], r["chunk_bytes"]) for r in records)
    # --sink null overrode the file's sinks in every group; groups expanded separately.
    assert got == [
        ("cat", "null", 65536), ("pipe", "null", 4096), ("pipe", "null", 65536),
        ("readinto:align=false", "null", 65536),
    ]  # fmt: skip
    meta = json.loads((_only_run_dir(out) / "run.json").read_text())
    assert meta["matrix_spec"]["group"][0]["sink"] == ["null"]


def test_no_earlier_runs_writeback_is_left_in_a_file_destination(tmp_path: Path) -> None:
    """Each file-sink run finds its destination with nothing dirty (cachestat), though the run before
    it wrote the whole file into the same destination a moment earlier: the collect's flush is done."""
    out = tmp_path / "out"
    argv = ["run", "--workload", "video:8MiB", "--sink", "file", "--strategy", "cat,pipe", "--repeat", "3"]
    assert main([*argv, "--warmup", "0", "--out", str(out)]) == 0
    records = records_of(_only_run_dir(out))
    assert len(records) == 6 and all(r["verified"] for r in records)
    assert [r["sink_detail"].get("dest_dirty_bytes") for r in records] == [0] * 6


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('strategy = ["pipe"\n', "malformed TOML"),
        ('stratgy = ["pipe"]\n', "unknown key 'stratgy'"),
        ("group = 3\n", "array of tables"),
        ('workload = "video:1MiB"\nrepeat = "many"\n', "repeat must be a whole number"),
        ('workload = "video:1MiB"\nstrategy = ["pipe:colour=red"]\n', "no option 'colour'"),
    ],
)
def test_bad_matrix_files_are_one_line(
    tmp_path: Path, content: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    matrix = tmp_path / "bad.toml"
    matrix.write_text(content)
    assert main(["run", "--matrix", str(matrix), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def _children_of(pid: int) -> list[int]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by its new parent) is not alive."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_kill_9_loses_nothing_and_resume_runs_only_what_is_missing(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "out"
    argv = [
        *CLI, "run", "--strategy", "pipe,cat", "--workload", "video:16MiB",
        "--sink", "tcp", "--consumer-rate", "40MB/s", "--repeat", "3", "--warmup", "1", "--out", str(out),
    ]  # fmt: skip
    harness = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.monotonic() + 60
    results = None
    while time.monotonic() < deadline:
        found = list(out.glob("*/results.jsonl"))
        if found and found[0].read_text().count("\n") >= 3:
            results = found[0]
            break
        time.sleep(0.05)
    assert results is not None, "the run never wrote three records"
    # Kill it while a run is under way: between two runs (a record being written) it has no children,
    # and the check below would prove nothing (it once sampled such a moment under load).
    children: list[int] = []
    while not children and time.monotonic() < deadline:
        children = _children_of(harness.pid)
        time.sleep(0.01)
    harness.send_signal(signal.SIGKILL)
    harness.communicate()
    # The worker and consumer die with the harness (PR_SET_PDEATHSIG), no orphans.
    time.sleep(0.5)
    assert children and not [c for c in children if _alive(c)]
    kept = records_of(results.parent)
    assert len(kept) >= 3
    with open(results, "a") as f:
        f.write('{"half": "a record the kill cut in two')  # as if killed mid-write
    assert main(["run", "--resume", str(results.parent)]) == 0
    records = records_of(results.parent)
    keys = [(r["cell_id"], r["repeat"], r["warmup"]) for r in records]
    assert len(keys) == len(set(keys)) == 2 * (3 + 1)  # every (cell, repeat) exactly once
    assert all(r["verified"] for r in records)
    assert records[: len(kept)] == kept  # nothing measured before the kill was touched
    assert "cut in two" in (results.parent / "results.jsonl.torn").read_text()


def test_resume_refuses_matrix_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", str(tmp_path), "--sink", "null"]) == 2
    assert "--resume runs the stored matrix" in capsys.readouterr().err


def _run(tmp_path: Path, *argv: str, status: int = 0) -> list[dict[str, Any]]:
    out = tmp_path / "out"
    assert main(["run", "--repeat", "1", "--warmup", "0", "--out", str(out), *argv]) == status
    return records_of(_only_run_dir(out))


def test_memory_cap_turns_a_blowup_into_an_oom_record(tmp_path: Path) -> None:
    records = _run(
        tmp_path, "--strategy", "whole-file,pipe", "--workload", "video:64MiB", "--sink", "null",
        "--memory-limit", "48MiB", status=4,
    )  # fmt: skip
    by = {r["strategy"]: r for r in records}
    assert by["whole-file"]["outcome"] == "oom", by["whole-file"]["error"]
    assert "memory cap of 48MiB" in by["whole-file"]["error"]
    assert by["pipe"]["outcome"] == "ok" and by["pipe"]["verified"]
    assert by["pipe"]["memory_limit_bytes"] == 48 * MiB
    assert by["pipe"]["memory_limit_method"] in ("cgroup v1", "cgroup v2", "watchdog")


def test_watchdog_caps_where_no_cgroup_can_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "CGROUP_ROOT", tmp_path / "no-cgroups-here")
    records = _run(
        tmp_path, "--strategy", "whole-file", "--workload", "video:128MiB", "--sink", "null",
        "--memory-limit", "64MiB", status=4,
    )  # fmt: skip
    (r,) = records
    assert r["memory_limit_method"] == "watchdog"
    assert r["outcome"] == "oom" and "watchdog" in r["error"]


def test_cache_states_are_measured(tmp_path: Path) -> None:
    records = _run(tmp_path, "--strategy", "pipe", "--workload", "video:32MiB", "--sink", "null",
                   "--cache", "warm,cold")  # fmt: skip
    by = {r["cache"]: r for r in records}
    assert by["warm"]["resident_bytes_before"] == 32 * MiB and by["warm"]["cache_state_ok"]
    assert by["cold"]["resident_bytes_before"] <= 0.02 * 32 * MiB and by["cold"]["cache_state_ok"]
    assert by["cold"]["resident_method"] in ("cachestat", "mincore")


def test_records_carry_faults_io_and_context_switches(tmp_path: Path) -> None:
    (r,) = _run(tmp_path, "--strategy", "whole-file", "--workload", "video:16MiB", "--sink", "null")
    # whole-file touches 16 MiB of fresh memory: thousands of minor faults.
    assert r["strategy_minor_faults"] > 16 * MiB / 4096 / 2
    assert r["strategy_voluntary_ctx_switches"] >= 0
    assert set(r["io"]) >= {"rchar", "wchar", "read_bytes", "syscr", "syscw"}
    assert len(r["rss_timeline"]) >= 1


def test_calibrate_measures_every_limit(tmp_path: Path) -> None:
    results = measure(tmp_path, size_bytes=16 * MiB, runs=1)
    for key in ("warm_read_bps", "cold_read_bps", "page_cache_write_bps", "memcpy_bps", "loopback_tcp_bps"):
        assert results[key] > 1e7, key  # > 10 MB/s: a real figure, not a placeholder
    assert len(results["cold_read_disk_bytes"]) == 1
