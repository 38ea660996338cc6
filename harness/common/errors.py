"""Errors the command line turns into one clear line, and the exit statuses it ends with."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """What a ``streambench`` command's exit status means (documented in ``--help`` and README)."""

    OK = 0  # done; compare: no change beyond --fail-on
    REGRESSION = 1  # compare/history: a regression (slower, hungrier, fewer good runs, a cell missing)
    USAGE = 2  # bad input: one line on stderr, nothing run
    UNDECIDED = 3  # compare: these runs cannot decide; scenario run: a claim is inconclusive
    RUNS_FAILED = 4  # run/scenario run: a run failed or was not verified (unexpectedly), or a claim fails
    MACHINE_CHANGED = (
        5  # compare: cells moved with the reference (cat) of their setting: the machine's change
    )
    INTERNAL = 70  # a bug in streambench (EX_SOFTWARE): one line, and every record already measured kept
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM (a CI timeout)


EXIT_CODES_HELP = (
    "exit status: 0 ok (compare: no change), 1 regression, 2 bad input, 3 cannot decide, "
    "4 runs failed or a claim fails, 5 compare: the machine changed (the reference moved too), 70 internal "
    "error, 130 interrupted, 143 terminated"
)


class UsageError(Exception):
    """Bad input from the user: a value, a file or a combination that cannot run.

    The CLI prints ``streambench: error: <message>`` and exits 2; never a traceback.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the harness is (as Ctrl-C is), so a stopped run says how to resume."""


def raised_at(exc: BaseException) -> str:
    """`` (at file.py:LINE in NAME)`` of the innermost frame of an exception in code that is neither
    streambench's nor Python's (its library, installed packages): where the user's code failed, or
    called what failed ("" when no such frame is on the way)."""
    import os
    import sysconfig
    import traceback
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]  # the folder of harness/, strategies/, ...
    skipped = [str(root / package) for package in ("harness", "strategies", "workloads", "reports")]
    skipped += [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    roots = tuple(os.path.join(os.path.realpath(p), "") for p in skipped)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if name.startswith("<") or os.path.realpath(name).startswith(roots):
            continue
        return f" (at {os.path.basename(name)}:{frame.lineno} in {frame.name})"
    return ""
