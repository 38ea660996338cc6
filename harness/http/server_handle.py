"""The parent's handle of an HTTP server process: start it on a loopback socket, stop it, read its report."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Protocol

from streambench.harness.common.forkserver import SERVER_PRELOADED, ForkedChild, forkserver
from streambench.harness.common.lifeline import PARENT_PID_ENV
from streambench.harness.common.paths import PACKAGE_ROOT
from streambench.harness.common.scratch import sweep_dead
from streambench.harness.http.server_child import LOOPBACK, UPLOAD_DIR_PREFIX, upload_dir_prefix
from streambench.harness.http.server_config import ServerConfig

SERVER_MODULE = "streambench.harness.http.server_child"


def make_listener(backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 and a free port, for the server to inherit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, 0))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


class ServerHandle(Protocol):
    """A server under test as the HTTP and browser executors use it: ours (:class:`ServerProcess`),
    or a user's (:mod:`harness.http.endpoint_handle`). A runtime's ``start_server`` makes one."""

    port: int

    @property
    def pid(self) -> int | None: ...

    @property
    def returncode(self) -> int | None: ...

    def alive(self) -> bool: ...

    def target(self, default: str) -> str: ...

    def stats(self, timeout_s: float = 5.0) -> dict[str, Any]: ...

    def stop(self, timeout_s: float = 15.0) -> dict[str, Any]: ...

    def kill(self) -> None: ...

    def close(self) -> None: ...

    def stderr_tail(self, n_bytes: int = 4000) -> str: ...


def _fork_server(
    argv: list[str], fds: tuple[int, ...], stderr: IO[bytes], env: dict[str, str]
) -> ForkedChild:
    """aiohttp's server forked by the servers' forkserver: the null device for stdin and stdout,
    ``stderr`` for stderr, ``fds`` at their numbers here."""
    server = forkserver(SERVER_PRELOADED)
    return ForkedChild(
        server, server.spawn_quiet(SERVER_MODULE, argv, fds, stderr.fileno(), env, cwd=str(PACKAGE_ROOT))
    )


class ServerProcess:
    """A running server process: its port, ``stats()``, and ``stop()`` -> its report.

    Start with ``ServerProcess.start(config)``; use as a context manager so the
    process is never left behind (``__exit__`` stops it, or kills it).
    """

    def __init__(
        self, proc: subprocess.Popen[bytes] | ForkedChild, port: int, result_r: int, control_w: int,
        stderr: IO[bytes],
    ) -> None:  # fmt: skip
        self.proc = proc
        self.port = port
        self._result_r = result_r
        self._control_w = control_w
        self._stderr = stderr
        self._pending = b""
        self.ready: dict[str, Any] = {}
        self.report: dict[str, Any] | None = None

    @classmethod
    def start(
        cls, config: ServerConfig, *, ready_timeout_s: float = 20.0, program: list[str] | None = None,
        cgroup_procs: Path | None = None, listens_on_fd: bool = True, forked: bool = False,
    ) -> ServerProcess:  # fmt: skip
        """Start the server: ``program`` (a runtime's server speaking this protocol), else aiohttp's;
        ready, it is put under the run's cap (``cgroup_procs``) before the first request.
        ``forked``: aiohttp's server, forked already imported by the servers' forkserver
        (:mod:`harness.common.forkserver`) instead of started as a new interpreter.

        The server inherits the listening socket, unless its runtime cannot listen on an inherited
        one (``listens_on_fd=False``, Bun's ``node:http``): then it binds 127.0.0.1 port 0 itself and
        its ready line says the port (no window in which another process could take it)."""
        # Upload folders of servers that died with a killed harness (kill -9 skips every cleanup).
        sweep_dead(Path(tempfile.gettempdir()), UPLOAD_DIR_PREFIX)
        listener = make_listener()
        port = int(listener.getsockname()[1])
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        control_r, control_w = os.pipe2(os.O_CLOEXEC)
        listen = ("--listen-fd", str(listener.fileno())) if listens_on_fd else ("--port", "0")
        args = [*listen, "--result-fd", str(result_w), "--control-fd", str(control_r), *config.to_argv()]
        argv = [*(program or [sys.executable, "-m", SERVER_MODULE]), *args]
        env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid())})
        # Kept open for the server's life (stderr_tail); closed by __exit__ or kill().
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        passed = (listener.fileno(), result_w, control_r)
        proc: subprocess.Popen[bytes] | ForkedChild
        try:
            if forked:
                proc = _fork_server(args, passed, stderr, env)
            else:
                proc = subprocess.Popen(argv, pass_fds=passed, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                                        cwd=PACKAGE_ROOT)  # fmt: skip
        except BaseException:
            for fd in (result_r, result_w, control_r, control_w):
                os.close(fd)
            stderr.close()
            raise
        finally:
            listener.close()  # the server owns the only copy now
        os.close(result_w)
        os.close(control_r)
        server = cls(proc, port, result_r, control_w, stderr)
        try:
            line = server._read_line(ready_timeout_s)
            if line is None or line.get("event") != "ready":
                raise RuntimeError(f"http server did not start: {line}; stderr: {server.stderr_tail()}")
            if cgroup_procs is not None:
                # Under the cap before the first request: a server that holds whole files per
                # viewer is killed and recorded, not a dead machine.
                cgroup_procs.write_text(str(server.pid))
        except BaseException:
            server.close()
            raise
        server.ready = line
        if not listens_on_fd:
            server.port = int(line["port"])
        return server

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def target(self, default: str) -> str:
        """What a viewer asks for: the route's own request (``/file?strategy=NAME``)."""
        return default

    def _read_line(self, timeout_s: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._result_r], [], [], left)[0]:
                raise TimeoutError(f"no word from the http server in {timeout_s} s")
            data = os.read(self._result_r, 65536)
            if not data:
                return None
            self._pending += data
        line, _, self._pending = self._pending.partition(b"\n")
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def stats(self, timeout_s: float = 5.0) -> dict[str, Any]:
        from streambench.harness.http.clients_handle import fetch

        status, _, body = fetch(self.port, "/stats", timeout_s=timeout_s)
        if status != 200:
            raise RuntimeError(f"/stats answered {status}")
        parsed: dict[str, Any] = json.loads(body)
        return parsed

    def stop(self, timeout_s: float = 15.0, *, signal_stop: bool = False) -> dict[str, Any]:
        """Stop the server (EOF on its control pipe, or SIGTERM) and return its report."""
        if self.report is not None:
            return self.report
        if signal_stop:
            self.proc.send_signal(signal.SIGTERM)
        elif self._control_w >= 0:
            os.close(self._control_w)
            self._control_w = -1
        try:
            line = self._read_line(timeout_s)
            self.proc.wait(timeout=timeout_s)
        except BaseException:
            self.kill()
            raise
        finally:
            self._close_fds()
        if line is None or line.get("event") != "report":
            raise RuntimeError(f"http server gave no report: {line}; stderr: {self.stderr_tail()}")
        self.report = line
        return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_fds()

    def close(self) -> None:
        """Kill it if it lives, and release everything, its stderr file too (read ``stderr_tail`` first).

        Every run's server is closed: an open stderr file per run would run a long matrix out of fds."""
        self.kill()
        self._stderr.close()
        # What a server killed mid-upload (at the cap, by a crash) could not remove itself.
        for leftover in Path(tempfile.gettempdir()).glob(upload_dir_prefix(self.proc.pid) + "*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)

    def _close_fds(self) -> None:
        for name in ("_result_r", "_control_w"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)

    def stderr_tail(self, n_bytes: int = 4000) -> str:
        if self._stderr.closed:
            return ""
        self._stderr.seek(max(0, self._stderr.seek(0, os.SEEK_END) - n_bytes))
        return self._stderr.read().decode(errors="replace").strip()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.proc.poll() is None and self.report is None:
                self.stop()
        finally:
            self.close()
