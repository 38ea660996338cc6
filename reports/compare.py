"""Comparing two runs cell by cell: did the candidate get slower, or hungrier?

Per cell present in both runs (matched on ``cell_id``, a stable hash of the cell's
fields), over the successful measured runs of each side:

- the ratio of median throughputs (candidate / base) and of median peak RSS, each with a
  bootstrap 95% interval (both sides resampled, fixed seed per cell);
- a two-sided Mann-Whitney U test per metric, then Holm's correction (or Benjamini-Hochberg)
  over the cells compared, one family per metric;
- a regression is a change that is significant after correction AND worse than
  ``fail_on_fraction``: throughput down by more, or peak RSS up by more.

What small samples mean: the exact test on n_base and n_cand values cannot give a p-value
below 2 / C(n_base + n_cand, n_base). With 3 runs a side that is 0.1, so no change, however
large, is significant at 0.05 -- before the correction for many cells makes it harder still.
A comparison says so (``Comparison.notes``) and names the number of runs per side that would
let it detect a change (``repeats_needed``); comparing a run with itself gives p = 1 everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from markupsafe import Markup
from rich.table import Table

from harness.common.text import printable
from reports import svg
from reports.frame import records_to_frame
from reports.significance import (
    CORRECTIONS,
    bootstrap_ratio_ci,
    mann_whitney_u,
    min_p_value,
    repeats_needed,
)
from reports.stats import BOOTSTRAP_RESAMPLES, CONFIDENCE, cell_label, rng_for
from reports.templating import ENV, fmt_bytes, fmt_change, fmt_num, fmt_p

ALPHA = 0.05


@dataclass(frozen=True)
class MetricChange:
    """One metric of one cell, base against candidate."""

    base_median: float
    cand_median: float
    ratio: float  # candidate / base
    ci_low: float
    ci_high: float
    u: float
    p_value: float
    method: str
    p_adjusted: float = math.nan
    significant: bool = False


@dataclass(frozen=True)
class CellComparison:
    cell_id: str
    label: str
    fields: dict[str, Any]
    base_runs: int  # successful measured runs
    cand_runs: int
    throughput: MetricChange  # bytes/s
    memory: MetricChange  # peak RSS bytes
    min_p: float  # the smallest p-value the exact test could give with these sizes
    throughput_regressed: bool = False
    memory_regressed: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def regression(self) -> bool:
        return self.throughput_regressed or self.memory_regressed

    @property
    def verdict(self) -> str:
        if self.regression:
            return "REGRESSION"
        tp, mem = self.throughput, self.memory
        if tp.significant or mem.significant:
            parts = []
            if tp.significant:
                parts.append(f"throughput {fmt_change(tp.ratio)}")
            if mem.significant:
                parts.append(f"memory {fmt_change(mem.ratio)}")
            return "changed: " + ", ".join(parts)
        return "no significant change"


@dataclass(frozen=True)
class Comparison:
    cells: list[CellComparison]
    only_base: list[str]  # labels of cells measured in the base run only
    only_cand: list[str]
    fail_on_fraction: float
    alpha: float = ALPHA
    correction: str = "holm"
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[CellComparison]:
        return [c for c in self.cells if c.regression]

    @property
    def has_regression(self) -> bool:
        return any(c.regression for c in self.cells)

    @property
    def undecidable(self) -> list[CellComparison]:
        """Cells whose runs can never reach significance after the correction (Holm's first step)."""
        m = len(self.cells)
        return [c for c in self.cells if c.min_p * m >= self.alpha]

    @property
    def runs_needed(self) -> int:
        """Runs a side that would let every cell reach significance at ``alpha`` after the correction."""
        return repeats_needed(max(len(self.cells), 1), self.alpha)

    @property
    def outcome(self) -> str:
        """``regression``, ``undecided`` (these runs cannot tell), or ``no change``."""
        if self.has_regression:
            return "regression"
        if not self.cells or self.undecidable:
            return "undecided"
        return "no change"

    @property
    def exit_status(self) -> int:
        """0 no change, 1 a regression, 3 cannot decide with these runs."""
        return {"regression": 1, "undecided": 3, "no change": 0}[self.outcome]

    def summary_line(self) -> str:
        if self.outcome == "regression":
            return f"{len(self.regressions)} significant regression(s) beyond --fail-on"
        if self.outcome == "undecided":
            if not self.cells:
                return "cannot decide: no cell was measured in both runs"
            n = len(self.undecidable)
            return (
                f"cannot decide: {n} of {len(self.cells)} cells have too few runs to ever show a change; "
                f"re-run both with --repeat {self.runs_needed} or more"
            )
        return "no significant regression beyond --fail-on"


def _samples(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per cell id: its fields, label and the throughput and peak RSS of its ok measured runs."""
    df = records_to_frame(records)
    out: dict[str, dict[str, Any]] = {}
    if df.empty:
        return out
    measured = df[df["measured"]]
    # A run on several machines compares cell by cell *and* machine by machine (by hostname).
    for (cell_id, machine), group in measured.groupby(["cell_id", "machine_label"], sort=True):
        first = group.iloc[0].to_dict()
        ok = group[group["ok"]]
        out[f"{cell_id}@{machine}" if machine else str(cell_id)] = {
            "label": cell_label(first),
            "fields": {
                k: first[k] for k in ("strategy", "workload", "size_bytes", "sink", "chunk_bytes", "cache")
            },
            "throughput": ok["throughput_bps"].dropna().to_numpy(float),
            "memory": ok["peak_rss_bytes"].dropna().to_numpy(float),
        }
    return out


def _metric(base: np.ndarray, cand: np.ndarray, key: str) -> MetricChange:
    b_med = float(np.median(base)) if base.size else math.nan
    c_med = float(np.median(cand)) if cand.size else math.nan
    ratio = c_med / b_med if b_med and not math.isnan(b_med) and not math.isnan(c_med) else math.nan
    low, high = bootstrap_ratio_ci(base, cand, rng_for(key), BOOTSTRAP_RESAMPLES, CONFIDENCE)
    test = mann_whitney_u(cand, base)
    return MetricChange(b_med, c_med, ratio, low, high, test.u, test.p_value, test.method)


def compare(
    base_records: Sequence[dict[str, Any]],
    cand_records: Sequence[dict[str, Any]],
    fail_on_fraction: float,
    *,
    alpha: float = ALPHA,
    correction: str = "holm",
) -> Comparison:
    """Compare two runs' records cell by cell (pure; see the module doc for the rules)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; valid: {', '.join(CORRECTIONS)}")
    base, cand = _samples(base_records), _samples(cand_records)
    common = sorted(set(base) & set(cand))
    raw: list[CellComparison] = []
    for cell_id in common:
        b, c = base[cell_id], cand[cell_id]
        raw.append(
            CellComparison(
                cell_id=cell_id,
                label=str(b["label"]),
                fields=dict(b["fields"]),
                base_runs=int(b["throughput"].size),
                cand_runs=int(c["throughput"].size),
                throughput=_metric(b["throughput"], c["throughput"], f"{cell_id}/throughput"),
                memory=_metric(b["memory"], c["memory"], f"{cell_id}/memory"),
                min_p=min_p_value(int(b["throughput"].size), int(c["throughput"].size)),
            )
        )
    adjust = CORRECTIONS[correction]
    tp_adj = adjust([r.throughput.p_value for r in raw])
    mem_adj = adjust([r.memory.p_value for r in raw])
    cells: list[CellComparison] = []
    for r, tp_p, mem_p in zip(raw, tp_adj, mem_adj, strict=True):
        tp = _with_adjusted(r.throughput, tp_p, alpha)
        mem = _with_adjusted(r.memory, mem_p, alpha)
        slower = tp.significant and tp.ratio < 1 - fail_on_fraction
        hungrier = mem.significant and mem.ratio > 1 + fail_on_fraction
        reasons: list[str] = []
        if slower:
            reasons.append(f"throughput {fmt_change(tp.ratio)} (adjusted p {fmt_p(tp_p)})")
        if hungrier:
            reasons.append(f"peak RSS {fmt_change(mem.ratio)} (adjusted p {fmt_p(mem_p)})")
        cells.append(
            CellComparison(
                r.cell_id,
                r.label,
                r.fields,
                r.base_runs,
                r.cand_runs,
                tp,
                mem,
                r.min_p,
                throughput_regressed=slower,
                memory_regressed=hungrier,
                reasons=tuple(reasons),
            )
        )
    only_base = sorted(str(base[k]["label"]) for k in set(base) - set(cand))
    only_cand = sorted(str(cand[k]["label"]) for k in set(cand) - set(base))
    return Comparison(
        cells,
        only_base,
        only_cand,
        fail_on_fraction,
        alpha,
        correction,
        _notes(cells, alpha, correction, only_base, only_cand),
    )


def _with_adjusted(m: MetricChange, p_adjusted: float, alpha: float) -> MetricChange:
    return MetricChange(
        m.base_median,
        m.cand_median,
        m.ratio,
        m.ci_low,
        m.ci_high,
        m.u,
        m.p_value,
        m.method,
        p_adjusted=p_adjusted,
        significant=p_adjusted < alpha,
    )


def _notes(
    cells: list[CellComparison], alpha: float, correction: str, only_base: list[str], only_cand: list[str]
) -> list[str]:
    notes: list[str] = []
    if not cells:
        notes.append("no cell was measured in both runs: nothing to compare")
        return notes
    m = len(cells)
    # Holm's first step multiplies the smallest p-value by m (so does BH for one changed cell).
    reachable = [c for c in cells if c.min_p * m < alpha]
    if not reachable:
        most = min(cells, key=lambda c: c.min_p)  # the cell with the most runs: the best chance
        n_base, n_cand = most.base_runs, most.cand_runs
        smallest = fmt_p(most.min_p)
        notes.append(
            f"no change can be significant here: with {n_base} and {n_cand} successful runs a side the "
            f"smallest possible Mann-Whitney p-value is {smallest} (2 / C({n_base + n_cand}, {n_base})), and "
            f"{correction} over {m} cell{'s' if m != 1 else ''} multiplies it by up to {m}; re-run both with "
            f"--repeat {repeats_needed(m, alpha)} or more to be able to detect a change at {alpha:g} "
            "(the ratios and intervals still show the size of any change)"
        )
    elif len(reachable) < m:
        notes.append(
            f"{m - len(reachable)} of {m} cells have too few runs to ever reach significance "
            f"after {correction}"
        )
    if only_base:
        notes.append(f"{len(only_base)} cell(s) only in the base run (not compared)")
    if only_cand:
        notes.append(f"{len(only_cand)} cell(s) only in the candidate run (not compared)")
    return notes


def machine_notes(base_meta: Mapping[str, Any], cand_meta: Mapping[str, Any]) -> list[str]:
    """What differs between the two runs' machines: a change may be the machine's, not the code's."""
    notes: list[str] = []
    base_m, cand_m = base_meta.get("machine") or {}, cand_meta.get("machine") or {}
    for key, what in (("hostname", "machine"), ("cpu_model", "CPU"), ("cpu_count", "core count"),
                      ("kernel", "kernel"), ("python", "Python")):  # fmt: skip
        b, c = base_m.get(key), cand_m.get(key)
        if b is not None and c is not None and b != c:
            notes.append(f"the runs differ in {what}: {b} (base) vs {c} (candidate)")

    # Runs on a cluster list every machine that measured them: a comparison across them says so.
    def hosts(meta: Mapping[str, Any]) -> dict[str, str]:
        machines = meta.get("machines")
        listed = machines if isinstance(machines, list) else []
        return {str(m.get("machine_id")): str(m.get("hostname")) for m in listed if isinstance(m, dict)}

    base_hosts, cand_hosts = hosts(base_meta), hosts(cand_meta)
    if base_hosts and cand_hosts and set(base_hosts) != set(cand_hosts):
        notes.append(
            "the comparison crosses machines: base measured on "
            f"{', '.join(sorted(base_hosts.values()))}, candidate on {', '.join(sorted(cand_hosts.values()))}"
        )
    base_cal, cand_cal = base_meta.get("calibration") or {}, cand_meta.get("calibration") or {}
    for key in sorted(set(base_cal) & set(cand_cal)):
        b, c = base_cal[key], cand_cal[key]
        if isinstance(b, int | float) and isinstance(c, int | float) and b > 0 and abs(c / b - 1) > 0.2:
            notes.append(f"the machines' calibrations differ: {key} {b:.3g} (base) vs {c:.3g} (candidate)")
    return notes


def comparison_markdown(comparison: Comparison) -> str:
    """A Markdown table and the verdict (for ``--format md`` and ``$GITHUB_STEP_SUMMARY``)."""

    def cell(text: str) -> str:
        return printable(text).replace("|", "\\|")

    lines = [
        f"### streambench compare: {comparison.outcome}",
        "",
        comparison.summary_line(),
        "",
        "| cell | runs b/c | GB/s base → cand | change [95% CI] | p adj | peak RSS change | p adj "
        "| verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in comparison.cells:
        tp, mem = c.throughput, c.memory
        lines.append(
            f"| {cell(c.label)} | {c.base_runs}/{c.cand_runs} | {fmt_num(tp.base_median / 1e9)} → "
            f"{fmt_num(tp.cand_median / 1e9)} | {fmt_change(tp.ratio)} [{fmt_change(tp.ci_low)}, "
            f"{fmt_change(tp.ci_high)}] | {fmt_p(tp.p_adjusted)} | {fmt_change(mem.ratio)} | "
            f"{fmt_p(mem.p_adjusted)} | {cell(c.verdict)} |"
        )
    lines += ["", *(f"- note: {cell(n)}" for n in comparison.notes), ""]
    return "\n".join(lines)


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """Everything the comparison decided, as plain data (``--format json``)."""

    def metric(m: MetricChange) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in m.__dict__.items()}

    return {
        "outcome": comparison.outcome,
        "exit_status": comparison.exit_status,
        "summary": comparison.summary_line(),
        "runs_needed": comparison.runs_needed if comparison.outcome == "undecided" else None,
        "fail_on_fraction": comparison.fail_on_fraction,
        "alpha": comparison.alpha,
        "correction": comparison.correction,
        "notes": list(comparison.notes),
        "only_base": comparison.only_base,
        "only_cand": comparison.only_cand,
        "cells": [
            {
                "cell_id": c.cell_id,
                "label": c.label,
                "fields": c.fields,
                "base_runs": c.base_runs,
                "cand_runs": c.cand_runs,
                "verdict": c.verdict,
                "regression": c.regression,
                "can_reach_significance": c not in comparison.undecidable,
                "throughput": metric(c.throughput),
                "memory": metric(c.memory),
                "reasons": list(c.reasons),
            }
            for c in comparison.cells
        ],
    }


# --- output ------------------------------------------------------------------


def comparison_table(comparison: Comparison) -> Table:
    """A terminal table: one row per compared cell."""
    table = Table(
        title=f"candidate vs base ({comparison.correction}-corrected, alpha {comparison.alpha:g}, "
        f"--fail-on {comparison.fail_on_fraction:.0%})"
    )
    for column in (
        "cell",
        "runs b/c",
        "GB/s base → cand",
        "change [95% CI]",
        "p adj",
        "peak RSS change",
        "p adj",
        "verdict",
    ):
        table.add_column(column, no_wrap=column not in ("cell", "verdict"))
    for c in comparison.cells:
        tp, mem = c.throughput, c.memory
        style = "bold red" if c.regression else ("yellow" if tp.significant or mem.significant else "")
        table.add_row(
            printable(c.label),
            f"{c.base_runs}/{c.cand_runs}",
            f"{fmt_num(tp.base_median / 1e9)} → {fmt_num(tp.cand_median / 1e9)}",
            f"{fmt_change(tp.ratio)} [{fmt_change(tp.ci_low)}, {fmt_change(tp.ci_high)}]",
            fmt_p(tp.p_adjusted),
            f"{fmt_change(mem.ratio)} [{fmt_change(mem.ci_low)}, {fmt_change(mem.ci_high)}]",
            fmt_p(mem.p_adjusted),
            c.verdict,
            style=style,
        )
    return table


def _ratio_chart(
    comparison: Comparison,
    what: str,
    title: str,
    metric: Callable[[CellComparison], MetricChange],
    regressed: Callable[[CellComparison], bool],
    fail: float,
) -> Markup | None:
    """A dot per cell at the ratio of medians, whiskers at its bootstrap interval; --fail-on shaded."""
    items = []
    for c in comparison.cells:
        m = metric(c)
        items.append(
            svg.Item(
                label=c.label,
                value=m.ratio,
                low=m.ci_low,
                high=m.ci_high,
                colour="#b00020" if regressed(c) else ("#f28e2b" if m.significant else "#4e79a7"),
                tooltip=f"{c.label}: {what} {fmt_change(m.ratio)}, 95% CI {fmt_change(m.ci_low)} to "
                f"{fmt_change(m.ci_high)}, adjusted p {fmt_p(m.p_adjusted)}",
            )
        )
    if not items:
        return None
    return Markup(
        svg.interval_chart(
            items,
            title=title,
            axis_label="ratio of medians (dot), bootstrap 95% CI (whiskers); shaded: within --fail-on",
            ref_lines=[svg.RefLine(1.0, "no change", band=(1 - fail, 1 + fail))],
            value_format=fmt_change,
            dots=True,
            width=900,
        )
    )


def render_comparison(
    comparison: Comparison,
    base_meta: Mapping[str, Any] | None = None,
    cand_meta: Mapping[str, Any] | None = None,
) -> str:
    """The comparison as one self-contained HTML page (pure)."""
    base_meta, cand_meta = base_meta or {}, cand_meta or {}
    fail = comparison.fail_on_fraction
    charts = [
        _ratio_chart(
            comparison,
            "throughput",
            "throughput, candidate / base",
            lambda c: c.throughput,
            lambda c: c.throughput_regressed,
            fail,
        ),
        _ratio_chart(
            comparison,
            "peak RSS",
            "peak RSS, candidate / base",
            lambda c: c.memory,
            lambda c: c.memory_regressed,
            fail,
        ),
    ]
    return ENV.get_template("compare.html.j2").render(
        comparison=comparison,
        charts=[c for c in charts if c is not None],
        base_id=str(base_meta.get("run_id", "base")),
        cand_id=str(cand_meta.get("run_id", "candidate")),
        gbps=lambda bps: fmt_num(bps / 1e9) if bps == bps else "–",
        fmt_bytes=fmt_bytes,
    )
