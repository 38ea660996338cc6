"""The ``streambench`` command line: parse once into config objects, then wire the parts.

Commands: run, report, strategies, generate, workloads. Bad input of any kind
ends in one line on stderr and exit status 2; measured records are never lost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from harness.config import CACHE_STATES, DEST_MODES, SINKS, TRANSFORM_NAMES, MatrixConfig, RunConfig
from harness.errors import UsageError
from harness.machine import machine_info
from harness.matrix import split_runnable
from harness.record import Record
from harness.runner import PlannedRun, RunEvents, Runner, plan_runs
from harness.sinks import dest_dir
from harness.store import REPORT_FILE, ResultStore, load_records, load_run_meta
from harness.units import format_bytes, parse_rate, parse_size
from strategies.registry import REFERENCES, load_registry
from workloads import cache
from workloads.cache import WorkloadSpec
from workloads.registry import GENERATORS, kinds

DEFAULT_WORKLOADS = ("video:1GiB",)
DEFAULT_SINKS = ("null", "file")
DEFAULT_CHUNK = "64KiB"

err_console = Console(stderr=True)
out_console = Console()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the user sees exactly what was wrong.
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _choices(kind: str, values: list[str], valid: Sequence[str]) -> tuple[str, ...]:
    for value in values:
        if value not in valid:
            raise UsageError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    return tuple(values)


def _parse_workload(text: str, seed: int) -> WorkloadSpec:
    kind, sep, size = text.partition(":")
    if not sep:
        raise UsageError(f"bad workload {text!r}: expected KIND:SIZE, e.g. video:256MiB")
    if kind not in GENERATORS:
        raise UsageError(f"unknown workload kind {kind!r}; valid kinds: {', '.join(kinds())}")
    return WorkloadSpec(kind, parse_size(size), seed)


def _data_dir(arg: str | None) -> Path:
    return Path(arg).expanduser() if arg else cache.default_data_dir()


def build_run_config(args: argparse.Namespace) -> RunConfig:
    registry = load_registry(plugins=not args.no_plugins)
    strategies = tuple(_split(args.strategy)) if args.strategy else tuple(registry.names())
    for spec in strategies:
        registry.resolve(spec)  # unknown names or options: one clear line, exit 2
    workloads = tuple(
        _parse_workload(w, args.seed) for w in (_split(args.workload) if args.workload else DEFAULT_WORKLOADS)
    )
    sinks = _choices("sink", _split(args.sink) if args.sink else list(DEFAULT_SINKS), SINKS)
    chunks = tuple(parse_size(c) for c in _split(args.chunk_size or DEFAULT_CHUNK))
    if any(c <= 0 for c in chunks):
        raise UsageError("chunk size must be positive")
    caches = _choices("cache state", _split(args.cache or "warm"), CACHE_STATES)
    dest = _choices("dest", [args.dest], DEST_MODES)[0]
    if args.repeat < 1 or args.warmup < 0:
        raise UsageError("--repeat must be >= 1 and --warmup >= 0")
    transforms = _choices("transform", _split(args.transform or "none"), TRANSFORM_NAMES)
    rates = tuple(parse_rate(r) for r in _split(args.consumer_rate or "unlimited"))
    hwm_bytes = parse_size(args.high_water_mark) if args.high_water_mark else 0
    matrix = MatrixConfig(
        strategies,
        workloads,
        sinks,
        chunks,
        caches,
        dest,
        args.repeat,
        args.warmup,
        transforms=transforms,
        consumer_rates_bps=rates,
        high_water_mark_bytes=hwm_bytes,
    )
    return RunConfig(
        matrix=matrix,
        out_dir=Path(args.out),
        data_dir=_data_dir(args.data_dir),
        timeout_s=args.timeout,
        verify_workloads=args.verify_workloads,
        plugins=not args.no_plugins,
        consumer_close_after_bytes=(
            parse_size(args.consumer_close_after) if args.consumer_close_after else 0
        ),
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _generation_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def ensure_workloads(
    specs: Sequence[WorkloadSpec], data_dir: Path, verify: bool
) -> dict[WorkloadSpec, cache.Workload]:
    out: dict[WorkloadSpec, cache.Workload] = {}
    for spec in specs:
        cached, _ = cache.check_cached(spec, data_dir, verify=verify)
        if cached is not None:
            out[spec] = cached
            continue
        with _generation_progress(err_console) as progress:
            task = progress.add_task(
                f"generating {spec.kind} {format_bytes(spec.size_bytes)}", total=spec.size_bytes
            )
            out[spec] = cache.ensure(
                spec,
                data_dir,
                verify=verify,
                progress=lambda done, total, task=task: progress.update(task, completed=done),  # type: ignore[misc]
                message=lambda text: err_console.print(text),
            )
    return out


def cmd_run(args: argparse.Namespace) -> int:
    config = build_run_config(args)
    cells, skipped = split_runnable(config.matrix.cells(), load_registry(plugins=config.plugins))
    for cell, reason in skipped:
        err_console.print(f"skipped: {cell.label}: {reason}")
    if not cells:
        raise UsageError("no cell of this matrix can run (see the skipped cells above)")
    planned = plan_runs(cells, config.matrix.repeat, config.matrix.warmup)
    workloads = ensure_workloads(config.matrix.workloads, config.data_dir, config.verify_workloads)
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    run_dir = config.out_dir / run_id
    store = ResultStore(run_dir)
    meta = {
        "run_id": run_id,
        "started_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": sys.argv[1:],
        "config": {
            **{k: v for k, v in asdict(config.matrix).items() if k != "workloads"},
            "workloads": [asdict(w) for w in config.matrix.workloads],
            "data_dir": str(config.data_dir),
            "timeout_s": config.timeout_s,
            "rss_sample_interval_s": config.rss_sample_interval_s,
        },
        "cells": [{"cell_id": c.cell_id, "label": c.label, **c.key()} for c in cells],
        "skipped_cells": [
            {"cell_id": c.cell_id, "label": c.label, "reason": reason, **c.key()} for c, reason in skipped
        ],
        "workloads": {w.spec.file_stem(): asdict(w.manifest) for w in workloads.values()},
        "machine": machine_info(),
    }
    store.write_run_meta(meta)
    err_console.print(
        f"run {run_id}: {len(cells)} cells x ({config.matrix.warmup} warm-up + "
        f"{config.matrix.repeat} measured) = {len(planned)} runs -> {run_dir}"
    )
    failures = 0
    with _progress(err_console) as progress:
        task = progress.add_task("running", total=len(planned))

        def on_start(run: PlannedRun, index: int, total: int) -> None:
            tag = " (warm-up)" if run.warmup else f" #{run.repeat + 1}"
            progress.update(task, description=f"{run.cell.label}{tag}")

        def on_record(record: Record) -> None:
            nonlocal failures
            progress.advance(task)
            if record.outcome != "ok" or not record.verified:
                failures += 1
                progress.console.print(
                    f"[red]{record.strategy} -> {record.sink}: {record.outcome}, "
                    f"{record.error or record.verify_detail}[/red]"
                )

        runner = Runner(config, store, run_id, workloads, RunEvents(on_start=on_start, on_record=on_record))
        try:
            runner.run(planned)
        except KeyboardInterrupt:
            runner.kill_current()
            err_console.print(f"interrupted: every finished record is kept in {store.results_path}")
            return 130
        finally:
            _remove_scratch(config.data_dir)
    meta["finished_at_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.write_run_meta(meta)
    records = load_records(run_dir)
    _print_summary(records)
    report_path = _write_report(run_dir, meta, records)
    if failures:
        err_console.print(f"[red]{failures} runs failed or were not verified; see the report[/red]")
    print(report_path)
    return 0


def _remove_scratch(data_dir: Path) -> None:
    """Destination files are scratch: a benchmark cleans up what it wrote."""
    directory = dest_dir(data_dir)
    if directory.exists():
        for path in directory.iterdir():
            path.unlink(missing_ok=True)
        # A folder the user made a mount point (or filled with their own
        # things) stays; only its scratch files go.
        with contextlib.suppress(OSError):
            directory.rmdir()


def _num(value: Any, digits: int) -> str:
    return "–" if value is None or value != value else f"{float(value):.{digits}f}"


def _print_summary(records: list[dict[str, object]]) -> None:
    from reports.html import summary_frame

    summary = summary_frame(records)
    if summary.empty:
        return
    table = Table(title="medians of measured runs")
    for col in ("strategy", "workload", "sink", "chunk", "GB/s", "vs cat", "peak RSS", "verified"):
        table.add_column(col)
    for row in summary.to_dict(orient="records"):
        table.add_row(
            str(row["strategy"]),
            f"{row['workload']}:{format_bytes(int(row['size_bytes']))}",
            str(row["sink"]),
            format_bytes(int(row["chunk_bytes"])),
            _num(row["throughput_gbps_median"], 3),
            _num(row["share_of_cat"], 2),
            format_bytes(row["peak_rss_bytes_median"]),
            f"{row['verified_runs']}/{row['runs']}",
        )
    err_console.print(table)


def _write_report(
    run_dir: Path, meta: Mapping[str, Any], records: list[dict[str, Any]], output: Path | None = None
) -> Path:
    from reports.html import render_report

    html = render_report(dict(meta), records)
    path = output or run_dir / REPORT_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path.resolve()


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"no such run directory: {run_dir}")
    records = load_records(run_dir)
    meta = load_run_meta(run_dir)
    print(_write_report(run_dir, meta, records, Path(args.output) if args.output else None))
    return 0


def cmd_strategies(args: argparse.Namespace) -> int:
    registry = load_registry(plugins=True)
    table = Table(title="strategies")
    table.add_column("name")
    table.add_column("summary")
    table.add_column("Node.js analogue")
    table.add_column("capabilities")
    for name, cls in registry.strategies.items():
        caps = ", ".join(sorted(c.value for c in cls.capabilities))
        label = f"{name} (reference)" if name in REFERENCES else name
        table.add_row(label, cls.summary, cls.node_analogue, caps)
    out_console.print(table)
    for name, why in registry.broken_plugins.items():
        err_console.print(f"plugin {name!r} could not be loaded: {why}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    if args.kind not in GENERATORS:
        raise UsageError(f"unknown workload kind {args.kind!r}; valid kinds: {', '.join(kinds())}")
    spec = WorkloadSpec(args.kind, parse_size(args.size), args.seed)
    workload = ensure_workloads([spec], _data_dir(args.data_dir), args.verify)[spec]
    print(workload.path)
    return 0


def cmd_workloads(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args.data_dir)
    if args.clean:
        freed = cache.clean(data_dir)
        print(f"removed cached workloads from {cache.workload_dir(data_dir)} ({format_bytes(freed)})")
        return 0
    table = Table(title=f"workloads in {cache.workload_dir(data_dir)}")
    for col in ("kind", "size", "seed", "records", "verified", "path"):
        table.add_column(col)
    for path, manifest in cache.list_cached(data_dir):
        if manifest is None:
            table.add_row("?", format_bytes(path.stat().st_size), "?", "?", "no manifest", str(path))
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
            str(path),
        )
    out_console.print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="streambench", description="Measure stream strategies on large files.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a benchmark matrix and write an HTML report")
    run.add_argument("--strategy", help="comma list (default: every registered strategy)")
    run.add_argument("--workload", help=f"KIND:SIZE comma list (default: {','.join(DEFAULT_WORKLOADS)})")
    run.add_argument("--sink", help=f"comma list of {', '.join(SINKS)} (default: null,file)")
    run.add_argument("--chunk-size", help=f"comma list of sizes (default: {DEFAULT_CHUNK})")
    run.add_argument("--cache", help="comma list of warm, cold (default: warm)")
    run.add_argument("--transform", help=f"comma list of {', '.join(TRANSFORM_NAMES)} (default: none)")
    run.add_argument(
        "--consumer-rate", help="comma list of consumer read rates, e.g. 50MB/s or unlimited (default)"
    )
    run.add_argument("--high-water-mark", help="writable high-water mark (default: one chunk)")
    run.add_argument(
        "--consumer-close-after", help="fault injection: the consumer hangs up after this many bytes"
    )
    run.add_argument("--dest", default="existing", help="file sink: existing (default) or new")
    run.add_argument("--repeat", type=int, default=3, help="measured runs per cell (default 3)")
    run.add_argument("--warmup", type=int, default=1, help="warm-up runs per cell (default 1)")
    run.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
    run.add_argument("--out", default="results", help="results folder (default ./results)")
    run.add_argument(
        "--data-dir", help="workload cache (default $STREAMBENCH_DATA_DIR or ~/.cache/streambench)"
    )
    run.add_argument("--timeout", type=float, default=600.0, help="seconds per run (default 600)")
    run.add_argument("--verify-workloads", action="store_true", help="checksum cached workloads first")
    run.add_argument("--no-plugins", action="store_true", help="ignore third-party strategies")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="rebuild the HTML report of a run")
    report.add_argument("run_dir")
    report.add_argument("-o", "--output", help="where to write the HTML (default RUN_DIR/report.html)")
    report.set_defaults(func=cmd_report)

    strategies = sub.add_parser("strategies", help="list strategies")
    strategies.set_defaults(func=cmd_strategies)

    generate = sub.add_parser("generate", help="generate (or reuse) a workload and print its path")
    generate.add_argument("kind")
    generate.add_argument("--size", required=True)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--data-dir")
    generate.add_argument("--verify", action="store_true", help="checksum a cached file before trusting it")
    generate.set_defaults(func=cmd_generate)

    workloads = sub.add_parser("workloads", help="list (or --clean) cached workloads")
    workloads.add_argument("--clean", action="store_true")
    workloads.add_argument("--verify", action="store_true", help="checksum every file")
    workloads.add_argument("--data-dir")
    workloads.set_defaults(func=cmd_workloads)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        print(f"streambench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("streambench: interrupted", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    entry()
