"""``strategies``, ``generate`` and ``workloads``: what can be measured, and on what."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from streambench.harness.cli.console import err_console, out_console, session_events
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
    table = Table(title="strategies")
    table.add_column("name")
    table.add_column("summary")
    table.add_column("Node.js analogue")
    table.add_column("capabilities")
    table.add_column("options (NAME:KEY=VALUE)")
    for name, cls in registry.strategies.items():
        caps = ", ".join(sorted(c.value for c in cls.capabilities))
        label = f"{name} (reference)" if name in REFERENCES else name
        options = "\n".join(f"{key}: {text}" for key, text in cls.options.items())
        table.add_row(*(printable(v) for v in (label, cls.summary, cls.node_analogue, caps, options)))
    out_console.print(table)
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
    table = Table(title=f"workloads in {cache.workload_dir(data_dir)}")
    for col in ("kind", "size", "seed", "records", "verified", "path"):
        table.add_column(col)
    for path, manifest in cache.list_cached(data_dir):
        if manifest is None:
            table.add_row("?", format_bytes(path.stat().st_size), "?", "?", "no manifest", printable(path))
            continue
        size_ok = path.stat().st_size == manifest.size_bytes
        if args.verify and size_ok:
            state = "checksum ok" if cache.file_checksum(path) == manifest.xxh3_64 else "CHECKSUM MISMATCH"
        else:
            state = "size ok" if size_ok else "SIZE MISMATCH"
        table.add_row(
            manifest.kind,
            format_bytes(manifest.size_bytes),
            str(manifest.seed),
            str(manifest.records),
            state,
            printable(path),
        )
    out_console.print(table)
    return 0


def add_commands(sub: Any) -> None:
    strategies = sub.add_parser("strategies", help="list strategies")
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
    workloads.set_defaults(func=cmd_workloads)
