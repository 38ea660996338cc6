"""The ``streambench`` command line: parse once into config objects, then wire the parts.

Commands: run, report, strategies, generate, workloads. Bad input of any kind
ends in one line on stderr and exit status 2; measured records are never lost.
"""

from __future__ import annotations

import argparse
import json
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
from rich.text import Text

from harness.cli.results import add_report_commands, load_inputs
from harness.common.errors import UsageError
from harness.common.paths import MATRICES_DIR
from harness.common.text import console, printable
from harness.common.units import format_bytes, parse_count, parse_seconds, parse_size
from harness.execute.runner import PlannedRun, RunEvents, Runner, plan_runs
from harness.machine.calibrate import load_calibration
from harness.machine.info import machine_info
from harness.measure.limits import default_memory_limit_bytes
from harness.measure.profilers import PROFILE_KINDS, ProfileSettings, unavailable_reason
from harness.plan.applicability import split_runnable
from harness.plan.config import SINKS, TRANSFORM_NAMES, Cell, RunConfig
from harness.plan.estimate import estimate
from harness.plan.spec import build_matrix, load_spec_file, merge, normalise_spec
from harness.results.record import Record
from harness.results.store import (
    REPORT_FILE,
    RUN_FILE,
    ResultStore,
    finite,
    load_records,
    load_run_meta,
    write_atomic,
)
from strategies.registry import REFERENCES, load_registry
from workloads import cache
from workloads.cache import WorkloadSpec
from workloads.registry import GENERATORS, kinds

BUILTIN_MATRICES = MATRICES_DIR

err_console = console(stderr=True)
out_console = console()
# The cap is charged from the moment a worker joins its cgroup (after its imports):
# below this the worker cannot even start its strategy, and every run would end oom.
MIN_MEMORY_LIMIT_BYTES = 8 << 20
# A plan beyond either bound is confirmed first (a prompt, or --yes when not interactive).
CONFIRM_RUNS = 2_000
CONFIRM_SECONDS = 4 * 3600
# run.json and the terminal list this many skipped cells; the rest are counted.
SKIPPED_LISTED = 200


class _Once(argparse.Action):
    """A flag that takes one value: given twice, it is an error, not "the last one wins"."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:  # fmt: skip
        seen: set[str] = namespace.__dict__.setdefault("_given_once", set())
        if self.dest in seen:
            raise UsageError(f"{option_string} was given twice; give it once")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


class _Join(argparse.Action):
    """An axis flag: given twice, the lists join (``--strategy a --strategy b`` is ``a,b``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:  # fmt: skip
        before = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, f"{before},{values}" if before is not None else values)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the user sees exactly what was wrong.
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _data_dir(arg: str | None) -> Path:
    return Path(arg).expanduser() if arg else cache.default_data_dir()


def _writable_dir(path: Path, what: str) -> Path:
    """Make sure results can be written to ``path`` before anything is generated or run."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make {what} {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {what} {path}: permission denied")
    return path


_FLAG_KEYS = {
    "strategy": "strategy",
    "workload": "workload",
    "sink": "sink",
    "chunk_size": "chunk_size",
    "cache": "cache",
    "transform": "transform",
    "consumer_rate": "consumer_rate",
    "clients": "clients",
    "view_size": "view_size",
    "http_route": "http_route",
    "dest": "dest",
    "high_water_mark": "high_water_mark",
    "seed": "seed",
    "repeat": "repeat",
    "warmup": "warmup",
    "timeout": "timeout",
    "memory_limit": "memory_limit",
}


def _spec_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags the user gave: they override the file (and the defaults)."""
    raw = {key: getattr(args, attr) for attr, key in _FLAG_KEYS.items() if getattr(args, attr) is not None}
    return normalise_spec(raw, "command line")


def build_spec(args: argparse.Namespace) -> dict[str, Any]:
    """defaults <- built-in or --matrix file <- flags, as one plain mapping."""
    if args.full and args.matrix:
        raise UsageError("--full and --matrix are two matrices; give one")
    if args.full:
        base = load_spec_file(BUILTIN_MATRICES / "full.toml")
    elif args.matrix:
        base = load_spec_file(Path(args.matrix))
    else:
        base = load_spec_file(BUILTIN_MATRICES / "default.toml")
    return merge(base, _spec_from_flags(args))


def build_run_config(spec: dict[str, Any], args: argparse.Namespace) -> RunConfig:
    registry = load_registry(plugins=not args.no_plugins)
    matrix = build_matrix(spec, registry)
    memory_limit = spec.get("memory_limit")
    memory_limit_bytes = (
        parse_size(str(memory_limit)) if memory_limit is not None else default_memory_limit_bytes()
    )
    if 0 < memory_limit_bytes < MIN_MEMORY_LIMIT_BYTES:
        raise UsageError(
            f"memory limit {format_bytes(memory_limit_bytes)} is too small for a worker to start its "
            f"strategy (every run would end oom); give at least {format_bytes(MIN_MEMORY_LIMIT_BYTES)} "
            "(or 0 for no cap)"
        )
    return RunConfig(
        matrix=matrix,
        out_dir=Path(args.out),
        data_dir=_data_dir(args.data_dir),
        timeout_s=parse_seconds(spec.get("timeout", 600.0), "timeout"),
        verify_workloads=args.verify_workloads,
        plugins=not args.no_plugins,
        drop_caches=bool(getattr(args, "drop_caches", False)),
        memory_limit_bytes=memory_limit_bytes,
        consumer_close_after_bytes=(
            parse_size(args.consumer_close_after) if args.consumer_close_after else 0
        ),
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _generation_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
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
                message=lambda text: err_console.print(printable(text)),
            )
        # A new file's dirty pages would be written back during the first measured
        # runs and slow them; flush them now, before anything is timed.
        cache.flush(out[spec].path)
    return out


def _meta_for(
    run_id: str,
    config: RunConfig,
    spec: dict[str, Any],
    cells: list[Cell],
    skipped: list[tuple[Cell, str]],
    workloads: dict[WorkloadSpec, cache.Workload],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "started_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": sys.argv[1:],
        # The merged spec rebuilds exactly this matrix on --resume.
        "matrix_spec": spec,
        "config": {
            "repeat": config.matrix.repeat,
            "warmup": config.matrix.warmup,
            "data_dir": str(config.data_dir),
            "timeout_s": config.timeout_s,
            "memory_limit_bytes": config.memory_limit_bytes,
            "rss_sample_interval_s": config.rss_sample_interval_s,
            "plugins": config.plugins,
        },
        "cells": [{"cell_id": c.cell_id, "label": c.label, **c.key()} for c in cells],
        "skipped_cells": [
            {"cell_id": c.cell_id, "label": c.label, "reason": reason, **c.key()}
            for c, reason in skipped[:SKIPPED_LISTED]
        ],
        "skipped_cells_total": len(skipped),
        "workloads": {w.spec.file_stem(): asdict(w.manifest) for w in workloads.values()},
        "calibration": load_calibration(config.data_dir),
        "machine": machine_info(),
    }


def cmd_run(args: argparse.Namespace) -> int:
    if args.resume:
        return _resume(args)
    spec = build_spec(args)
    return _start_run(spec, args, _profile_settings(args.profile, args.profile_rate))


def _print_skipped(skipped: list[tuple[Cell, str]]) -> None:
    """Skipped cells by reason: a count and a few examples each, never one line per cell."""
    by_reason: dict[str, list[Cell]] = {}
    for cell, reason in skipped:
        by_reason.setdefault(reason, []).append(cell)
    for reason, cells in list(by_reason.items())[:20]:
        examples = ", ".join(c.label for c in cells[:2]) + (", ..." if len(cells) > 2 else "")
        err_console.print(printable(f"skipped {len(cells)} cell(s): {reason} (e.g. {examples})"))
    if len(by_reason) > 20:
        err_console.print(f"... and {len(by_reason) - 20} more reasons (run.json lists them)")


def _confirm(runs: int, seconds: float, yes: bool) -> None:
    """A plan beyond the bounds runs only when the user says so."""
    if yes or (runs <= CONFIRM_RUNS and seconds <= CONFIRM_SECONDS):
        return
    what = f"{runs:,} runs, about {seconds / 3600:.1f} h"
    if sys.stdin is not None and sys.stdin.isatty():
        answer = input(f"this plan is {what}; run it? [y/N] ").strip().lower()
        if answer in ("y", "yes"):
            return
        raise UsageError("not started")
    raise UsageError(f"this plan is {what} (more than {CONFIRM_RUNS:,} runs or "
                     f"{CONFIRM_SECONDS / 3600:g} h): pass --yes to run it")  # fmt: skip


def _start_run(
    spec: dict[str, Any],
    args: argparse.Namespace,
    settings: ProfileSettings,
    extra_meta: dict[str, Any] | None = None,
) -> int:
    config = build_run_config(spec, args)
    cells, skipped = split_runnable(config.matrix.cells(), load_registry(plugins=config.plugins))
    _print_skipped(skipped)
    if not cells:
        raise UsageError("no cell of this matrix can run (see the skipped cells above)")
    planned = plan_runs(cells, config.matrix.repeat, config.matrix.warmup, settings.kinds)
    plan = estimate(planned, config.data_dir, load_calibration(config.data_dir))
    err_console.print(plan.describe())
    if getattr(args, "dry_run", False):
        return 0
    _confirm(len(planned), plan.seconds, bool(getattr(args, "yes", False)))
    # Where results go is checked before minutes of workload generation.
    _writable_dir(config.out_dir, "results folder")
    workloads = ensure_workloads(config.matrix.all_workloads(), config.data_dir, config.verify_workloads)
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    store = ResultStore(config.out_dir / run_id)
    store.acquire()
    meta = _meta_for(run_id, config, spec, cells, skipped, workloads)
    meta["profile"] = {"kinds": list(settings.kinds), "rate_hz": settings.rate_hz}
    meta.update(extra_meta or {})
    try:
        store.write_run_meta(meta)
        return _execute(config, store, meta, planned, workloads, settings)
    finally:
        store.release()


def _resume(args: argparse.Namespace) -> int:
    run_dir = Path(args.resume)
    given = [f"--{attr.replace('_', '-')}" for attr in _FLAG_KEYS if getattr(args, attr) is not None]
    if given or args.matrix or args.full:
        raise UsageError(
            f"--resume runs the stored matrix of {run_dir}; drop {', '.join(given) or '--matrix/--full'}"
        )
    if not (run_dir / RUN_FILE).exists():
        raise UsageError(f"cannot resume {run_dir}: no {RUN_FILE} there")
    meta = load_run_meta(run_dir)
    if not isinstance(meta.get("matrix_spec"), dict) or not isinstance(meta.get("config", {}), dict):
        raise UsageError(f"cannot resume {run_dir}: its {RUN_FILE} has no matrix_spec and config objects")
    stored = meta.get("config", {})
    args.data_dir = args.data_dir or stored.get("data_dir")
    args.no_plugins = not stored.get("plugins", True)
    spec = dict(meta["matrix_spec"])
    spec.setdefault("memory_limit", str(stored.get("memory_limit_bytes", "")) or None)
    config = build_run_config({k: v for k, v in spec.items() if v is not None}, args)
    store = ResultStore(run_dir)
    store.acquire()  # a second --resume of this run stops here, before it plans anything
    try:
        return _resume_owned(run_dir, meta, config, store)
    finally:
        store.release()


def _resume_owned(run_dir: Path, meta: dict[str, Any], config: RunConfig, store: ResultStore) -> int:
    torn = store.repair_torn_tail()
    if torn:
        err_console.print(f"set aside a half-written last line ({torn} bytes) in {store.torn_path}")
    done = {
        (r["cell_id"], int(r["repeat"]), bool(r["warmup"]), r.get("profiler")) for r in load_records(run_dir)
    }
    cells, _ = split_runnable(config.matrix.cells(), load_registry(plugins=config.plugins))
    settings = _profile_settings(
        meta.get("profile", {}).get("kinds", []), meta.get("profile", {}).get("rate_hz")
    )
    plan = plan_runs(cells, config.matrix.repeat, config.matrix.warmup, settings.kinds)
    planned = [p for p in plan if p.key not in done]
    err_console.print(
        f"resuming {meta.get('run_id', run_dir.name)}: {len(done)} runs done, {len(planned)} to go"
    )
    workloads = ensure_workloads(config.matrix.all_workloads(), config.data_dir, config.verify_workloads)
    meta.setdefault("resumed_at_utc", []).append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    store.write_run_meta(meta)
    return _execute(config, store, meta, planned, workloads, settings)


def _profile_settings(kinds: Sequence[str] | str | None, rate: Any) -> ProfileSettings:
    if isinstance(kinds, str):
        kinds = list(PROFILE_KINDS) if kinds == "both" else _split(kinds)
    for kind in kinds or ():
        if kind not in PROFILE_KINDS:
            raise UsageError(f"unknown profiler {kind!r}; valid: memory, cpu, both")
    try:
        rate_hz = int(rate) if rate is not None else 100
    except (TypeError, ValueError):
        raise UsageError(
            f"--profile-rate must be a whole number of samples per second, got {rate!r}"
        ) from None
    if not 1 <= rate_hz <= 1000:
        raise UsageError("--profile-rate must be between 1 and 1000 (py-spy slows targets badly above ~100)")
    return ProfileSettings(tuple(kinds or ()), rate_hz)


def _execute(
    config: RunConfig,
    store: ResultStore,
    meta: dict[str, Any],
    planned: list[PlannedRun],
    workloads: dict[WorkloadSpec, cache.Workload],
    settings: ProfileSettings,
) -> int:
    run_dir = store.run_dir
    run_id = str(meta["run_id"])
    unavailable = {k: why for k in settings.kinds if (why := unavailable_reason(k)) is not None}
    for kind, why in unavailable.items():
        err_console.print(
            f"{kind} profiling cannot run here: {why}; the rest of the matrix runs", style="yellow"
        )
    n_cells = len({p.cell for p in planned})
    err_console.print(f"run {run_id}: {n_cells} cells, {len(planned)} runs -> {run_dir}")
    failures = 0
    with _progress(err_console) as progress:
        task = progress.add_task("running", total=len(planned))

        def on_start(run: PlannedRun, index: int, total: int) -> None:
            tag = " (warm-up)" if run.warmup else f" #{run.repeat + 1}"
            progress.update(task, description=printable(f"{run.cell.label}{tag}"))

        def on_record(record: Record) -> None:
            nonlocal failures
            progress.advance(task)
            if record.outcome != "ok" or not record.verified:
                failures += 1
                progress.console.print(
                    printable(
                        f"{record.strategy} -> {record.sink}: {record.outcome}, "
                        f"{record.error or record.verify_detail}"
                    ),
                    style="red",
                    markup=False,
                )

        def on_message(text: str) -> None:
            progress.console.print(printable(text), style="yellow", markup=False)

        events = RunEvents(on_start=on_start, on_record=on_record, on_message=on_message)
        runner = Runner(config, store, run_id, workloads, events)
        runner.unavailable_profilers = unavailable
        runner.profile_rate_hz = settings.rate_hz
        try:
            runner.run(planned)
        except KeyboardInterrupt:
            runner.kill_current()
            err_console.print(
                f"interrupted: every finished record is kept in {store.results_path}; "
                f"continue with: streambench run --resume {run_dir}"
            )
            return 130
        finally:
            runner.remove_scratch()
    meta["finished_at_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.write_run_meta(meta)
    records = load_records(run_dir)
    _print_summary(records)
    try:
        report_path = _write_report(run_dir, meta, records)
    except Exception as exc:  # a reporting bug must not look like lost measurements
        err_console.print(
            printable(
                f"the report could not be written ({type(exc).__name__}: {exc}); every record is in "
                f"{store.results_path}; retry with: streambench report {run_dir}"
            ),
            style="red",
        )
        return 1
    if failures:
        err_console.print(f"{failures} runs failed or were not verified; see the report", style="red")
    print(report_path)
    return 0


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
            printable(row["strategy"]),
            printable(f"{row['workload']}:{format_bytes(int(row['size_bytes']))}"),
            printable(row["sink"]),
            format_bytes(int(row["chunk_bytes"])),
            _num(row.get("throughput_gbps_median"), 3),
            _num(row.get("share_of_cat"), 2),
            format_bytes(row.get("peak_rss_bytes_median") or float("nan")),
            f"{row.get('verified_runs', '?')}/{row.get('runs', '?')}",
        )
    err_console.print(table)


def _write_report(
    run_dir: Path, meta: Mapping[str, Any], records: list[dict[str, Any]], output: Path | None = None
) -> Path:
    from reports.html import render_report

    html = render_report(dict(meta), records)
    path = output or run_dir / REPORT_FILE
    write_atomic(path, html.encode())
    if "scenario" in meta and output is None:
        # A scenario run leads with its question and verdicts, then this report.
        return _write_scenario_report(run_dir, meta, records, html)
    return path.resolve()


def _write_scenario_report(
    run_dir: Path, meta: Mapping[str, Any], records: list[dict[str, Any]], full_report_html: str
) -> Path:
    from harness.plan.scenario import get_scenario
    from reports.claims import evaluate
    from reports.scenario_html import render_scenario

    info = meta["scenario"]
    scenario = get_scenario(info["name"])
    _, claims = scenario.expand(int(info["size_bytes"]))
    verdicts = [evaluate(c, records) for c in claims]
    table = Table(title=f"scenario {scenario.name}: {scenario.question}")
    for col in ("verdict", "claim", "measured"):
        table.add_column(col)
    for v in verdicts:
        colour = {"holds": "green", "fails": "red"}.get(v.verdict, "yellow")
        table.add_row(Text(v.verdict, style=colour), printable(v.claim.says), printable(v.detail))
    err_console.print(table)
    path = run_dir / "scenario.html"
    write_atomic(path, render_scenario(scenario, info, verdicts, records, full_report_html).encode())
    verdicts_json = json.dumps(
        finite([{"says": v.claim.says, "verdict": v.verdict, "detail": v.detail, "numbers": v.numbers}
                for v in verdicts]),
        indent=2, default=str,
    )  # fmt: skip
    write_atomic(run_dir / "verdicts.json", verdicts_json.encode())
    return path.resolve()


def cmd_scenario(args: argparse.Namespace) -> int:
    from harness.plan.scenario import all_scenarios, get_scenario

    if args.action == "list":
        table = Table(title="scenarios")
        for col in ("name", "question", "default size", "about"):
            table.add_column(col)
        for name, s in all_scenarios().items():
            table.add_row(
                name, s.question, format_bytes(s.default_size_bytes), f"{s.estimate_s / 60:.1f} min"
            )
        out_console.print(table)
        return 0
    if not args.name:
        raise UsageError("scenario run needs a NAME (see 'streambench scenario list')")
    scenario = get_scenario(args.name)
    size_bytes = parse_size(args.size) if args.size else scenario.default_size_bytes
    spec, _ = scenario.expand(size_bytes)
    kinds = args.profile if args.profile else ",".join(scenario.profile) or None
    run_args = argparse.Namespace(
        out=args.out,
        data_dir=args.data_dir,
        no_plugins=False,
        verify_workloads=False,
        consumer_close_after=None,
    )
    extra = {"scenario": {"name": scenario.name, "size_bytes": size_bytes, "question": scenario.question}}
    err_console.print(f"scenario {scenario.name}: {scenario.question}")
    return _start_run(spec, run_args, _profile_settings(kinds, args.profile_rate), extra)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from harness.machine import calibrate

    data_dir = _data_dir(args.data_dir)
    size_bytes, runs = parse_size(args.size), parse_count(args.runs, "--runs", 1, 100)
    err_console.print("measuring this machine's limits (about half a minute) ...")
    results = calibrate.measure(data_dir, size_bytes, runs)
    path = calibrate.save(data_dir, results)
    table = Table(title="machine limits (median)")
    table.add_column("limit")
    table.add_column("GB/s", justify="right")
    for key in ("warm_read_bps", "cold_read_bps", "page_cache_write_bps", "memcpy_bps", "loopback_tcp_bps"):
        table.add_row(key.removesuffix("_bps").replace("_", " "), f"{results[key] / 1e9:.2f}")
    out_console.print(table)
    out_console.print(
        f"cold reads asked the disk for {[format_bytes(b) for b in results['cold_read_disk_bytes']]} "
        "(on a VM, the rest came from the host's cache)"
    )
    print(path)
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """Print the profiler summaries of one cell of a run, with its artifacts' paths."""
    run_dir = Path(args.run_dir)
    base = run_dir / "profiles"
    if not base.is_dir():
        raise UsageError(f"{run_dir} has no profiles (run with --profile memory|cpu|both)")
    cells = sorted(p.name for p in base.iterdir() if p.is_dir())
    matches = [c for c in cells if c == args.cell] or [c for c in cells if c.startswith(args.cell)]
    if len(matches) != 1:
        why = "no profiled cell" if not matches else f"{len(matches)} profiled cells"
        raise UsageError(f"{why} matches {args.cell!r}; profiled cells: {', '.join(cells)}")
    summary_path = base / matches[0] / "summary.json"
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {summary_path}: {exc}") from None
    out_console.print(printable(matches[0]), style="bold")
    memory = summary.get("memory")
    if memory:
        out_console.print(
            f"memray: peak heap {format_bytes(memory['peak_heap_bytes'])} (heap, not resident memory), "
            f"{memory['total_allocations']} allocations, {format_bytes(memory['total_allocated_bytes'])} "
            f"allocated in all; overhead x{_num(memory.get('overhead'), 2)}"
        )
        for top in memory["top_allocations"][:5]:
            out_console.print(printable(f"  {format_bytes(top['size_bytes']):>10}  {top['location']}"))
    cpu = summary.get("cpu")
    if cpu:
        active = summary.get("cpu-flamegraph", {}).get("active_share")
        out_console.print(
            f"py-spy: {cpu['samples']} samples (idle included), on-CPU share {_num(active, 2)}, "
            f"blocking-call leaf share {_num(cpu['wait_leaf_share'], 2)}; "
            f"overhead x{_num(cpu.get('overhead'), 2)}"
        )
        for top in cpu["top_self"][:5]:
            out_console.print(printable(f"  self {top['share']:6.1%}  {top['function']}"))
    for part in summary.values():
        for name, rel in part.get("artifacts", {}).items():
            print(f"{name}: {(run_dir / rel).resolve()}")
    return 0


def cmd_bench_overhead(args: argparse.Namespace) -> int:
    from harness.machine.bench import measure_overhead

    load_registry(plugins=False).resolve(args.strategy)  # an unknown name is one line, before any work
    rounds = parse_count(args.rounds, "--rounds", 1, 1000)
    result = measure_overhead(
        args.strategy, parse_size(args.size), parse_size(args.chunk_size), _data_dir(args.data_dir), rounds
    )
    print(result.describe())
    return 0


def cmd_bench_generate(args: argparse.Namespace) -> int:
    from harness.machine.bench import measure_generation

    rounds = parse_count(args.rounds, "--rounds", 1, 1000)
    print(measure_generation(parse_size(args.size), _data_dir(args.data_dir), rounds).describe())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild a run's report (and a scenario run's page), or report a pytest-benchmark JSON file."""
    source = Path(args.run_dir)
    inputs = load_inputs(source)
    output = Path(args.output) if args.output else None
    if output is None and not source.is_dir():
        output = inputs.default_output
    print(_write_report(inputs.run_dir, inputs.meta, inputs.records, output))
    return 0


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
    from harness.plan.spec import MAX_SEED

    spec = WorkloadSpec(args.kind, parse_size(args.size), parse_count(args.seed, "--seed", 0, MAX_SEED))
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="streambench", description="Measure stream strategies on large files.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a benchmark matrix and write an HTML report")
    axes = run.add_argument_group("matrix axes (comma lists; override --matrix and the defaults)")
    axes.add_argument(
        "--strategy", action=_Join, help="NAME[:KEY=VALUE...] (default: every registered strategy)"
    )
    axes.add_argument("--workload", action=_Join, help="KIND:SIZE (default: video:1GiB,csv:1GiB)")
    axes.add_argument("--sink", action=_Join, help=f"{', '.join(SINKS)} (default: null,file)")
    axes.add_argument(
        "--chunk-size", action=_Join, help="read size, Node's readable highWaterMark (default: 64KiB)"
    )
    axes.add_argument("--cache", action=_Join, help="warm, cold (default: warm)")
    axes.add_argument("--transform", action=_Join, help=f"{', '.join(TRANSFORM_NAMES)} (default: none)")
    axes.add_argument(
        "--consumer-rate", action=_Join, help="the consumer's read rate, e.g. 50MB/s (default: unlimited)"
    )
    axes.add_argument("--clients", action=_Join, help="http sink: viewers per run, e.g. 1,16,128 (default 1)")
    one_view = "http sink: bytes each viewer reads, a window of the file (default: the whole file)"
    one = run.add_argument_group("settings")
    one.add_argument(
        "--matrix", action=_Once, help="a TOML matrix file (keys: the axes above; [[group]] tables)"
    )
    one.add_argument("--full", action="store_true", help="the multi-GB matrix (prints time and disk first)")
    one.add_argument("--view-size", action=_Once, help=one_view)
    one.add_argument(
        "--http-route", action=_Once, help="http sink: file (default) or export (a generated CSV export)"
    )
    one.add_argument("--high-water-mark", action=_Once, help="writable high-water mark (default: one chunk)")
    one.add_argument("--dest", action=_Once, help="file sink: existing (default: overwrite in place) or new")
    one.add_argument("--repeat", action=_Once, help="measured runs per cell (default 3)")
    one.add_argument(
        "--warmup", action=_Once, help="warm-up runs per cell, left out of statistics (default 1)"
    )
    one.add_argument("--seed", action=_Once, help="workload seed (default 0)")
    one.add_argument("--timeout", action=_Once, help="seconds per run (default 600)")
    one.add_argument(
        "--memory-limit", action=_Once, help="memory cap per run (default 60%% of RAM); over it: oom"
    )
    one.add_argument(
        "--profile",
        action=_Once,
        help="extra profiled passes per cell: memory (memray), cpu (py-spy) or both",
    )
    one.add_argument("--profile-rate", action=_Once, help="py-spy samples per second (default 100)")
    one.add_argument(
        "--resume", action=_Once, metavar="RUN_DIR", help="run only the missing runs of an interrupted run"
    )
    one.add_argument("--out", action=_Once, default="results", help="results folder (default ./results)")
    one.add_argument(
        "--data-dir",
        action=_Once,
        help="workload cache (default $STREAMBENCH_DATA_DIR or ~/.cache/streambench)",
    )
    one.add_argument("--drop-caches", action="store_true", help="cold runs also drop the page cache (root)")
    one.add_argument("--verify-workloads", action="store_true", help="checksum cached workloads first")
    one.add_argument("--no-plugins", action="store_true", help="ignore third-party strategies")
    one.add_argument("--dry-run", action="store_true", help="print the plan (runs, time, disk) and stop")
    one.add_argument("--yes", action="store_true", help=f"run a plan beyond {CONFIRM_RUNS} runs or "
                     f"{CONFIRM_SECONDS // 3600} h without asking")  # fmt: skip
    one.add_argument(
        "--consumer-close-after",
        action=_Once,
        help="fault injection: the consumer hangs up after this many bytes",
    )
    run.set_defaults(func=cmd_run)

    report = sub.add_parser(
        "report", help="rebuild the HTML report of a run (or of a pytest-benchmark JSON file)"
    )
    report.add_argument("run_dir", help="a run directory or a pytest-benchmark JSON file")
    report.add_argument("-o", "--output", help="where to write the HTML (default RUN_DIR/report.html)")
    report.set_defaults(func=cmd_report)
    add_report_commands(sub)

    scenario = sub.add_parser(
        "scenario", help="interview-style scenarios: list, or run one and judge its claims"
    )
    scenario.add_argument("action", choices=["list", "run"])
    scenario.add_argument("name", nargs="?")
    scenario.add_argument("--size", help="the scenario's size (default: its own)")
    scenario.add_argument("--profile", help="memory, cpu or both (default: what the scenario asks for)")
    scenario.add_argument("--profile-rate", help="py-spy samples per second (default 100)")
    scenario.add_argument("--out", default="results")
    scenario.add_argument("--data-dir")
    scenario.set_defaults(func=cmd_scenario)

    profile = sub.add_parser("profile", help="print a cell's profiler summaries and artifact paths")
    profile.add_argument("run_dir")
    profile.add_argument("cell", help="a cell id (or a unique prefix, e.g. 'mmap-video')")
    profile.set_defaults(func=cmd_profile)

    bench = sub.add_parser("bench-overhead", help="the harness's overhead vs the same code under hyperfine")
    bench.add_argument("--strategy", default="pipe")
    bench.add_argument("--size", default="1GiB")
    bench.add_argument("--chunk-size", default="1MiB")
    bench.add_argument("--rounds", default="10")
    bench.add_argument("--data-dir")
    bench.set_defaults(func=cmd_bench_overhead)

    bench_gen = sub.add_parser("bench-generate", help="workload generation throughput vs dd on the same disk")
    bench_gen.add_argument("--size", default="2GiB")
    bench_gen.add_argument("--rounds", default="3")
    bench_gen.add_argument("--data-dir")
    bench_gen.set_defaults(func=cmd_bench_generate)

    calibrate = sub.add_parser("calibrate", help="measure this machine's limits; runs store them")
    calibrate.add_argument("--size", default="512MiB", help="file size to measure with (default 512MiB)")
    calibrate.add_argument("--runs", default="3", help="repeats per measurement (default 3)")
    calibrate.add_argument("--data-dir")
    calibrate.set_defaults(func=cmd_calibrate)

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


if __name__ == "__main__":
    entry()
