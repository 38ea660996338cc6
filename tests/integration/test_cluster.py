"""Runs on a Dask LocalCluster of 2 workers on loopback: tagged records, a killed worker, a killed harness.

Each test runs the CLI as its own process (its cluster's processes are then that process's
children) with a marker in the environment, which every process it starts inherits: a live
process carrying the marker after the harness is gone is a leak.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CLI, records_of

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

MARK = "STREAMBENCH_TEST_MARK"
# 8 MiB at 4 MB/s: about 2 s a run, long enough to kill something in the middle of one.
SLOW = ["--workload", "video:8MiB", "--sink", "null", "--consumer-rate", "4MB/s"]


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("PPid:")))


def _marked(mark: str) -> list[tuple[int, str]]:
    """Live (not zombie) processes whose environment carries ``mark``: (pid, "name: command line").

    The name (``/proc/PID/comm``) tells a forked measured worker (``sb-worker``) from the forkserver
    that forked it, whose command line it keeps."""
    needle = f"{MARK}={mark}".encode()
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry.name}/status") as f:
                if any(line.startswith("State:\tZ") for line in f):
                    continue
            name = Path(f"/proc/{entry.name}/comm").read_text().strip()
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
            out.append((int(entry.name), f"{name}: {cmdline}"))
        except OSError:
            continue  # it ended while we looked
    return out


def _none_left(mark: str, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked(mark) == [], "processes outlived the harness"


def _spawn(cli_args: list[str], data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``streambench CLI_ARGS`` as its own process, its environment marked."""
    mark = uuid.uuid4().hex
    env = dict(os.environ, STREAMBENCH_DATA_DIR=str(data_dir), **{MARK: mark})
    argv = [*CLI, *cli_args]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, mark


def _start(args: list[str], out: Path, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    return _spawn(["run", *args, "--out", str(out), "--yes", "--pin", "none"], data_dir)


def _start_slow_matrix(out: Path, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """2 cells x 2 runs of about 2 s each on a LocalCluster of 2 (one bench slot: one at a time)."""
    args = ["--strategy", "pipe,readinto", *SLOW, "--repeat", "2", "--warmup", "0", "--cluster", "local:2"]
    return _start(args, out, data_dir)


def _run(args: list[str], out: Path, data_dir: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    proc, mark = _start(args, out, data_dir)
    stdout, stderr = proc.communicate(timeout=300)
    _none_left(mark)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), mark


def _run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def _wait_for(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_small_matrix_on_two_workers_is_verified_and_tagged(tmp_path: Path, data_dir: Path) -> None:
    base = ["--strategy", "pipe,readinto", "--workload", "video:4MiB", "--sink", "null,tcp", "--repeat", "2",
            "--warmup", "1"]  # fmt: skip
    shared, _ = _run([*base, "--cluster", "local:2", "--share-machines"], tmp_path / "shared", data_dir)
    assert shared.returncode == 0, shared.stderr[-2000:]
    assert shared.stdout.strip().splitlines()[-1].endswith("report.html")
    run_dir = _run_dir(tmp_path / "shared")
    records = records_of(run_dir)
    assert len(records) == 4 * 3
    assert all(r["outcome"] == "ok" and r["verified"] for r in records), [r["verify_detail"] for r in records]
    workers = {r["cluster"].get("dask_worker") for r in records}
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    for r in records:
        machine = r["machine"]
        assert machine["machine_id"] and machine["hostname"] and machine["cpu_count"] >= 1
        assert machine["streambench"] and machine["python"] and machine["kernel"]
    meta = json.loads((run_dir / "run.json").read_text())
    (machine,) = meta["machines"]  # both workers are on this one machine
    assert sorted(machine["workers"]) == sorted(workers)
    assert meta["cluster"][0]["share_machines"] is True and meta["cluster"][0]["cluster"] == "local:2"
    # Without --share-machines, the two workers of this one machine share one bench slot.
    slotted, _ = _run([*base, "--cluster", "local:2"], tmp_path / "slotted", data_dir)
    assert slotted.returncode == 0, slotted.stderr[-2000:]
    slotted_records = records_of(_run_dir(tmp_path / "slotted"))
    assert len({r["cluster"].get("dask_worker") for r in slotted_records}) == 1
    assert all(r["verified"] for r in slotted_records)
    # Records identical in shape to a local run's: same keys, same types, worker None.
    local, _ = _run([*base, "--strategy", "pipe"], tmp_path / "local", data_dir)
    assert local.returncode == 0, local.stderr[-2000:]
    local_record = records_of(_run_dir(tmp_path / "local"))[0]
    cluster_record = next(r for r in records if r["cell_id"] == local_record["cell_id"])
    assert local_record.keys() == cluster_record.keys()
    for key, value in local_record.items():
        if value is not None and cluster_record[key] is not None:
            assert type(value) is type(cluster_record[key]), key
    assert local_record["cluster"] == {} and local_record["machine"] == cluster_record["machine"]


def test_a_worker_killed_mid_run_crashes_that_run_only(tmp_path: Path, data_dir: Path) -> None:
    proc, mark = _start_slow_matrix(tmp_path, data_dir)
    try:
        # The measured worker of the first run, and the Dask worker process that started it.
        measured = _wait_for(
            lambda: next((pid for pid, cmd in _marked(mark) if cmd.startswith("sb-worker:")), None),
            60,
            "a measured run",
        )
        # Its parent is the Dask worker's forkserver (harness.common.forkserver), the Dask worker's child.
        dask_worker = _parent(_parent(measured))
        os.kill(dask_worker, signal.SIGKILL)
        # No orphan: the measured process dies with its worker (parent-death signal).
        _wait_for(lambda: measured not in {pid for pid, _ in _marked(mark)}, 3, "the orphan to die")
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    _none_left(mark)
    assert proc.returncode == 4, stderr[-2000:]  # a run crashed: "runs failed"
    records = records_of(_run_dir(tmp_path))
    assert len(records) == 4  # every planned run has its one record: none re-run, none lost
    crashed = [r for r in records if r["outcome"] == "crashed"]
    assert len(crashed) == 1, [(r["outcome"], r["error"]) for r in records]
    assert "died mid-run (KilledWorker, no retry)" in crashed[0]["error"]
    assert crashed[0]["cluster"]["dask_worker"] and crashed[0]["machine"]["machine_id"]
    assert all(r["outcome"] == "ok" and r["verified"] for r in records if r is not crashed[0])
    assert len({(r["cell_id"], r["repeat"]) for r in records}) == 4


def test_the_harness_killed_then_resumed(tmp_path: Path, data_dir: Path) -> None:
    proc, mark = _start_slow_matrix(tmp_path, data_dir)
    try:
        results = _wait_for(lambda: next(tmp_path.glob("*/results.jsonl"), None), 60, "the run folder")
        _wait_for(lambda: results.read_text().count("\n") >= 1, 60, "a first record")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Nothing of the run is left on any worker: the cluster and the run in flight died with it.
    _none_left(mark)
    run_dir = results.parent
    before = records_of(run_dir)
    assert 1 <= len(before) < 4
    resumed, _ = _run_resume(run_dir, data_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    records = records_of(run_dir)
    keys = [(r["cell_id"], r["repeat"]) for r in records]
    assert len(records) == 4 and len(set(keys)) == 4  # only what was missing ran
    assert records[: len(before)] == before  # nothing measured was lost or rewritten
    assert all(r["outcome"] == "ok" and r["verified"] for r in records)
    # the killed harness's Dask folder went with the next local cluster
    assert not [p for p in Path(tempfile.gettempdir()).glob(f"streambench-dask-{proc.pid}-*")]


def _run_resume(run_dir: Path, data_dir: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    proc, mark = _spawn(["run", "--resume", str(run_dir), "--cluster", "local:2"], data_dir)
    stdout, stderr = proc.communicate(timeout=300)
    _none_left(mark)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), mark


def test_bad_cluster_input_is_one_line(tmp_path: Path, capsys: Any) -> None:
    from streambench.harness.cli import main

    for argv in (
        ["run", "--cluster", "local:0", "--dry-run"],
        ["run", "--cluster", "remote:2", "--dry-run"],
        ["run", "--scheduler", "http://x:1", "--dry-run"],
        ["run", "--cluster", "local:2", "--scheduler", "tcp://127.0.0.1:8786", "--dry-run"],
        ["run", "--share-machines", "--dry-run"],
        # nobody listens there: said in one line once the client gives up (5 s)
        ["run", "--scheduler", "tcp://127.0.0.1:1", "--strategy", "pipe", "--workload", "video:1MiB",
         "--sink", "null", "--repeat", "1", "--warmup", "0"],
    ):  # fmt: skip
        assert main([*argv, "--out", str(tmp_path)]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        # one error line, last, no traceback (a real run says its plan before it connects)
        assert err[-1].startswith("streambench: error:") and not any("Traceback" in line for line in err)
        assert sum("error" in line for line in err) == 1, (argv, err)


def test_a_scheduler_of_its_own_and_the_client_gone(tmp_path: Path, data_dir: Path) -> None:
    """--scheduler: workers started apart from the harness. A finished run is tagged with its worker;
    when the harness is killed mid-run, the worker kills its measured run and stays up."""
    cluster_mark = uuid.uuid4().hex
    # The worker's own cache: it makes the workloads itself and checks them against the client's manifest.
    worker_data = tmp_path / "worker-data"
    env = dict(os.environ, STREAMBENCH_DATA_DIR=str(worker_data), **{MARK: cluster_mark})
    env["DASK_TEMPORARY_DIRECTORY"] = str(tmp_path / "dask-tmp")  # their scheduler and worker folders
    scheduler_file = tmp_path / "scheduler.json"
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        _wait_for(lambda: scheduler_file.is_file() and scheduler_file.stat().st_size, 30, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--resources", "bench=1", "--no-dashboard", "--host", "127.0.0.1"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        done, _ = _run(
            ["--strategy", "pipe", "--workload", "video:4MiB", "--sink", "null", "--repeat", "1", "--warmup",
             "0", "--scheduler", address],
            tmp_path / "done", data_dir,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        (record,) = records_of(_run_dir(tmp_path / "done"))
        assert record["verified"] and record["cluster"]["dask_worker"].startswith("tcp://127.0.0.1:")
        made = list((worker_data / "workloads").glob("video-4194304B-seed0-*.manifest.json"))
        assert len(made) == 1, "the worker generated the workload in its own cache, never shipped"
        # 8 MiB at 1 MB/s: 8 s a run, so a stop within 3 s of the kill is the worker's doing.
        slow = ["--workload", "video:8MiB", "--sink", "null", "--consumer-rate", "1MB/s"]
        proc, mark = _start(["--strategy", "pipe", *slow, "--repeat", "3", "--warmup", "0", "--scheduler",
                             address], tmp_path / "killed", data_dir)  # fmt: skip
        try:
            # The measured run is the worker's child (the cluster's mark), not the harness's.
            measured = _wait_for(
                lambda: next(
                    (pid for pid, cmd in _marked(cluster_mark) if cmd.startswith("sb-worker:")),
                    None,
                ),
                60,
                "a measured run on the worker",
            )
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        _none_left(mark)
        _wait_for(
            lambda: measured not in {pid for pid, _ in _marked(cluster_mark)},
            10,
            "the worker to stop the run",
        )
        assert all(p.poll() is None for p in started), "the scheduler and the worker stay up"
    finally:
        for p in reversed(started):
            p.kill()
            p.wait()
    _none_left(cluster_mark)
