"""History across saved runs: each cell's median and interval per run, changes flagged (pure).

Cells are matched on their stable ``cell_id`` across runs (asv's "publish", criterion's
baselines). Each run's cell is set against the same cell in the run before it by ``compare``
itself (the one decision rule of :mod:`harness.common.decision`: fewer good runs, a missing cell,
or a significant change beyond ``fail_on`` is a regression; a change that is neither within the
margin nor significant beyond it is flagged ``undecided``), so a flag here and a failing
``compare`` of the same two runs are one and the same judgement.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from streambench.harness.results.record import Record
from streambench.reports import svg
from streambench.reports.compare import CellComparison, compare, subject_notes
from streambench.reports.frame import records_to_frame
from streambench.reports.stats import cell_summary
from streambench.reports.templating import ENV, fmt_num

MAX_CHARTS = 30


@dataclass(frozen=True)
class SavedRun:
    name: str
    meta: Mapping[str, Any]
    records: list[Record]


@dataclass(frozen=True)
class Point:
    """One cell in one saved run."""

    median_gbps: float
    low_gbps: float
    high_gbps: float
    coverage: str
    runs: int
    run_values_gbps: tuple[float, ...]
    peak_rss_bytes: float
    # Against the same cell in the run before: "regression", "improvement", "undecided", or ""
    # (within fail_on, or nothing to compare with), and what the rule said.
    change: str = ""
    detail: str = ""


@dataclass(frozen=True)
class CellHistory:
    cell_id: str
    label: str
    points: list[Point | None]

    @property
    def flagged(self) -> bool:
        return any(p is not None and p.change for p in self.points)


@dataclass(frozen=True)
class HistoryView:
    names: list[str]
    run_ids: list[str]
    cells: list[CellHistory]
    fail_on_fraction: float
    notes: list[str] = field(default_factory=list)

    @property
    def newest_regressed(self) -> bool:
        """Whether the newest run has a regression against the one before it."""
        return any(c.points[-1] is not None and c.points[-1].change == "regression" for c in self.cells)

    def flagged(self, change: str) -> list[CellHistory]:
        return [c for c in self.cells if any(p is not None and p.change == change for p in c.points)]

    def summary_line(self) -> str:
        regressions, improvements = self.flagged("regression"), self.flagged("improvement")
        undecided = self.flagged("undecided")
        return (
            f"history of {len(self.cells)} cells over {len(self.names)} runs ({', '.join(self.names)}): "
            f"{len(regressions)} with a regression, {len(improvements)} with an improvement, "
            f"{len(undecided)} undecided (as compare judges, margin {self.fail_on_fraction:.0%})"
        )


def _change(c: CellComparison) -> tuple[str, str]:
    """A cell's change against the run before, in compare's words (the one decision rule)."""
    detail = "; ".join(c.reasons)
    if c.regression:
        return "regression", detail
    if c.verdict == "better":
        return "improvement", detail
    if c.verdict == "undecided":
        return "undecided", detail
    if c.verdict == "machine":
        return "machine", detail
    return "", f"throughput {c.throughput.interval_text()}: within the margin"


def history(runs: Sequence[SavedRun], fail_on_fraction: float, *, allow_missing: bool = False) -> HistoryView:
    """Each cell of any run, with its figures per run and its change against the run before."""
    summaries = [cell_summary(records_to_frame(r.records)) for r in runs]
    changes: list[dict[str, tuple[str, str]]] = [{}]
    notes: list[str] = []
    for before, after in itertools.pairwise(runs):
        comparison = compare(before.records, after.records, fail_on_fraction, allow_missing=allow_missing)
        changes.append({c.cell_id: _change(c) for c in comparison.cells})
        notes += [f"{before.name} -> {after.name}: {n}" for n in subject_notes(before.records, after.records)]
        if comparison.undecided:
            notes.append(
                f"{before.name} -> {after.name}: {len(comparison.undecided)} of {len(comparison.cells)} "
                f"cells cannot be decided from these runs ({comparison.summary_line()})"
            )
    labels: dict[str, str] = {}
    points: dict[str, list[Point | None]] = {}
    for i, summary in enumerate(summaries):
        for row in summary.to_dict(orient="records") if not summary.empty else []:
            cell_id = str(row["cell_id"])
            labels.setdefault(cell_id, str(row["label"]))
            change, detail = changes[i].get(cell_id, ("", ""))
            points.setdefault(cell_id, [None] * len(runs))[i] = Point(
                median_gbps=float(row["throughput_gbps_median"]),
                low_gbps=float(row["throughput_gbps_ci_low"]),
                high_gbps=float(row["throughput_gbps_ci_high"]),
                coverage=str(row["ci_text"]),
                runs=int(row["ok_runs"]),
                run_values_gbps=tuple(row.get("throughput_gbps_runs") or ()),
                peak_rss_bytes=float(row.get("peak_rss_bytes_median", math.nan)),
                change=change,
                detail=detail,
            )
    # A cell the run before had and this run lacks is a regression too (compare's "missing"):
    # it gets an empty point that carries the flag.
    for i, changed in enumerate(changes):
        for cell_id, (change, detail) in changed.items():
            pts = points.get(cell_id)
            if pts is not None and pts[i] is None and change:
                pts[i] = Point(math.nan, math.nan, math.nan, "not measured", 0, (), math.nan, change, detail)
    cells = [
        CellHistory(cid, labels[cid], pts)
        for cid, pts in sorted(points.items(), key=lambda kv: labels[kv[0]])
    ]
    return HistoryView(
        names=[r.name for r in runs],
        run_ids=[str(r.meta.get("run_id", "")) for r in runs],
        cells=cells,
        fail_on_fraction=fail_on_fraction,
        notes=notes,
    )


def _chart(cell: CellHistory, names: Sequence[str]) -> Markup:
    items = []
    for name, p in zip(names, cell.points, strict=True):
        if p is None or math.isnan(p.median_gbps):
            continue
        colour = {"regression": "#b00020", "improvement": "#1b5e20", "undecided": "#f28e2b"}.get(
            p.change, svg.PALETTE[0]
        )
        items.append(
            svg.Item(
                label=name,
                value=p.median_gbps,
                low=p.low_gbps,
                high=p.high_gbps,
                colour=colour,
                runs=p.run_values_gbps,
                tooltip=f"{name}: median {fmt_num(p.median_gbps)} GB/s ({p.coverage}); {p.detail}".rstrip(
                    "; "
                ),
            )
        )
    return Markup(
        svg.interval_chart(
            items,
            title=cell.label,
            axis_label="GB/s: runs (dots), median (tick), interval (band); red: regressed from the run above",
            dots=True,
            width=600,
        )
    )


def render_history(view: HistoryView) -> str:
    """The self-contained history page."""
    flagged = [c for c in view.cells if c.flagged]
    charts = [_chart(c, view.names) for c in flagged[:MAX_CHARTS]]
    return ENV.get_template("history.html.j2").render(
        view=view,
        flagged=flagged,
        charts=charts,
        charts_omitted=max(0, len(flagged) - MAX_CHARTS),
    )
