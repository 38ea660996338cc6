"""``run`` and ``scenario``: flags -> a matrix spec and session options -> a session.

Nothing here measures: it parses, calls :mod:`harness.session`, and prints the
report's path last.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from streambench.harness.cli.console import err_console, print_listing, session_events
from streambench.harness.common.errors import EXIT_CODES_HELP, Exit, UsageError
from streambench.harness.common.paths import MATRICES_DIR
from streambench.harness.common.text import printable
from streambench.harness.common.units import format_bytes, parse_count, parse_size
from streambench.harness.execute.cluster import parse_cluster
from streambench.harness.plan.config import SINKS, TRANSFORM_NAMES
from streambench.harness.plan.spec import load_spec_file, merge, normalise_spec, restrict_spec
from streambench.harness.results import baselines
from streambench.harness.results.store import RESULTS_FILE, load_records
from streambench.harness.session import (
    CONFIRM_RUNS,
    CONFIRM_SECONDS,
    SessionOptions,
    SessionResult,
    profile_settings,
    resume,
    start,
)
from streambench.workloads import cache

# Flag attribute -> spec key: the axes and settings a matrix file can also give.
FLAG_KEYS = (
    "strategy", "workload", "sink", "chunk_size", "cache", "transform", "consumer_rate", "link_rate",
    "clients", "view_size", "http_route", "dest", "high_water_mark", "seed", "repeat", "warmup", "timeout",
    "memory_limit", "disk_read_rate", "pin", "budget", "path", "expect", "port", "ready_timeout", "runtime",
)  # fmt: skip


class Once(argparse.Action):
    """A flag that takes one value: given twice, it is an error, not "the last one wins"."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:  # fmt: skip
        seen: set[str] = namespace.__dict__.setdefault("_given_once", set())
        if self.dest in seen:
            raise UsageError(f"{option_string} was given twice; give it once")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


class Join(argparse.Action):
    """An axis flag: given twice, the lists join (``--strategy a --strategy b`` is ``a,b``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:  # fmt: skip
        before = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, f"{before},{values}" if before is not None else values)


def resolve_data_dir(arg: str | None) -> Path:
    return Path(arg).expanduser() if arg else cache.default_data_dir()


def build_spec(args: argparse.Namespace) -> dict[str, Any]:
    """defaults <- built-in or --matrix file <- flags, as one plain mapping."""
    if args.full and args.matrix:
        raise UsageError("--full and --matrix are two matrices; give one")
    if args.full:
        base = load_spec_file(MATRICES_DIR / "full.toml")
    elif args.matrix:
        named = MATRICES_DIR / f"{args.matrix}.toml"
        # A path, else one of streambench's own matrices by name (--matrix doctor, --matrix full).
        path = Path(args.matrix)
        base = load_spec_file(named if not path.exists() and named.is_file() else path)
    else:
        base = load_spec_file(MATRICES_DIR / "default.toml")
    # Only the flags the user gave: they override the file (and the defaults).
    flags = {key: getattr(args, key) for key in FLAG_KEYS if getattr(args, key) is not None}
    servers = [*(f"serve:{c}" for c in args.serve or ()), *(f"url:{u}" for u in args.url or ())]
    if servers:
        # A user's server is the subject: beside the strategies given, or alone (never the catalogue);
        # a list, so a command's own commas stay in it. Viewers measure it: sink http unless given.
        given = (
            normalise_spec({"strategy": flags["strategy"]}, "command line")["strategy"]
            if args.strategy
            else []
        )
        flags["strategy"] = [*given, *servers]
        flags.setdefault("sink", "http")
    spec = merge(base, normalise_spec(flags, "command line"))
    if args.budget is not None and str(spec.get("repeat", "")).strip().lower() != "auto":
        raise UsageError(
            "--budget bounds --repeat auto's extra rounds; with a fixed --repeat it would be ignored"
        )
    return spec


def _finish(result: SessionResult, args: argparse.Namespace | None = None) -> int:
    name = getattr(args, "save_baseline", None)
    if name is not None and result.run_dir is not None and (result.run_dir / RESULTS_FILE).is_file():
        saved = baselines.save(
            result.run_dir, name, baselines.baselines_dir(args.baselines_dir if args else None)
        )
        err_console.print(printable(f"baseline {saved.name} saved: {saved.path}"))
    if getattr(args, "json", False) and result.run_dir is not None:
        print(json.dumps(_summary_json(result), indent=1, default=str))
    elif result.report_path is not None:
        print(result.report_path)
    return result.exit_code


# What `run --json` says per cell: the terminal summary's figures, and the doctor's reading.
JSON_COLUMNS = (
    "label", "strategy", "setting", "chunk_bytes", "runs", "ok_runs", "verified_runs",
    "throughput_gbps_median", "throughput_gbps_ci_low", "throughput_gbps_ci_high", "ci_text",
    "peak_rss_anon_bytes_median", "peak_rss_file_bytes_median", "share_of_cat", "warnings",
    "diagnosis_bound", "diagnosis_fault", "diagnosis_sentence",
)  # fmt: skip


def _summary_json(result: SessionResult) -> dict[str, object]:
    """``run --json``: the run's folder, report and exit status, and one object per cell (stdout; the
    progress and the table stay on stderr)."""
    import math

    from streambench.reports.html import summary_frame

    assert result.run_dir is not None
    summary = summary_frame(load_records(result.run_dir))
    cells = []
    for raw in summary.to_dict(orient="records"):
        row = {str(k): v for k, v in raw.items()}
        cells.append({k: (None if isinstance(row.get(k), float) and math.isnan(row[k]) else row.get(k))
                      for k in JSON_COLUMNS})  # fmt: skip
    return {"run_dir": str(result.run_dir), "report": str(result.report_path or ""),
            "exit_status": int(result.exit_code), "cells": cells}  # fmt: skip


# Settings a resumed run takes from its run.json: given with --resume, they would be ignored.
RESUME_IGNORES = (
    "matrix", "full", "profile", "profile_rate", "out", "dry_run", "yes", "verify_workloads", "drop_caches",
    "no_plugins", "consumer_close_after", "serve", "url",
)  # fmt: skip


def cmd_run(args: argparse.Namespace) -> int:
    """Run a benchmark matrix and write an HTML report."""
    if args.save_baseline is not None:
        # A bad name, or a baselines folder that cannot be written, is said before anything runs.
        baselines.check_name(args.save_baseline)
        baselines.writable_root(baselines.baselines_dir(args.baselines_dir))
    cluster = parse_cluster(args.cluster, args.scheduler, args.share_machines)
    if args.resume:
        given = [key for key in (*FLAG_KEYS, *RESUME_IGNORES) if getattr(args, key) not in (None, False)]
        if given:
            dropped = ", ".join(f"--{key.replace('_', '-')}" for key in given)
            raise UsageError(f"--resume runs the stored matrix and settings of {args.resume}; drop {dropped}")
        data_dir = Path(args.data_dir) if args.data_dir else None
        return _finish(resume(Path(args.resume), session_events(), data_dir=data_dir, cluster=cluster), args)
    options = SessionOptions(
        cluster=cluster,
        out_dir=Path(args.out or "results"),
        data_dir=resolve_data_dir(args.data_dir),
        plugins=not args.no_plugins,
        verify_workloads=args.verify_workloads,
        drop_caches=args.drop_caches,
        consumer_close_after_bytes=parse_size(args.consumer_close_after) if args.consumer_close_after else 0,
        dry_run=args.dry_run,
        assume_yes=args.yes,
    )
    settings = profile_settings(args.profile, args.profile_rate)
    return _finish(start(build_spec(args), options, settings, session_events()), args)


def cmd_scenario(args: argparse.Namespace) -> int:
    """List the interview scenarios, or run one and judge its claims."""
    from streambench.harness.plan.scenario import (
        MeasuredTime,
        Scenario,
        all_scenarios,
        get_scenario,
        measured_times,
        now_utc,
        record_time,
    )
    from streambench.reports.claims import parse_claims

    if args.action == "list":
        # Measured here when it has run whole here (at the size it ran), else the scenario's guess.
        times = measured_times(resolve_data_dir(args.data_dir))

        def about(name: str, s: Scenario) -> str:
            took = times.get(name)
            if took is None:
                return f"{s.estimate_s / 60:.1f} min (estimated)"
            return f"{took.wall_s / 60:.1f} min (measured here at {format_bytes(took.size_bytes)})"

        rows = [[name, s.question, format_bytes(s.default_size_bytes), about(name, s)]
                for name, s in all_scenarios().items()]  # fmt: skip
        print_listing("scenarios", ["name", "question", "default size", "about"], rows, as_json=args.json)
        return 0
    if not args.name:
        raise UsageError("scenario run needs a NAME (see 'streambench scenario list')")
    scenario = get_scenario(args.name)
    size_bytes = parse_size(args.size) if args.size else scenario.default_size_bytes
    spec, raw_claims = scenario.expand(size_bytes)
    if args.repeat is not None:
        # Fewer rounds for a first look (claims needing the spread may then be inconclusive).
        spec["repeat"] = parse_count(args.repeat, "--repeat", 1, 10_000)
    for only in args.only or []:
        spec = restrict_spec(spec, only)
    parse_claims(raw_claims, f"scenario {scenario.name}")  # a bad claim is said before anything runs
    kinds = args.profile if args.profile else ",".join(scenario.profile) or None
    options = SessionOptions(out_dir=Path(args.out), data_dir=resolve_data_dir(args.data_dir))
    extra: dict[str, Any] = {
        "scenario": {"name": scenario.name, "size_bytes": size_bytes, "question": scenario.question}
    }
    if scenario.min_repeat is not None and args.repeat is None:  # --repeat N: N rounds of every cell
        extra["scenario"]["min_repeat"] = min(scenario.min_repeat, int(spec.get("repeat", 1)))
        if scenario.later_budget_s is not None:
            extra["scenario"]["later_budget_s"] = scenario.later_budget_s
    err_console.print(printable(f"scenario {scenario.name}: {scenario.question}"))
    started = time.monotonic()
    result = start(spec, options, profile_settings(kinds, args.profile_rate), session_events(), extra)
    ran_whole = result.exit_code in (Exit.OK, Exit.UNDECIDED, Exit.RUNS_FAILED)
    if ran_whole and not args.only and args.repeat is None:  # part of it would say less than it took
        runs = len(load_records(result.run_dir)) if result.run_dir is not None else 0
        took = MeasuredTime(size_bytes, round(time.monotonic() - started, 1), runs, now_utc())
        record_time(options.data_dir, scenario.name, took)
    return _finish(result)


def add_commands(sub: Any) -> None:
    run = sub.add_parser(
        "run", help="run a benchmark matrix and write an HTML report", epilog=EXIT_CODES_HELP
    )
    axes = run.add_argument_group("matrix axes (comma lists; override --matrix and the defaults)")
    axes.add_argument(
        "--strategy",
        action=Join,
        help="NAME[:KEY=VALUE...], or your module: ./copy.mjs, ./mine.py:Mine (default: every registered "
        "strategy)",
    )
    axes.add_argument(
        "--workload",
        action=Join,
        help="KIND:SIZE[:OPTION], e.g. mp4:1GiB:moov=end, or your file: file:PATH (read, never written) "
        "(default: video:1GiB,csv:1GiB)",
    )
    axes.add_argument("--sink", action=Join, help=f"{', '.join(SINKS)} (default: null,file)")
    axes.add_argument(
        "--chunk-size", action=Join, help="read size, Node's readable highWaterMark (default: 64KiB)"
    )
    axes.add_argument("--cache", action=Join, help="warm, cold (default: warm)")
    axes.add_argument(
        "--transform",
        action=Join,
        help=f"{', '.join(TRANSFORM_NAMES)}, or your module: ./upper.mjs, ./upper.py:Upper (default: none)",
    )
    axes.add_argument(
        "--runtime",
        action=Join,
        help="what runs the JavaScript strategies: node (the default: the system's), node@22, bun, deno, ... "
        "(streambench runtimes install NAME); Python strategies ignore it",
    )
    axes.add_argument(
        "--serve",
        action="append",
        metavar="CMD",
        help="your HTTP server as the subject: started with $PORT/{port} and $FILE/{file} (the workload); "
        "measured by --sink http or browser viewers",
    )
    axes.add_argument(
        "--url",
        action="append",
        metavar="URL",
        help="a server you run, http://127.0.0.1:PORT/PATH: its viewers are measured, its memory is not",
    )
    axes.add_argument(
        "--consumer-rate", action=Join, help="the consumer's read rate, e.g. 50MB/s (default: unlimited)"
    )
    axes.add_argument(
        "--link-rate", action=Join, help="browser sink: each page's link, e.g. 10Mbit/s (the consumer rate)"
    )
    axes.add_argument(
        "--clients", action=Join, help="http sink: viewers per run, e.g. 1,16,128; browser: pages (default 1)"
    )
    one_view = "http sink: bytes each viewer reads, a window of the file (default: the whole file)"
    one = run.add_argument_group("settings")
    one.add_argument(
        "--matrix",
        action=Once,
        help="a TOML matrix file (keys: the axes above; [[group]] tables), or a built-in one: doctor",
    )
    one.add_argument("--full", action="store_true", help="the multi-GB matrix (prints time and disk first)")
    one.add_argument("--view-size", action=Once, help=one_view)
    one.add_argument("--path", action=Once, help="--serve: the path the viewers ask for (default /)")
    one.add_argument(
        "--expect",
        action=Once,
        metavar="FILE",
        help="--serve/--url: the file its bodies must equal, when it does not serve the workload's $FILE",
    )
    one.add_argument(
        "--port", action=Once, help="--serve: the port your server listens on when it ignores $PORT"
    )
    one.add_argument(
        "--ready-timeout",
        action=Once,
        help="--serve: seconds your server may take to open its port (default 15)",
    )
    one.add_argument(
        "--http-route",
        action=Once,
        help="http sink: file (default), export (a generated CSV export), upload; browser: missing-first",
    )
    one.add_argument("--high-water-mark", action=Once, help="writable high-water mark (default: one chunk)")
    one.add_argument("--dest", action=Once, help="file sink: existing (default: overwrite in place) or new")
    one.add_argument(
        "--repeat",
        action=Once,
        help="measured runs per cell, or auto: 2 rounds, then more only where the best strategy is "
        "not yet decided (default: the matrix's; the quick default is auto)",
    )
    one.add_argument(
        "--budget", action=Once, help="--repeat auto: time of runs at most (150, 20s, 2m; default 150 s)"
    )
    one.add_argument(
        "--warmup", action=Once, help="warm-up runs per cell, left out of statistics (default 1)"
    )
    one.add_argument("--seed", action=Once, help="workload seed (default 0)")
    one.add_argument("--timeout", action=Once, help="seconds per run (default 600)")
    one.add_argument(
        "--memory-limit", action=Once, help="memory cap per run (default 60%% of RAM); over it: oom"
    )
    one.add_argument(
        "--disk-read-rate",
        action=Once,
        help="limit each measured process's reads from the workload's disk (e.g. 50MB/s; root, cgroups): "
        "a slow disk under the cold cells (warm ones read the page cache)",
    )
    one.add_argument(
        "--profile", action=Once, help="extra profiled passes per cell: memory (memray), cpu (py-spy) or both"
    )
    one.add_argument("--profile-rate", action=Once, help="py-spy samples per second (default 100)")
    one.add_argument(
        "--resume", action=Once, metavar="RUN_DIR", help="run only the missing runs of an interrupted run"
    )
    one.add_argument("--out", action=Once, help="results folder (default ./results)")
    one.add_argument(
        "--save-baseline",
        action=Once,
        metavar="NAME",
        help="keep this run's records as baseline NAME (for compare --baseline and history)",
    )
    one.add_argument(
        "--baselines-dir", action=Once, help="where baselines are kept (default ./results/baselines)"
    )
    one.add_argument(
        "--data-dir",
        action=Once,
        help="workload cache (default $STREAMBENCH_DATA_DIR or ~/.cache/streambench)",
    )
    one.add_argument("--drop-caches", action="store_true", help="cold runs also drop the page cache (root)")
    one.add_argument(
        "--cluster",
        action=Once,
        metavar="local:N",
        help="run on a Dask LocalCluster of N workers on 127.0.0.1 (needs the 'cluster' extra)",
    )
    one.add_argument(
        "--scheduler",
        action=Once,
        metavar="tcp://HOST:PORT",
        help="run on the Dask cluster of this scheduler (workers: --nthreads 1 --resources bench=1)",
    )
    one.add_argument(
        "--share-machines",
        action="store_true",
        help="every cluster worker its own bench slot, even on one machine (recorded: runs then measure "
        "each other)",
    )
    one.add_argument(
        "--pin",
        action=Once,
        help="CPU placement: auto (the default: worker on the first core, consumer and harness on the "
        "last), none, or WORKER/FAR_END/PARENT cores, e.g. 0/1/1",
    )
    one.add_argument("--verify-workloads", action="store_true", help="checksum cached workloads first")
    one.add_argument("--no-plugins", action="store_true", help="ignore third-party strategies")
    one.add_argument("--dry-run", action="store_true", help="print the plan (runs, time, disk) and stop")
    one.add_argument(
        "--json", action="store_true", help="print the summary as JSON on stdout (run folder, report, cells)"
    )
    one.add_argument("--yes", action="store_true", help=f"run a plan beyond {CONFIRM_RUNS} runs or "
                     f"{CONFIRM_SECONDS // 3600} h without asking")  # fmt: skip
    one.add_argument(
        "--consumer-close-after",
        action=Once,
        help="fault injection: the consumer hangs up after this many bytes",
    )
    run.set_defaults(func=cmd_run)


def add_scenario_command(sub: Any) -> None:
    scenario = sub.add_parser(
        "scenario",
        help="interview-style scenarios: list, or run one and judge its claims",
        epilog=EXIT_CODES_HELP,
    )
    scenario.add_argument("action", choices=["list", "run"])
    scenario.add_argument("name", nargs="?")
    scenario.add_argument("--json", action="store_true", help="list: a JSON list instead of a table")
    scenario.add_argument("--size", help="the scenario's size (default: its own)")
    scenario.add_argument("--profile", help="memory, cpu or both (default: what the scenario asks for)")
    scenario.add_argument("--profile-rate", help="py-spy samples per second (default 100)")
    scenario.add_argument("--repeat", help="measured runs per cell (default: the scenario's own)")
    scenario.add_argument(
        "--only",
        action="append",
        help="run part of it: AXIS=V1,V2 (strategy, sink, cache, transform, clients); claims about "
        "the rest are inconclusive",
    )
    scenario.add_argument("--out", default="results")
    scenario.add_argument("--data-dir")
    scenario.set_defaults(func=cmd_scenario)
