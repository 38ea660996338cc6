"""Failing sources and sinks mid-run: outcome `error` with a clear message, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.common import forkserver
from streambench.harness.machine.calibrate import ensure_calibrated
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec
from tests.helpers import records_of, truncated_after

MiB = 1 << 20


def _resources() -> tuple[int, int, list[str]]:
    """Open fds, live threads and child processes of this (the harness) process.

    A forkserver left by an earlier test's runs (a pytest plugin's, a bench command's) is closed
    first: a session closes its own when it ends, so it is never part of the after."""
    forkserver.close()
    children: list[str] = []
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children") as f:
            children += f.read().split()
    return len(os.listdir("/proc/self/fd")), threading.active_count(), children


def _run(tmp_path: Path, *argv: str) -> list[dict[str, Any]]:
    out = tmp_path / "results"
    # Every run here fails on purpose: the records say how, and the exit status says that runs failed.
    assert main(["run", "--no-plugins", "--repeat", "1", "--warmup", "0", "--out", str(out), *argv]) == 4
    (run_dir,) = list(out.iterdir())
    return records_of(run_dir)


def test_peer_hangs_up_mid_run(tmp_path: Path) -> None:
    before = _resources()
    records = _run(
        tmp_path, "--strategy",
        "whole-file,pipe,pause-drain,readinto,async,async:loop=uvloop,mmap,sendfile,threaded,unbounded,cat",
        "--workload", "video:8MiB", "--sink", "null,tcp", "--consumer-close-after", "1MiB",
    )  # fmt: skip
    assert len(records) == 22
    for r in records:
        assert r["outcome"] == "error", (r["strategy"], r["sink"], r["outcome"], r["error"])
        assert r["verified"] is False
        message = str(r["error"])
        assert any(
            word in message
            for word in (
                "Broken pipe",
                "BrokenPipeError",
                "Connection reset",
                "Connection lost",
                "cat exited -13",
            )
        ), (r["strategy"], message)
    assert _resources() == before


def test_disk_full_on_the_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs to fill needs root (CI and dev machines here are root)")
    data_dir = tmp_path / "data"
    dest = data_dir / "dest"
    dest.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(dest)], check=True)
    try:
        before = _resources()
        records = _run(
            tmp_path, "--data-dir", str(data_dir), "--strategy", "pipe,readinto,sendfile,threaded",
            "--workload", "video:4MiB", "--sink", "file", "--dest", "new",
        )  # fmt: skip
        assert _resources() == before
    finally:
        subprocess.run(["umount", str(dest)], check=True)
    for r in records:
        assert r["outcome"] == "error" and "No space left on device" in str(r["error"]), r["error"]


@pytest.mark.parametrize(
    ("strategy", "outcome", "message"),
    [
        ("pipe", "error", "the source changed size during the run"),
        ("sendfile", "error", "file truncated?"),
        # write() from a mapped page past the new end of file: the kernel's copy
        # faults and write fails with EFAULT (Python code touching it would get SIGBUS).
        ("mmap", "error", "Bad address"),
    ],
)
def test_source_truncated_mid_run(
    strategy: str, outcome: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("STREAMBENCH_DATA_DIR", str(data_dir))
    workload = cache.ensure(WorkloadSpec("video", 16 * MiB, seed=5), data_dir)
    ensure_calibrated(data_dir)  # before the timer: a first run would calibrate the machine first

    # 1 s in, the run (4 MB/s consumer, 16 MiB) is well under way.
    with truncated_after(workload.path, 1.0, 1 * MiB):
        records = _run(
            tmp_path, "--strategy", strategy, "--workload", "video:16MiB", "--seed", "5",
            "--sink", "null", "--consumer-rate", "4MB/s",
        )  # fmt: skip
    (r,) = records
    assert r["outcome"] == outcome and message in str(r["error"]), (r["outcome"], r["error"])
    assert r["verified"] is False
