"""The parent side of a measured child: RSS sampled from /proc, the deadline, the cap, the reaping.

One watcher for every measured process the parent starts itself: it samples
``RssAnon``/``RssFile`` every interval (a lower bound of the peak; the child's
own ``VmHWM`` is exact), kills the child's whole process group past the
deadline or over a watchdog cap, reads what the child reports on its result
fd (if it has one) and reaps it with ``wait4`` (that child's CPU alone), or has the forkserver
that forked it reap it (:mod:`harness.common.forkserver`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from streambench.harness.common.forkserver import Reap
from streambench.harness.measure.limits import MemoryCap
from streambench.harness.measure.probes import read_status


@dataclass
class Watch:
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    result_bytes: bytes = b""
    timed_out: bool = False
    over_cap: bool = False  # the watchdog killed it (where no cgroup could be made)
    wait_status: int = 0
    rusage: Any = None
    max_rss_bytes: int = 0  # the largest VmRSS seen

    @property
    def returncode(self) -> int:
        return os.waitstatus_to_exitcode(self.wait_status)


def watch(
    pid: int,
    timeout_s: float,
    interval_s: float,
    cap: MemoryCap | None = None,
    result_fd: int = -1,
    *,
    kill_group: bool = True,
    reap: Reap | None = None,
) -> Watch:
    """Sample ``pid`` every ``interval_s`` until it exits (or must be killed), then reap it: with
    ``wait4`` (our child), or ``reap`` (the forkserver's child: its wait status and rusage)."""
    seen = Watch()
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    result_open = result_fd >= 0
    if result_open:
        os.set_blocking(result_fd, False)
        poller.register(result_fd, select.POLLIN)
    deadline = time.monotonic() + timeout_s

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            if kill_group:  # the worker and whatever it started (cat, dd): the whole group
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)

    exited = False
    try:
        while not exited:
            now = time.monotonic()
            status = read_status(pid)
            if "RssAnon" in status:
                seen.samples.append((now, status["RssAnon"], status.get("RssFile", 0)))
                seen.max_rss_bytes = max(seen.max_rss_bytes, status.get("VmRSS", 0))
                if cap is not None and cap.exceeded(status.get("VmRSS", 0)):
                    seen.over_cap = True
                    kill()
                    break
            if now > deadline:
                seen.timed_out = True
                kill()
                break
            for fd, _ in poller.poll(interval_s * 1000):
                if fd == pidfd:
                    exited = True
                elif fd == result_fd and result_open:
                    chunk = os.read(result_fd, 1 << 16)
                    if chunk:
                        seen.result_bytes += chunk
                    else:
                        poller.unregister(result_fd)
                        result_open = False
        if reap is None:
            _, seen.wait_status, seen.rusage = os.wait4(pid, 0)
        else:
            seen.wait_status, seen.rusage = reap(pid)
        if result_open:
            os.set_blocking(result_fd, True)
            while chunk := os.read(result_fd, 1 << 16):
                seen.result_bytes += chunk
    finally:
        os.close(pidfd)
    return seen
