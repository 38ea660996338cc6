"""Everything the command line draws: consoles, progress bars, plans, summaries, verdicts.

The session reports through :class:`harness.session.SessionEvents`; this module
turns those events into rich output on stderr. Consoles interpret no markup
(names and records are data), and every value passes through ``printable``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from rich import box
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

from streambench.harness.common.text import console, printable
from streambench.harness.common.units import format_bytes
from streambench.harness.plan.config import Cell
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.results.record import Record
from streambench.harness.session import SessionEvents
from streambench.workloads.cache import ProgressFn, WorkloadSpec

err_console = console(stderr=True)
out_console = console()
_STYLES = {"info": None, "warn": "yellow", "error": "red"}


def num(value: Any, digits: int) -> str:
    return "–" if value is None or value != value else f"{float(value):.{digits}f}"


def print_listing(title: str, columns: list[str], rows: list[list[str]], *, as_json: bool = False) -> None:
    """A listing (strategies, workloads, runtimes, scenarios): a table on a terminal; in a pipe one
    tab-separated line per row under a header line (never cut to a width: ``| grep`` finds every
    name and path); ``--json``: a JSON list of objects keyed by the column names."""
    import json

    if as_json:
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=1))
        return
    if not out_console.is_terminal:
        print("\t".join(columns))
        for row in rows:
            print("\t".join(printable(v).replace("\n", "; ").replace("\t", " ") for v in row))
        return
    table = Table(title=printable(title))
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(printable(v) for v in row))
    out_console.print(table)


def print_skipped(skipped: list[tuple[Cell, str]]) -> None:
    """Skipped cells by reason: a count and a few examples each, never one line per cell."""
    by_reason: dict[str, list[Cell]] = {}
    for cell, reason in skipped:
        by_reason.setdefault(reason, []).append(cell)
    for reason, cells in list(by_reason.items())[:20]:
        examples = ", ".join(c.label for c in cells[:2]) + (", ..." if len(cells) > 2 else "")
        err_console.print(printable(f"skipped {len(cells)} cell(s): {reason} (e.g. {examples})"))
    if len(by_reason) > 20:
        err_console.print(f"... and {len(by_reason) - 20} more reasons (run.json lists them)")


def print_summary(records: list[Record], to: Console | None = None) -> None:
    """Medians per cell, grouped by setting, in the console's width: anon (heap, buffers) and
    file-backed (mapped pages) peaks apart, so mmap's mapped file does not read as a heap. A
    narrow terminal loses "vs cat" first, then "ok" (rich would drop columns from the right)."""
    from streambench.reports.html import summary_frame

    summary = summary_frame(records)
    if summary.empty:
        return
    to = to or err_console
    chunks = sorted({int(c) for c in summary["chunk_bytes"]})
    one_chunk = len(chunks) == 1
    columns: list[tuple[str, int, Callable[[dict[str, Any]], str]]] = [
        ("GB/s", 7, lambda r: num(r.get("throughput_gbps_median"), 3)),
        ("vs cat", 8, lambda r: num(r.get("share_of_cat"), 2)),
        ("anon", 11, lambda r: _bytes(r.get("peak_rss_anon_bytes_median"))),
        ("file", 12, lambda r: _bytes(r.get("peak_rss_file_bytes_median"))),
        ("ok", 7, lambda r: f"{r.get('verified_runs', '?')}/{r.get('runs', '?')}"),
    ]
    for optional in ("vs cat", "ok"):
        if 18 + sum(w for _, w, _ in columns) <= to.width:
            break
        columns = [c for c in columns if c[0] != optional]
    title = "medians of measured runs; anon and file-backed peak RSS" + (
        f"; chunk {format_bytes(chunks[0])}" if one_chunk else ""
    )
    table = Table(title=title, expand=False, pad_edge=False, box=box.SIMPLE_HEAD)
    table.add_column("setting / strategy", overflow="fold", min_width=14)
    for name, _, _ in columns:
        table.add_column(name, justify="right", no_wrap=True)
    previous = None
    for raw in summary.to_dict(orient="records"):
        row = {str(k): v for k, v in raw.items()}
        setting = str(row["setting"])
        if setting != previous:
            if previous is not None:
                table.add_section()
            table.add_row(Text(printable(setting), style="bold"), *([""] * len(columns)))
        strategy = str(row["strategy"]) + ("" if one_chunk else f" {format_bytes(int(row['chunk_bytes']))}")
        table.add_row("  " + printable(strategy), *(get(row) for _, _, get in columns))
        previous = setting
    to.print(table)
    print_diagnoses(summary, to)


def print_diagnoses(summary: Any, to: Console) -> None:
    """The stream doctor's reading under the table: each fault in full, the healthy bounds in one line."""
    rows = [{str(k): v for k, v in raw.items()} for raw in summary.to_dict(orient="records")]
    faults = [r for r in rows if r.get("diagnosis_fault")]
    for r in faults:
        name = f"{r['strategy']} ({r['setting']})"
        said = printable(f"doctor: {name}: {r['diagnosis_sentence']}")
        to.print(Text(said, style="yellow"))
    bounds: dict[str, list[str]] = {}
    for r in rows:
        if not r.get("diagnosis_fault") and r.get("diagnosis_bound", "-") != "-":
            bounds.setdefault(str(r["diagnosis_bound"]), []).append(str(r["strategy"]))
    if bounds:
        paces = "; ".join(f"{bound}: {len(names)} cell(s)" for bound, names in sorted(bounds.items()))
        to.print(printable(f"doctor: no fault in the other cells; what set their pace: {paces}"))


def _bytes(value: Any) -> str:
    return "–" if value is None or value != value else format_bytes(float(value))


def print_verdicts(scenario: Mapping[str, Any], verdicts: list[Any]) -> None:
    table = Table(title=printable(f"scenario {scenario.get('name')}: {scenario.get('question')}"))
    for col in ("verdict", "runtime", "claim", "measured"):
        table.add_column(col)
    for v in verdicts:
        colour = {"holds": "green", "fails": "red"}.get(v.verdict, "yellow")
        table.add_row(Text(v.verdict, style=colour), printable(v.about), printable(v.claim.says),
                      printable(v.detail))  # fmt: skip
    err_console.print(table)


def _ask(question: str) -> bool | None:
    if sys.stdin is None or not sys.stdin.isatty():
        return None
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


@contextmanager
def _generating(spec: WorkloadSpec) -> Iterator[ProgressFn | None]:
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task(
            f"generating {spec.kind} {format_bytes(spec.size_bytes)}", total=spec.size_bytes
        )
        yield lambda done, total: progress.update(task, completed=done)


class _RunProgress:
    """The bar of a running matrix, and the lines printed above it."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task: Any = None

    def print(self, text: str, style: str | None) -> None:
        target = self.progress.console if self.progress is not None else err_console
        target.print(printable(text), style=style, markup=False)

    @contextmanager
    def executing(self, total: int) -> Iterator[None]:
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        with self.progress:
            self.task = self.progress.add_task("running", total=total)
            try:
                yield
            finally:
                self.progress = None

    def started(self, run: PlannedRun, index: int, total: int) -> None:
        if self.progress is not None:
            tag = " (warm-up)" if run.warmup else f" #{run.repeat + 1}"
            # --repeat auto's rounds come after the planned ones: the bar's total grows with them.
            task = self.progress.tasks[0]
            grown = max(task.total or 0, task.completed + 1)
            self.progress.update(self.task, description=printable(f"{run.cell.label}{tag}"), total=grown)

    def record(self, record: Record) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)
        if record.outcome != "ok" or not record.verified:
            why = record.error or record.verify_detail
            self.print(f"{record.strategy} -> {record.sink}: {record.outcome}, {why}", "red")


def session_events() -> SessionEvents:
    """The session's events drawn on this terminal."""
    bar = _RunProgress()

    def executing(total: int) -> AbstractContextManager[None]:
        return bar.executing(total)

    return SessionEvents(
        message=lambda text, level: bar.print(text, _STYLES.get(level)),
        skipped=print_skipped,
        plan=lambda plan: err_console.print(printable(plan.describe())),
        confirm=_ask,
        generating=_generating,
        run_started=bar.started,
        record=bar.record,
        finished=print_summary,
        verdicts=print_verdicts,
        executing=executing,
    )
