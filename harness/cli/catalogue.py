"""``strategies``, ``generate`` and ``workloads``: what can be measured, and on what."""

from __future__ import annotations

import argparse
from typing import Any

from streambench.harness.cli.console import err_console, print_listing, session_events
from streambench.harness.cli.run import resolve_data_dir
from streambench.harness.common.errors import UsageError
from streambench.harness.common.text import printable
from streambench.harness.common.units import format_bytes, parse_count, parse_size
from streambench.harness.session import ensure_workloads
from streambench.strategies.registry import REFERENCES, load_registry
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec
from streambench.workloads.registry import GENERATORS, kinds


def cmd_strategies(args: argparse.Namespace) -> int:
    registry = load_registry(plugins=True)
    rows = []
    for name, cls in registry.strategies.items():
        caps = ", ".join(sorted(c.value for c in cls.capabilities))
        options = "\n".join(f"{key}: {text}" for key, text in cls.options.items())
        role = "reference" if name in REFERENCES else "strategy"
        rows.append([name, role, cls.summary, cls.node_analogue, caps, options])
    columns = ["name", "role", "summary", "Node.js analogue", "capabilities", "options (NAME:KEY=VALUE)"]
    print_listing("strategies", columns, rows, as_json=args.json)
    for name, why in registry.broken_plugins.items():
        err_console.print(printable(f"plugin {name!r} could not be loaded: {why}"))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    if args.kind not in GENERATORS:
        raise UsageError(f"unknown workload kind {args.kind!r}; valid kinds: {', '.join(kinds())}")
    from streambench.harness.plan.spec import MAX_SEED

    spec = WorkloadSpec(args.kind, parse_size(args.size), parse_count(args.seed, "--seed", 0, MAX_SEED))
    workload = ensure_workloads([spec], resolve_data_dir(args.data_dir), args.verify, session_events())[spec]
    print(workload.path)
    return 0


def cmd_workloads(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    if args.clean:
        freed = cache.clean(data_dir)
        print(f"removed cached workloads from {cache.workload_dir(data_dir)} ({format_bytes(freed)})")
        return 0
    rows: list[list[str]] = []
    for path, manifest in cache.list_cached(data_dir):
        if manifest is None:
            rows.append(["?", format_bytes(path.stat().st_size), "?", "?", "no manifest", str(path)])
            continue
        size_ok = path.stat().st_size == manifest.size_bytes
        if args.verify and size_ok:
            state = "checksum ok" if cache.file_checksum(path) == manifest.xxh3_64 else "CHECKSUM MISMATCH"
        else:
            state = "size ok" if size_ok else "SIZE MISMATCH"
        size = format_bytes(manifest.size_bytes)
        rows.append([manifest.kind, size, str(manifest.seed), str(manifest.records), state, str(path)])
    columns = ["kind", "size", "seed", "records", "verified", "path"]
    print_listing(f"workloads in {cache.workload_dir(data_dir)}", columns, rows, as_json=args.json)
    return 0


def add_commands(sub: Any) -> None:
    strategies = sub.add_parser("strategies", help="list strategies")
    strategies.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    strategies.set_defaults(func=cmd_strategies)

    generate = sub.add_parser("generate", help="generate (or reuse) a workload and print its path")
    generate.add_argument("kind")
    generate.add_argument("--size", required=True)
    generate.add_argument("--seed", default="0")
    generate.add_argument("--data-dir")
    generate.add_argument("--verify", action="store_true", help="checksum a cached file before trusting it")
    generate.set_defaults(func=cmd_generate)

    workloads = sub.add_parser("workloads", help="list (or --clean) cached workloads")
    workloads.add_argument("--clean", action="store_true")
    workloads.add_argument("--verify", action="store_true", help="checksum every file")
    workloads.add_argument("--data-dir")
    workloads.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    workloads.set_defaults(func=cmd_workloads)
