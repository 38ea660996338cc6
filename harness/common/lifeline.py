"""Children die with the harness: a killed parent must not leave workers running."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
PARENT_PID_ENV = "STREAMBENCH_PARENT_PID"


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits.

    Done by the child itself (not ``preexec_fn``, unsafe with threads in the
    parent). If the parent already died before this call, exit now.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    expected = os.environ.get(PARENT_PID_ENV)
    # Empty: launched through another program (py-spy), whose pid nobody knew.
    if expected and os.getppid() != int(expected):
        os._exit(70)


def pdeathsig_preexec() -> None:
    """This process dies with its parent: ``preexec_fn`` for a tool a worker starts (cat, dd), and
    the forkserver's children (harness.common.forkserver) right after their fork.

    Runs in the forked child before exec; the death signal survives exec. The
    worker starts tools from its only thread, where ``preexec_fn`` is safe.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def dies_with_us(argv: list[str]) -> list[str]:
    """``argv`` started through ``setpriv --pdeathsig KILL`` (util-linux), so it dies with its parent.

    For programs that cannot ask for a parent-death signal themselves (node, ffmpeg,
    chromium) when the parent has threads (``preexec_fn`` is unsafe then). Without
    setpriv the program runs as given; process groups still catch it after each run.
    """
    import shutil

    return ["setpriv", "--pdeathsig", "KILL", *argv] if shutil.which("setpriv") else list(argv)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, from ``/proc``."""
    members: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # it ended while we looked
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def kill_group(pgid: int, timeout_s: float = 5.0) -> int:
    """SIGKILL whatever is left of a run's process group and wait until it is gone.

    Returns how many live processes were found. A measurement must never share
    the machine with a previous run's leftovers (a ``dd`` still writing the
    shared destination), so the caller waits here before the next run starts.
    """
    import time

    found = len(group_members(pgid))
    if found:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + timeout_s
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.01)
    return found
