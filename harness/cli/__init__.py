"""The ``streambench`` command line: parse once, hand plain options to the session, print.

Commands, one module per group: ``run`` and ``scenario`` (:mod:`harness.cli.run`),
``report``, ``compare``, ``export`` and ``profile`` (:mod:`harness.cli.results`),
``bench-overhead``, ``bench-generate`` and ``calibrate`` (:mod:`harness.cli.machine`),
``strategies``, ``generate`` and ``workloads`` (:mod:`harness.cli.catalogue`). Bad input
of any kind ends in one line on stderr and exit status 2; measured records are never lost.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from streambench.harness.cli import catalogue, machine, results, run, runtimes
from streambench.harness.common.errors import EXIT_CODES_HELP, Exit, Terminated, UsageError
from streambench.harness.common.text import printable


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the user sees exactly what was wrong.
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("streambench")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="streambench", description="Measure stream strategies on large files.", epilog=EXIT_CODES_HELP
    )
    parser.add_argument("--version", action="version", version=f"streambench {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # The order of ``streambench --help``.
    run.add_commands(sub)
    results.add_commands(sub)
    run.add_scenario_command(sub)
    results.add_profile_command(sub)
    machine.add_commands(sub)
    catalogue.add_commands(sub)
    runtimes.add_commands(sub)
    return parser


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    # A CI timeout's SIGTERM stops a run the way Ctrl-C does: the record in flight is let go, every
    # record before it is kept, and the run says how to resume.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        print(f"streambench: error: {printable(exc)}", file=sys.stderr)
        return Exit.USAGE
    except OSError as exc:  # a full disk, a folder we may not write: the machine, not a bug to trace
        where = f": {exc.filename}" if exc.filename else ""
        print(f"streambench: error: {printable(exc.strerror or exc)}{where}", file=sys.stderr)
        return Exit.USAGE
    except Terminated:
        print("streambench: terminated", file=sys.stderr)
        return Exit.TERMINATED
    except KeyboardInterrupt:
        print("streambench: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except Exception as exc:  # a bug: one line, never the "regression" status 1
        frames = traceback.extract_tb(exc.__traceback__)
        at = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        print(
            f"streambench: internal error: {type(exc).__name__}: {printable(exc)}{at} (a bug in streambench; "
            "every record already measured is kept; STREAMBENCH_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        if os.environ.get("STREAMBENCH_DEBUG") == "1":
            traceback.print_exc()
        return Exit.INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)


def entry() -> NoReturn:
    sys.exit(main())
