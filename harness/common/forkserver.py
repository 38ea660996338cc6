"""Our own Python children started by ``fork`` from a process that has already imported them.

Every run starts a fresh measured worker (``python -m streambench.harness.worker``) and, for the
``null`` and ``tcp`` sinks, a fresh consumer. A new interpreter costs ~60-90 ms here before it
does anything (startup, then ~35 ms of imports and ~10 ms resolving the strategy), paid per run
on the run's own clock and, in the test suite, ~1,200 times over. The forkserver pays it once a
session: it imports the modules it is told, then forks one child per request. A child is still
a process of its own made for one run (its own memory from the fork on, its own process group
when asked, its fds exactly the ones passed), so nothing of one run reaches the next.

What differs from a fresh interpreter, and why it is safe:

- the child is the forkserver's, not the harness's: the forkserver reaps it only when the harness
  asks (:meth:`Forkserver.reap`, ``wait4``'s status and rusage), so its pid cannot be reused
  before that, and the harness signals it through a pidfd;
- its rusage counts from the fork: the interpreter's start-up and imports are not in a record's
  ``user_s``/``sys_s`` any more (the measured section's own figures never held them);
- its resident memory is not a fresh interpreter's: pages it shares with the forkserver count in
  its RSS, and libraries' file-backed pages it never touches do not. A ``cat`` or ``pipe`` worker's
  baseline here: anon 8.4-8.7 -> 9.4-9.7 MiB, file-backed 9.5-9.7 -> 4.4-5.1 MiB. Growth (peak -
  baseline), which the claims and the doctor read, is unchanged; absolute peaks compared with a
  baseline saved before the forkserver differ by those amounts. So the forkserver imports only what
  every worker imports anyway (not every strategy's module: that cost 4.6 MiB of anon);
- the forkserver dies with the harness (parent-death signal), and each child with the
  forkserver, as workers died with the harness before.

Profiled passes (py-spy, memray) and other runtimes' workers start as before, from argv.

The HTTP and browser runs' aiohttp server is forked the same way by a second forkserver, which
has imported the server (:data:`SERVER_PRELOADED`): a run's fixed cost 431-464 -> 55-66 ms for
``http`` and 766-816 -> 263-278 ms for ``browser`` (16 MiB mp4, pipe and sendfile, 4 runs a cell,
two rounds each way). The server's baseline RSS: 38.7 -> 30.6 MiB (file-backed 13.8 -> 5.8).

The protocol: one ``SOCK_SEQPACKET`` message per request and per reply, JSON, fds passed with
``SCM_RIGHTS``. Requests are served one at a time, in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import importlib
import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from streambench.harness.common.lifeline import PARENT_PID_ENV, die_with_parent, pdeathsig_preexec

MODULE = "streambench.harness.common.forkserver"
_PR_SET_NAME = 15
MAX_MESSAGE_BYTES = 1 << 20
MAX_FDS = 16


@dataclass(frozen=True)
class Rusage:
    """``wait4``'s rusage of a forked child, as the forkserver read it (the attributes a caller reads)."""

    ru_utime: float
    ru_stime: float
    ru_maxrss: int
    ru_minflt: int
    ru_majflt: int
    ru_inblock: int
    ru_oublock: int
    ru_nvcsw: int
    ru_nivcsw: int


# How the harness reaps a forked child: its wait status and rusage (:meth:`Forkserver.reap`).
Reap = Callable[[int], tuple[int, Rusage]]


class Forkserver:
    """The harness's side: one forkserver process, its socket, a lock so requests never interleave."""

    def __init__(self, modules: Sequence[str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid())})
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", MODULE, str(theirs.fileno()), *modules],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        self._lock = threading.Lock()
        self.python_env = _python_env(os.environ)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def spawn(
        self, module: str, argv: Sequence[str], fds: Mapping[int, int], env: Mapping[str, str], *,
        new_group: bool = False, cwd: str | None = None,
    ) -> int:  # fmt: skip
        """Fork a child that runs ``python -m module *argv`` with ``fds`` (its fd -> ours) and ``env``
        (in ``cwd``, else the forkserver's folder, which is ours).

        Our fds are sent, not given away: the caller still closes its own copies."""
        targets = list(fds)
        request = {"op": "spawn", "module": module, "argv": list(argv), "env": dict(env),
                   "targets": targets, "new_group": new_group, "cwd": cwd}  # fmt: skip
        reply = self._ask(request, [fds[t] for t in targets])
        if "pid" not in reply:
            raise RuntimeError(f"the forkserver could not start {module}: {reply.get('error')}")
        return int(reply["pid"])

    def spawn_quiet(
        self, module: str, argv: Sequence[str], fds: Sequence[int], stderr_fd: int, env: Mapping[str, str],
        *, new_group: bool = False, cwd: str | None = None,
    ) -> int:  # fmt: skip
        """:meth:`spawn` with stdin and stdout the null device, stderr ``stderr_fd`` and ``fds`` at the
        numbers they have here: a worker's or a server's plumbing."""
        # Read and write, as subprocess's DEVNULL: a child that prints must not fail on its stdout.
        with open(os.devnull, "r+b") as devnull:
            std = {0: devnull.fileno(), 1: devnull.fileno(), 2: stderr_fd}
            return self.spawn(
                module, argv, {**std, **{fd: fd for fd in fds}}, env, new_group=new_group, cwd=cwd
            )

    def reap(self, pid: int) -> tuple[int, Rusage]:
        """Wait for a child to end (the forkserver's ``wait4``): its wait status and its rusage."""
        reply = self._ask({"op": "reap", "pid": pid}, [])
        if "status" not in reply:
            raise RuntimeError(f"the forkserver could not reap {pid}: {reply.get('error')}")
        return int(reply["status"]), Rusage(**reply["rusage"])

    def _ask(self, request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        with self._lock:
            socket.send_fds(self._sock, [json.dumps(request).encode()], fds)
            reply = self._sock.recv(MAX_MESSAGE_BYTES)
        if not reply:
            raise RuntimeError("the forkserver exited")
        answer: dict[str, Any] = json.loads(reply)
        return answer

    def close(self) -> None:
        """End the forkserver: it sees EOF and exits (killed if it does not within a second)."""
        self._sock.close()
        try:
            self._proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class ForkedChild:
    """A forked child as ``subprocess.Popen`` is used for a consumer: pid, stdout, poll, wait, kill,
    communicate. Signalled through a pidfd (its pid is not reused before the forkserver reaps it)."""

    def __init__(self, server: Forkserver, pid: int, stdout_fd: int | None = None) -> None:
        self._server = server
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        # Closed by the caller, as Popen's; None when its stdout is not ours to read.
        self.stdout = None if stdout_fd is None else open(stdout_fd, "rb", buffering=0)  # noqa: SIM115
        self.returncode: int | None = None

    def _ended(self, timeout_s: float | None) -> bool:
        ready, _, _ = select.select([self._pidfd], [], [], timeout_s)
        return bool(ready)

    def _reap(self) -> int:
        status, _ = self._server.reap(self.pid)
        os.close(self._pidfd)
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None and self._ended(0):
            self._reap()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        if not self._ended(timeout):
            raise subprocess.TimeoutExpired(f"forked child {self.pid}", timeout or 0.0)
        return self._reap()

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[bytes, None]:
        """Everything on its stdout until EOF, then its end: within ``timeout`` in all."""
        assert self.stdout is not None, "communicate() reads a child's stdout"
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks = []
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.stdout], [], [], left)
            if not ready:
                raise subprocess.TimeoutExpired(f"forked child {self.pid}", timeout or 0.0)
            chunk = self.stdout.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return b"".join(chunks), None


def spawn_with_stdout(
    module: str, argv: Sequence[str], fds: Sequence[int], env: Mapping[str, str]
) -> ForkedChild:
    """``python -m module *argv`` forked by this process's forkserver, ``fds`` inherited as they are
    numbered here and its stdout a pipe to us (the forkserver's stdin, a null device, for stdin)."""
    server = forkserver()
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        pid = server.spawn(module, argv, {1: write_end, **{fd: fd for fd in fds}}, env)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return ForkedChild(server, pid, read_end)


# (our pid, what it preloads) -> the forkserver: a forked harness (a test's) starts its own.
_SERVERS: dict[tuple[int, tuple[str, ...]], Forkserver] = {}
_SERVERS_LOCK = threading.Lock()
# What a run's children import: the worker (not the strategies: each imports its own) and the consumer.
PRELOADED = ("streambench.harness.worker.__main__", "streambench.harness.sinks.consumer_child")
# The HTTP and browser runs' aiohttp server, in a forkserver of its own: aiohttp's ~0.3-0.5 s of
# imports a run saved, and workers never share (nor count in their RSS) its ~20 MiB of modules.
SERVER_PRELOADED = ("streambench.harness.http.server_child",)


def forkserver(modules: tuple[str, ...] = PRELOADED) -> Forkserver:
    """This process's forkserver preloading ``modules`` (started now if there is none alive);
    :func:`close` ends them all."""
    with _SERVERS_LOCK:
        key = (os.getpid(), modules)
        server = _SERVERS.get(key)
        # A forked child is what a new interpreter started now would be only while the variables
        # that shape an interpreter's start (PYTHONPATH: where a plugin is found) are the same.
        if server is not None and (not server.alive() or server.python_env != _python_env(os.environ)):
            server.close()
            server = None
        if server is None:
            server = _SERVERS[key] = Forkserver(modules)
        return server


def _python_env(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key.startswith("PYTHON")}


def close() -> None:
    """End this process's forkservers (their children die with them)."""
    with _SERVERS_LOCK:
        mine = [key for key in _SERVERS if key[0] == os.getpid()]
        servers = [_SERVERS.pop(key) for key in mine]
    for server in servers:
        server.close()


# --- the forkserver process ---------------------------------------------------------------------


def serve(sock: socket.socket, modules: Sequence[str]) -> None:
    # Ctrl-C in a terminal reaches the whole foreground group; the harness answers it (and this
    # process dies with the harness). Its children get Python's usual handler back.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in modules:
        importlib.import_module(name)
    # Objects made so far stay out of the collector's way: a child's collections do not touch
    # (and so copy) the pages that hold them.
    gc.freeze()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE_BYTES, MAX_FDS)
        except OSError:
            return
        if not message:
            return  # the harness closed its end
        request = json.loads(message)
        try:
            if request["op"] == "spawn":
                reply: dict[str, Any] = {"pid": _spawn(sock, request, fds)}
            else:
                _, status, usage = os.wait4(int(request["pid"]), 0)
                reply = {"status": status, "rusage": {f.name: getattr(usage, f.name) for f in fields(Rusage)}}
        except OSError as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(json.dumps(reply).encode())


def _spawn(sock: socket.socket, request: dict[str, Any], fds: list[int]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        sock.close()
        code = _child(request, fds)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    raise AssertionError("unreachable")


def _child(request: dict[str, Any], fds: list[int]) -> int:
    """In the forked child: become ``python -m MODULE ARGV...`` with exactly the fds asked for."""
    pdeathsig_preexec()  # it dies with the forkserver, from the start
    if request["new_group"]:
        os.setpgid(0, 0)
    # Its name in ps and top (its command line stays the forkserver's): sb-worker, sb-consumer, sb-server.
    _set_name("sb-" + request["module"].rsplit(".", 1)[-1].removesuffix("_child"))
    targets = [int(t) for t in request["targets"]]
    # Each received fd to its place: first above every target, so no dup2 lands on one still needed.
    high = max([*targets, *fds, 2]) + 1
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, high) for fd in fds]
    for target, fd in zip(targets, moved, strict=True):
        os.dup2(fd, target, inheritable=True)
    keep = {0, 1, 2, *targets}
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    if request.get("cwd"):
        os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # The child's parent is the forkserver: die_with_parent checks (and dies with) it.
    os.environ[PARENT_PID_ENV] = str(os.getppid())
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = [request["module"], *request["argv"]]
    # Run as __main__ afresh: the copy the forkserver imported stays out of the way (runpy warns
    # when the module it runs is already imported).
    module = sys.modules.get(request["module"])
    runs = request["module"] + ".__main__" if hasattr(module, "__path__") else request["module"]
    sys.modules.pop(runs, None)
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    return 0


def _set_name(name: str) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def main() -> None:
    die_with_parent()
    sock = socket.socket(fileno=int(sys.argv[1]))
    serve(sock, sys.argv[2:])


if __name__ == "__main__":
    main()
