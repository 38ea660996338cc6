"""Children die with the harness: a killed parent must not leave workers running."""

from __future__ import annotations

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
