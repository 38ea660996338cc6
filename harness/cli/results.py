"""The report-side commands: ``report``, ``compare``, ``export`` and ``profile``, and their inputs.

Wiring only: each command loads its inputs (a run directory, or a pytest-benchmark
JSON file), calls a pure function of ``reports`` and writes what it returns. Bad
input of any kind raises ``UsageError`` (one line; the CLI exits 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from streambench.harness.cli.console import num, out_console
from streambench.harness.common.errors import EXIT_CODES_HELP, Exit, UsageError
from streambench.harness.common.text import console as make_console
from streambench.harness.common.text import printable
from streambench.harness.common.units import format_bytes, parse_fraction
from streambench.harness.results import baselines
from streambench.harness.results.record import Record
from streambench.harness.results.store import (
    RESULTS_FILE,
    load_records,
    load_run_meta,
    parse_json,
    read_text,
    write_atomic,
)
from streambench.harness.run_report import write_report


@dataclass(frozen=True)
class Inputs:
    """What a report is made from: a run's metadata and records, and where its report goes."""

    meta: dict[str, Any]
    records: list[Record]
    run_dir: Path  # the run directory, or the folder holding the JSON file
    default_output: Path


def load_inputs(path: Path) -> Inputs:
    """A run directory (or its results.jsonl), or a pytest-benchmark JSON file."""
    if path.is_dir():
        return Inputs(load_run_meta(path), load_records(path), path, path / "report.html")
    if path.name == RESULTS_FILE and path.is_file():
        return load_inputs(path.parent)
    if not path.exists():
        raise UsageError(f"no such run directory or file: {path}")
    from streambench.reports.pytest_benchmark import (
        is_pytest_benchmark,
        meta_from_pytest_benchmark,
        records_from_pytest_benchmark,
    )

    obj = parse_json(read_text(path), str(path))
    if not is_pytest_benchmark(obj):
        raise UsageError(f"{path}: neither a streambench run directory nor pytest-benchmark JSON")
    try:
        records = records_from_pytest_benchmark(obj)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(
            f"{path}: not a pytest-benchmark file this can read ({type(exc).__name__}: {exc})"
        ) from None
    upgraded = [Record.from_json(r) for r in records]
    return Inputs(meta_from_pytest_benchmark(obj), upgraded, path.parent, path.with_suffix(".html"))


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild a run's report (and a scenario run's page), or report a pytest-benchmark JSON file."""
    source = Path(args.run_dir)
    inputs = load_inputs(source)
    output = Path(args.output) if args.output else None
    if output is None and not source.is_dir():
        output = inputs.default_output
    print(write_report(inputs.run_dir, inputs.meta, inputs.records, output).path)
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
    if args.json:  # the summaries as the profilers wrote them, the artifacts as absolute paths
        paths = [(name, rel) for part in summary.values() for name, rel in part.get("artifacts", {}).items()]
        artifacts = {name: str((run_dir / rel).resolve()) for name, rel in paths}
        print(json.dumps({"cell": matches[0], "summary": summary, "artifacts": artifacts}, indent=1))
        return 0
    out_console.print(printable(matches[0]), style="bold")
    memory = summary.get("memory")
    if memory and "live_bytes" in memory:  # a JS cell: V8's sampling heap profiler, Bun's snapshot
        out_console.print(
            f"{memory.get('profiler', '--heap-prof')}: {format_bytes(memory['live_bytes'])} live at exit "
            f"({memory.get('live_bytes_are', 'sampled')}); "
            f"overhead x{num(memory.get('overhead'), 2)}"
        )
    elif memory:
        out_console.print(
            f"memray: peak heap {format_bytes(memory['peak_heap_bytes'])} (heap, not resident memory), "
            f"{memory['total_allocations']} allocations, {format_bytes(memory['total_allocated_bytes'])} "
            f"allocated in all; overhead x{num(memory.get('overhead'), 2)}"
        )
    for top in (memory or {}).get("top_allocations", [])[:5]:  # both profilers list the same way
        out_console.print(printable(f"  {format_bytes(top['size_bytes']):>10}  {top['location']}"))
    cpu = summary.get("cpu")
    if cpu and cpu.get("profiler") == "node --cpu-prof":
        out_console.print(
            f"node --cpu-prof: {cpu['samples']} samples, on-CPU share {num(cpu['active_share'], 2)}, "
            f"in streambench's Node code {num(cpu['strategy_share'], 2)}; "
            f"overhead x{num(cpu.get('overhead'), 2)}"
        )
        for top in cpu["top_self"][:5]:
            out_console.print(printable(f"  self {top['share']:6.1%}  {top['function']}"))
    elif cpu:
        active = summary.get("cpu-flamegraph", {}).get("active_share")
        out_console.print(
            f"py-spy: {cpu['samples']} samples (idle included), on-CPU share {num(active, 2)}, "
            f"blocking-call leaf share {num(cpu['wait_leaf_share'], 2)}; "
            f"overhead x{num(cpu.get('overhead'), 2)}"
        )
        for top in cpu["top_self"][:5]:
            out_console.print(printable(f"  self {top['share']:6.1%}  {top['function']}"))
    for part in summary.values():
        for name, rel in part.get("artifacts", {}).items():
            print(f"{name}: {(run_dir / rel).resolve()}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare a candidate run with a base run: exit 0 no change, 1 a regression, 3 cannot decide.

    A regression: fewer good runs (crashed, oom, timed out, unverified), a base cell missing from the
    candidate (unless --allow-missing), or a significant change beyond --fail-on. "No change" only
    when each cell's 95% interval lies within --fail-on; anything else cannot be decided."""
    import dataclasses
    import os

    from streambench.reports.compare import (
        compare,
        comparison_json,
        comparison_markdown,
        comparison_table,
        machine_notes,
        render_comparison,
    )

    fail_on = parse_fraction(args.fail_on)
    base_path, cand_path = _compare_paths(args)
    base = load_inputs(base_path)
    cand = load_inputs(cand_path)
    comparison = compare(
        base.records, cand.records, fail_on, correction=args.correction, allow_missing=args.allow_missing
    )
    comparison = dataclasses.replace(
        comparison, notes=[*comparison.notes, *machine_notes(base.meta, cand.meta)]
    )
    if args.format == "json":
        print(json.dumps(comparison_json(comparison), indent=2, default=str))
    elif args.format == "md":
        print(comparison_markdown(comparison))
    else:
        # A table of eight columns needs room: a terminal's width, or 160 columns in a log.
        console = make_console() if Console().is_terminal else make_console(width=160)
        console.print(comparison_table(comparison))
        # Why each cell that is not "no change" is what it is: the figures and counters that decided it.
        for cell in comparison.cells:
            if cell.verdict != "same" and cell.reasons:
                console.print(printable(f"{cell.words}: {cell.label}: {'; '.join(cell.reasons)}"))
        for note in comparison.notes:
            console.print(printable(f"note: {note}"))
        style = {"regression": "bold red", "undecided": "yellow", "machine changed": "yellow"}.get(
            comparison.outcome, ""
        )
        console.print(comparison.summary_line(), style=style)
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as summary:
            summary.write(comparison_markdown(comparison) + "\n")
    if args.output:
        html = render_comparison(comparison, base.meta, cand.meta)
        print(
            write_atomic(Path(args.output), html.encode()), file=sys.stderr if args.format != "text" else None
        )
    return comparison.exit_status


def _compare_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """BASE CAND, or --baseline NAME CAND."""
    runs = list(args.runs)
    if args.baseline:
        if len(runs) != 1:
            raise UsageError("with --baseline NAME, give one run to compare with it (the candidate)")
        return baselines.find(args.baseline, baselines.baselines_dir(args.baselines_dir)).path, Path(runs[0])
    if len(runs) != 2:
        raise UsageError("compare needs BASE and CAND (two runs), or --baseline NAME and CAND")
    return Path(runs[0]), Path(runs[1])


def cmd_history(args: argparse.Namespace) -> int:
    """A page of each cell's median and interval across saved baselines (or run folders), changes flagged."""
    from streambench.reports.history import SavedRun, history, render_history

    root = baselines.baselines_dir(args.baselines_dir)
    runs: list[SavedRun] = []
    if args.names:
        for name in args.names:
            path = Path(name)
            if path.is_dir() and (path / RESULTS_FILE).is_file():  # a run folder, by its path
                inputs = load_inputs(path)
                runs.append(SavedRun(path.name, inputs.meta, inputs.records))
            else:
                found = baselines.find(name, root)
                inputs = load_inputs(found.path)
                runs.append(SavedRun(found.name, inputs.meta, inputs.records))
    else:
        for found in baselines.saved(root):
            inputs = load_inputs(found.path)
            runs.append(SavedRun(found.name, inputs.meta, inputs.records))
    if len(runs) < 2:
        raise UsageError(
            f"history needs two saved runs or more; {len(runs)} found in {root} "
            "(save some with: streambench run ... --save-baseline NAME)"
        )
    fail_on = parse_fraction(args.fail_on)
    view = history(runs, fail_on, allow_missing=args.allow_missing)
    output = Path(args.output) if args.output else root / "history.html"
    path = write_atomic(output, render_history(view).encode())
    print(printable(view.summary_line()))
    print(path)
    # A gate on the newest run: 1 when it regressed from the one before it.
    return Exit.REGRESSION if view.newest_regressed else Exit.OK


def cmd_export(args: argparse.Namespace) -> int:
    """Export a run's records as parquet, CSV or pytest-benchmark JSON."""
    from streambench.reports.export import EXPORTERS, MissingDependency

    inputs = load_inputs(Path(args.run_dir))
    try:
        data = EXPORTERS[args.format](inputs.records, inputs.meta)
    except MissingDependency as exc:
        raise UsageError(str(exc)) from None
    print(write_atomic(Path(args.output), data))
    return 0


def add_commands(subparsers: Any) -> None:
    """Add ``report``, ``compare`` and ``export`` to the CLI's subparsers."""
    from streambench.reports.export_formats import FORMATS

    report = subparsers.add_parser(
        "report", help="rebuild the HTML report of a run (or of a pytest-benchmark JSON file)"
    )
    report.add_argument("run_dir", help="a run directory or a pytest-benchmark JSON file")
    report.add_argument("-o", "--output", help="where to write the HTML (default RUN_DIR/report.html)")
    report.set_defaults(func=cmd_report)

    compare = subparsers.add_parser(
        "compare",
        help="compare two runs cell by cell (exit 0 no change, 1 regression, 3 cannot decide)",
        description=cmd_compare.__doc__,
        epilog=EXIT_CODES_HELP,
    )
    compare.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="BASE CAND (run directories or pytest-benchmark JSON files), or only CAND with --baseline",
    )
    compare.add_argument("--baseline", metavar="NAME", help="the base is this saved baseline")
    _add_baseline_options(
        compare, "the margin: no change only within it, a regression only a significant change beyond it"
    )
    compare.add_argument(
        "--format", choices=("text", "md", "json"), default="text", help="what is printed (default text)"
    )
    compare.add_argument(
        "--correction",
        choices=("holm", "bh"),
        default="holm",
        help="multiple-comparison correction: holm (default) or bh (Benjamini-Hochberg)",
    )
    compare.add_argument("-o", "--output", help="also write the comparison as HTML here")
    compare.set_defaults(func=cmd_compare)

    history = subparsers.add_parser(
        "history", help="each cell's median and interval across saved baselines, changes flagged (HTML)"
    )
    history.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="baselines (or run directories), oldest first; default: all saved",
    )
    history.add_argument(
        "-o", "--output", help="where to write the page (default BASELINES_DIR/history.html)"
    )
    history.add_argument("--baselines-dir", help="where baselines are kept (default ./results/baselines)")
    history.add_argument(
        "--fail-on", default="5%", help="flag a significant change beyond this, as compare does (default 5%%)"
    )
    history.add_argument(
        "--allow-missing", action="store_true", help="a cell gone from a later run is not a regression"
    )
    history.set_defaults(func=cmd_history)

    export = subparsers.add_parser("export", help="export a run's records (parquet, csv, pytest-benchmark)")
    export.add_argument("run_dir", help="a run directory (or a pytest-benchmark JSON file)")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("-o", "--output", required=True, help="the file to write")
    export.set_defaults(func=cmd_export)


def _add_baseline_options(parser: argparse.ArgumentParser, fail_on_help: str) -> None:
    """``--baselines-dir`` and ``--fail-on``, worded the same for compare and history."""
    parser.add_argument("--baselines-dir", help="where baselines are kept (default ./results/baselines)")
    parser.add_argument("--fail-on", default="5%", help=f"{fail_on_help} (default 5%%)")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="a base cell the candidate lacks is a note, not a regression",
    )


def add_profile_command(subparsers: Any) -> None:
    profile = subparsers.add_parser("profile", help="print a cell's profiler summaries and artifact paths")
    profile.add_argument("run_dir")
    profile.add_argument("cell", help="a cell id (or a unique prefix, e.g. 'mmap-video')")
    profile.add_argument("--json", action="store_true", help="the summaries and artifact paths as JSON")
    profile.set_defaults(func=cmd_profile)
