"""Everything the command line draws: consoles, progress bars, plans, summaries, verdicts.

The session reports through :class:`harness.session.SessionEvents`; this module
turns those events into rich output on stderr. Consoles interpret no markup
(names and records are data), and every value passes through ``printable``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

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

from harness.common.text import console, printable
from harness.common.units import format_bytes
from harness.plan.config import Cell
from harness.plan.planning import PlannedRun
from harness.results.record import Record
from harness.session import SessionEvents
from workloads.cache import ProgressFn, WorkloadSpec

err_console = console(stderr=True)
out_console = console()
_STYLES = {"info": None, "warn": "yellow", "error": "red"}


def num(value: Any, digits: int) -> str:
    return "–" if value is None or value != value else f"{float(value):.{digits}f}"


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


def print_summary(records: list[dict[str, Any]]) -> None:
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
            num(row.get("throughput_gbps_median"), 3),
            num(row.get("share_of_cat"), 2),
            format_bytes(row.get("peak_rss_bytes_median") or float("nan")),
            f"{row.get('verified_runs', '?')}/{row.get('runs', '?')}",
        )
    err_console.print(table)


def print_verdicts(scenario: Any, verdicts: list[Any]) -> None:
    table = Table(title=printable(f"scenario {scenario.name}: {scenario.question}"))
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
            self.progress.update(self.task, description=printable(f"{run.cell.label}{tag}"))

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
