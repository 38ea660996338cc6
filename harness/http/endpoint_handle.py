"""The parent's handle of a user's own HTTP server: ``--serve CMD`` (started here) or ``--url`` (theirs).

``--serve``: the command runs through ``sh -c`` in its own process group, in the working directory,
with ``$PORT`` and ``$FILE`` set (and ``{port}``, ``{file}`` replaced in the command). The shell joins
the run's memory cgroup before it ``exec``s the command, so everything the server starts is under the
cap. Ready means the port accepts a connection; a server that exits first, or never opens it, is
one clear error with its stderr's tail. While it lives, a thread samples its whole process tree
(the leader and every descendant, from ``/proc/PID/task/*/children``): the sum of their RSS
(anon, file) every 10 ms, and their CPU time at the start and end. Stopping sends SIGTERM to the
group, then SIGKILL after a grace period; nothing of it is left.

``--url``: nothing is started or measured on the server's side; the handle only names the port.

Both give the HTTP and browser executors what :class:`harness.http.server_handle.ServerProcess`
gives (``port``, ``pid``, ``stop()`` -> a report with the section's figures, ``kill()``, ``close()``,
``stderr_tail()``), so a user's endpoint is one more server behind the runtime seam.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from streambench.harness.common.errors import UsageError
from streambench.harness.common.lifeline import PARENT_PID_ENV, dies_with_us
from streambench.harness.http.server_child import LOOPBACK

SAMPLE_INTERVAL_S = 0.01
STOP_GRACE_S = 5.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def accepts(port: int, timeout_s: float = 0.2) -> bool:
    """Whether something listens on 127.0.0.1:port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tree(leader: int) -> list[int]:
    """The leader and all its descendants (threads' children too), now."""
    found, todo = [], [leader]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
    return found


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def _cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) seconds of a process and its reaped children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    # after the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based)
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + cutime) / CLK_TCK, (stime + cstime) / CLK_TCK


@dataclass
class TreeSample:
    rss_bytes: int = 0
    anon_bytes: int = 0
    file_bytes: int = 0
    processes: int = 0


def sample_tree(leader: int) -> TreeSample:
    s = TreeSample()
    for pid in tree(leader):
        status = _status(pid)
        if "VmRSS" not in status:
            continue  # a kernel thread, or gone
        s.rss_bytes += status["VmRSS"]
        s.anon_bytes += status.get("RssAnon", 0)
        s.file_bytes += status.get("RssFile", 0)
        s.processes += 1
    return s


@dataclass
class TreeWatch:
    """Peaks of the tree's summed RSS, sampled in a thread; its CPU from start to stop."""

    leader: int
    baseline: TreeSample = field(default_factory=TreeSample)
    peak: TreeSample = field(default_factory=TreeSample)
    samples: int = 0
    most_processes: int = 0
    cpu_at_start: tuple[float, float] = (0.0, 0.0)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.baseline = sample_tree(self.leader)
        self.peak = TreeSample(**vars(self.baseline))
        self.cpu_at_start = self._cpu()
        self._thread = threading.Thread(target=self._run, name="streambench-endpoint-sampler", daemon=True)
        self._thread.start()

    def _cpu(self) -> tuple[float, float]:
        user = system = 0.0
        for pid in tree(self.leader):
            u, s = _cpu_s(pid)
            user, system = user + u, system + s
        return user, system

    def _take(self) -> None:
        s = sample_tree(self.leader)
        self.samples += 1
        self.most_processes = max(self.most_processes, s.processes)
        self.peak.rss_bytes = max(self.peak.rss_bytes, s.rss_bytes)
        self.peak.anon_bytes = max(self.peak.anon_bytes, s.anon_bytes)
        self.peak.file_bytes = max(self.peak.file_bytes, s.file_bytes)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._take()

    def stop(self) -> dict[str, Any]:
        """The section's figures (harness.measure.report's keys) of the tree, from start to now."""
        self._take()
        user, system = self._cpu()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return {
            "peak_rss_bytes": self.peak.rss_bytes,
            "baseline_rss_bytes": self.baseline.rss_bytes,
            "baseline_rss_anon_bytes": self.baseline.anon_bytes,
            "baseline_rss_file_bytes": self.baseline.file_bytes,
            "sampled_peak_rss_anon_bytes": self.peak.anon_bytes,
            "sampled_peak_rss_file_bytes": self.peak.file_bytes,
            "strategy_user_s": user - self.cpu_at_start[0],
            "strategy_sys_s": system - self.cpu_at_start[1],
            "strategy_notes": {
                "memory_measured_as": (
                    f"the sum of RSS over the server's process tree, sampled every "
                    f"{SAMPLE_INTERVAL_S * 1000:g} ms ({self.samples} samples, up to {self.most_processes} "
                    "processes)"
                ),
            },
        }


class EndpointError(UsageError):
    """A user's server that cannot be measured: it exited, never opened its port, or the port is taken."""


def _command(command: str, port: int, file: Path) -> str:
    return command.replace("{port}", str(port)).replace("{file}", shlex.quote(str(file)))


class EndpointProcess:
    """A user's server started from ``--serve CMD``: its port, its tree's figures, and its end."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, path: str, stderr: IO[bytes]) -> None:
        self.proc = proc
        self.port = port
        self.path = path
        self._stderr = stderr
        self.watch = TreeWatch(proc.pid)
        self.report: dict[str, Any] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def target(self, default: str) -> str:
        """What the viewers ask for: the user's path, whatever our own server would be asked."""
        return self.path

    @classmethod
    def start(
        cls, command: str, *, file: Path, path: str = "/", port: int = 0, cgroup_procs: Path | None = None,
        ready_timeout_s: float = 15.0,
    ) -> EndpointProcess:  # fmt: skip
        if port and accepts(port):
            raise EndpointError(f"port {port} is already taken: another server listens on it")
        port = port or free_port()
        # The shell joins the cap's cgroup, then becomes the user's command (exec): all it starts is under it.
        join = f"echo $$ > {shlex.quote(str(cgroup_procs))} && " if cgroup_procs is not None else ""
        env = dict(os.environ, PORT=str(port), FILE=str(file), **{PARENT_PID_ENV: str(os.getpid())})
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (kept for the server's life)
        try:
            proc = subprocess.Popen(
                # setpriv: the server dies with the harness even after a kill -9 of it.
                dies_with_us(["/bin/sh", "-c", join + "exec " + _command(command, port, file)]),
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env=env,
                process_group=0,
            )
        except BaseException:
            stderr.close()
            raise
        server = cls(proc, port, path, stderr)
        try:
            server._wait_ready(command, ready_timeout_s)
            server.watch.start()
        except BaseException:
            server.close()
            raise
        return server

    def _wait_ready(self, command: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not accepts(self.port, timeout_s=0.1):
            code = self.proc.poll()
            if code is not None:
                raise EndpointError(
                    f"your server exited at once (status {code}) before it opened port {self.port}: "
                    f"{self.stderr_tail(300) or 'no output'} [{command}]"
                )
            if time.monotonic() > deadline:
                raise EndpointError(
                    f"your server did not open port {self.port} within {timeout_s:g} s (does it listen on "
                    f"$PORT or {{port}}?): {self.stderr_tail(300) or 'no output'} [{command}]"
                )
            time.sleep(0.02)

    def stats(self, timeout_s: float = 5.0) -> dict[str, Any]:
        raise RuntimeError("a user's server keeps no counters streambench can read")

    def stop(self, timeout_s: float = STOP_GRACE_S) -> dict[str, Any]:
        """Its tree's figures, then SIGTERM to its group (SIGKILL after ``timeout_s``)."""
        if self.report is not None:
            return self.report
        alive = self.proc.poll() is None
        section = self.watch.stop()
        self._end_group(timeout_s)
        if not alive:
            raise RuntimeError(f"your server died during the run (status {self.proc.returncode}): "
                               f"{self.stderr_tail(300)}")  # fmt: skip
        self.report = {"event": "report", "section": section, "requests": None, "errors": None}
        return self.report

    def _end_group(self, grace_s: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace_s)
        # Whatever it started and left (a worker that ignored SIGTERM) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def kill(self) -> None:
        self.watch._stop.set()
        self._end_group(0.0)

    def close(self) -> None:
        self.kill()
        self._stderr.close()

    def stderr_tail(self, n_bytes: int = 4000) -> str:
        if self._stderr.closed:
            return ""
        self._stderr.seek(max(0, self._stderr.seek(0, os.SEEK_END) - n_bytes))
        return self._stderr.read().decode(errors="replace").strip()


class ExternalEndpoint:
    """``--url``: a server the user runs; only its port is known, nothing of it is measured."""

    pid: int | None = None
    returncode: int | None = None

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.path = path

    @classmethod
    def start(cls, port: int, path: str) -> ExternalEndpoint:
        if not accepts(port, timeout_s=2.0):
            raise EndpointError(f"nothing answers at {LOOPBACK}:{port}: is your server running?")
        return cls(port, path)

    def alive(self) -> bool:
        return accepts(self.port)

    def target(self, default: str) -> str:
        return self.path

    def stats(self, timeout_s: float = 5.0) -> dict[str, Any]:
        raise RuntimeError("a user's server keeps no counters streambench can read")

    def stop(self, timeout_s: float = 0.0) -> dict[str, Any]:
        note = "not measured: --url names a server streambench did not start"
        return {"event": "report", "section": {"strategy_notes": {"memory_measured_as": note}},
                "requests": None, "errors": None}  # fmt: skip

    def kill(self) -> None:
        """Not ours to stop."""

    def close(self) -> None:
        """Not ours to stop."""

    def stderr_tail(self, n_bytes: int = 4000) -> str:
        return ""
