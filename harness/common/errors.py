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
    INTERNAL = 70  # a bug in streambench (EX_SOFTWARE): one line, and every record already measured kept
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM (a CI timeout)


EXIT_CODES_HELP = (
    "exit status: 0 ok (compare: no change), 1 regression, 2 bad input, 3 cannot decide, "
    "4 runs failed or a claim fails, 70 internal error, 130 interrupted, 143 terminated"
)


class UsageError(Exception):
    """Bad input from the user: a value, a file or a combination that cannot run.

    The CLI prints ``streambench: error: <message>`` and exits 2; never a traceback.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the harness is (as Ctrl-C is), so a stopped run says how to resume."""
