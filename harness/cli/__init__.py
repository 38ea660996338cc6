"""The ``streambench`` command line: parse once, hand plain options to the session, print.

Commands, one module per group: ``run`` and ``scenario`` (:mod:`harness.cli.run`),
``report``, ``compare``, ``export`` and ``profile`` (:mod:`harness.cli.results`),
``bench-overhead``, ``bench-generate`` and ``calibrate`` (:mod:`harness.cli.machine`),
``strategies``, ``generate`` and ``workloads`` (:mod:`harness.cli.catalogue`). Bad input
of any kind ends in one line on stderr and exit status 2; measured records are never lost.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from harness.cli import catalogue, machine, results, run
from harness.common.errors import UsageError
from harness.common.text import printable


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the user sees exactly what was wrong.
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="streambench", description="Measure stream strategies on large files.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # The order of ``streambench --help``.
    run.add_commands(sub)
    results.add_commands(sub)
    run.add_scenario_command(sub)
    results.add_profile_command(sub)
    machine.add_commands(sub)
    catalogue.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        print(f"streambench: error: {printable(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder we may not write: the machine, not a bug to trace
        where = f": {exc.filename}" if exc.filename else ""
        print(f"streambench: error: {printable(exc.strerror or exc)}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("streambench: interrupted", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    sys.exit(main())
