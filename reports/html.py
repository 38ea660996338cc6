"""The HTML report: (run meta, records) in, one self-contained HTML string out. No I/O here.

Everything the page needs is inline: CSS, a few lines of script (table sorting)
and the charts, drawn here as SVG. A section without data says why instead of
vanishing.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from markupsafe import Markup

from streambench.harness.common.decision import TIE_FRACTION, min_runs_for_interval
from streambench.harness.results.record import Record
from streambench.reports import svg
from streambench.reports.frame import PAGE_BYTES, records_to_frame
from streambench.reports.stats import (
    SETTING_COLUMNS,
    WARNING_KINDS,
    best_per_setting,
    cell_summary,
    chunk_knees,
    judge_pair,
    memory_scaling,
    pareto_front,
    ranking_per_setting,
    setting_label,
    sweep_label,
)
from streambench.reports.templating import ENV, fmt_bytes, fmt_num, fmt_pct, is_missing

# Caps that keep a report of thousands of cells readable and quick to build.
MAX_CHARTS = 40
MAX_EMBEDS = 20  # flame graphs embedded in one page (each is 100s of KB); the rest are linked
MAX_WARNINGS = 50
# A cell's id may hold ':' and '=' (async:loop=uvloop): kept, and the link is percent-encoded
# (quote), so "a:b" can never be read as a URL scheme.
_SAFE_RELATIVE_PATH = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_.@%+=,:/-]+$")


def render_report(
    meta: dict[str, Any], records: Sequence[Record], artifacts: Mapping[str, str] | None = None
) -> str:
    """The report page for one run (pure: the caller writes the file).

    ``artifacts``: profiler files the caller read from the run folder (path relative to it ->
    text), embedded under their cell (py-spy's SVG flame graph); without them the page links.
    """
    return ENV.get_template("report.html.j2").render(**report_view(meta, records, artifacts))


def summary_frame(records: Sequence[Record]) -> pd.DataFrame:
    """The per-cell summary the report shows, for terminal tables."""
    return cell_summary(records_to_frame(records))


def report_view(
    meta: Mapping[str, Any], records: Sequence[Record], artifacts: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Everything the template shows, computed (and formatted where it helps) in Python."""
    df = records_to_frame(records)
    calibration = meta.get("calibration") if isinstance(meta.get("calibration"), dict) else None
    summary = _mark_expected(cell_summary(df, calibration), _expected(meta))
    colours = svg.colour_map([str(s) for s in summary["strategy"]] if not summary.empty else [])
    measured = df[df["measured"]] if not df.empty else df
    return {
        "run_id": str(meta.get("run_id", "")),
        "sample_ms": _sample_ms(meta, df),
        "counts": {
            "records": len(df),
            "warmup": int(df["warmup"].sum()) if not df.empty else 0,
            "profiled": int(df["profiler"].notna().sum()) if not df.empty else 0,
            "measured": len(measured),
            "failed": int((~measured["ok"]).sum()) if not measured.empty else 0,
            "unverified": int((measured["ok"] & (measured["verified"].astype(object) == False)).sum())  # noqa: E712
            if not measured.empty
            else 0,
            "cells": len(summary),
        },
        "story": _story(df, summary, colours),
        "best": _best_rows(summary),
        "warnings": _warnings(meta, summary, calibration),
        "table": _table_rows(summary),
        "memory": _memory_section(summary, colours),
        "js_memory": Markup(_js_memory(df, summary)),
        "backpressure": _backpressure_section(summary),
        "work": _work_section(summary),
        "chunks": _chunk_section(summary, colours),
        "pareto": _pareto_section(summary, colours),
        "http": _http_rows(records),
        "ttfb_charts": _ttfb_cdfs(records),
        "flagged": _flagged_rows(df, _expected(meta)),
        "skipped": _skipped(meta),
        "profiles": _profiles(df, artifacts or {}),
        "calibration": _calibration(calibration),
        "machine": _pairs(meta.get("machine")),
        "config": _pairs(meta.get("config")),
    }


# --- helpers ---------------------------------------------------------------

# Where a JS worker's resident memory was at its peak (process.memoryUsage(); Node documents
# arrayBuffers as part of external): what the flat ~40 MiB of a stream is made of.
JS_MEMORY_PARTS = {
    "V8 heap used": "#4e79a7",
    "Buffers (arrayBuffers)": "#f28e2b",
    "other external": "#edc948",
    "the rest of RSS (code, V8's reserve, stacks)": "#bab0ac",
}
MAX_JS_MEMORY_ROWS = 40


def _js_memory(df: pd.DataFrame, summary: pd.DataFrame) -> str:
    """A stacked bar per JS cell (its median run): heap, Buffers, other external, the rest of RSS."""
    if summary.empty or "strategy_notes" not in df:
        return ""
    rows: list[tuple[str, list[tuple[str, float]]]] = []
    for raw in summary.to_dict(orient="records")[:MAX_JS_MEMORY_ROWS]:
        notes = df.at[raw["representative"], "strategy_notes"]
        peak = notes.get("memory_at_peak") if isinstance(notes, dict) else None
        if not isinstance(peak, dict) or not all(
            isinstance(peak.get(k), int | float) for k in ("rss", "heapUsed")
        ):
            continue
        rss, heap = float(peak["rss"]), float(peak["heapUsed"])
        buffers = float(peak.get("arrayBuffers") or 0)
        external = max(float(peak.get("external") or 0) - buffers, 0.0)
        rest = max(rss - heap - buffers - external, 0.0)
        parts = list(zip(JS_MEMORY_PARTS, (heap, buffers, external, rest), strict=True))
        rows.append((f"{raw['strategy']} {raw['setting']}", parts))
    title = "JS workers' memory at their peak (process.memoryUsage(), median run)"
    return svg.stacked_bars(rows, title, JS_MEMORY_PARTS, fmt=fmt_bytes) if rows else ""


def _http_rows(records: Sequence[Record]) -> list[dict[str, str]]:
    """One row per http cell: the server's memory and the viewers' figures, medians of measured runs."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        if r.sink == "http" and r.http and not r.warmup and not r.profiler:
            groups.setdefault(r.cell_id, []).append(r)

    def med(rows: list[Record], get: Any) -> float | None:
        # Numbers only: a hostile or corrupt sub-record's "x" is no figure (and no crash).
        values = [float(v) for v in (get(r) for r in rows)
                  if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]  # fmt: skip
        return float(np.median(values)) if values else None

    out = []
    for rows in groups.values():
        first = rows[0]
        ttfb50 = med(rows, lambda r: r.http.get("ttfb_p50_s"))
        ttfb99 = med(rows, lambda r: r.http.get("ttfb_p99_s"))
        out.append(
            {
                "strategy": first.strategy,
                "route": first.http_route,
                "workload": f"{first.workload} {fmt_bytes(first.size_bytes)}",
                "clients": str(first.clients),
                "view": fmt_bytes(first.view_bytes),
                "outcomes": ", ".join(sorted({r.outcome for r in rows})),
                "server_peak": fmt_bytes(med(rows, lambda r: r.peak_rss_bytes)),
                "server_anon": fmt_bytes(med(rows, lambda r: r.peak_rss_anon_bytes)),
                "per_client": fmt_bytes(med(rows, lambda r: r.http.get("per_client_bytes"))),
                "ttfb": f"{fmt_num(ttfb50 * 1000 if ttfb50 is not None else None, 3)} / "
                f"{fmt_num(ttfb99 * 1000 if ttfb99 is not None else None, 3)}",
                "aggregate": fmt_num((med(rows, lambda r: r.http.get("aggregate_bps")) or 0) / 1e6, 3),
                "failed": str(sum(int(med([r], lambda r: r.http.get("failed_clients")) or 0) for r in rows)),
            }
        )
    return sorted(
        out, key=lambda row: (row["route"], row["workload"], row["strategy"], row["clients"].rjust(6))
    )


def _sample_ms(meta: Mapping[str, Any], df: pd.DataFrame) -> str:
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    interval = config.get("rss_sample_interval_s") if config else None
    if interval is None and not df.empty and "rss_sample_interval_s" in df:
        interval = pd.to_numeric(df["rss_sample_interval_s"], errors="coerce").median()
    return fmt_num(float(interval) * 1000, 3) if interval is not None and not is_missing(interval) else "10"


def _groups(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    if frame.empty:
        return []
    out = []
    for key, group in frame.groupby(list(columns), dropna=False, sort=True):
        out.append((dict(zip(columns, key, strict=True)), group))
    return out


def _gbps(value: float) -> str:
    return f"{value:.3g} GB/s" if not is_missing(value) else "no value"


def _strategy_chunk(row: Mapping[Any, Any], show_chunk: bool) -> str:
    return f"{row['strategy']} {fmt_bytes(row['chunk_bytes'])}" if show_chunk else str(row["strategy"])


def _pairs(mapping: Any) -> list[tuple[str, str]]:
    if not isinstance(mapping, dict):
        return []
    out: list[tuple[str, str]] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            text = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = json.dumps(value, default=str)
        else:
            text = str(value)
        out.append((str(key), text))
    return out


# --- summary ---------------------------------------------------------------


def _best_rows(summary: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for entry in best_per_setting(summary):
        best, runner_up = entry["best"], entry["runner_up"]
        if runner_up is None:
            verdict = "the only strategy with a value"
        else:
            ahead = best["throughput_gbps_median"] / runner_up["throughput_gbps_median"] - 1
            verdict = {
                "decided": f"{ahead:.0%} ahead of {runner_up['strategy']}: decided (Mann-Whitney, beyond "
                f"{TIE_FRACTION:.0%})",
                "tie": f"a tie with {runner_up['strategy']}: the 95% interval of their ratio is within "
                f"{TIE_FRACTION:.0%}",
            }.get(judge_pair(best, runner_up), f"not a clear win over {runner_up['strategy']} yet "
                  f"({ahead:.0%} ahead by the medians)")  # fmt: skip
        rows.append(
            {
                "setting": best["setting"],
                "strategy": best["strategy"],
                "chunk": fmt_bytes(best["chunk_bytes"]),
                "gbps": fmt_num(best["throughput_gbps_median"]),
                "ci": f"{fmt_num(best['throughput_gbps_ci_low'])}–{fmt_num(best['throughput_gbps_ci_high'])}",
                "limit": (
                    f"{fmt_pct(best['share_of_limit'])} of {best['limit_name']}"
                    if not is_missing(best["share_of_limit"])
                    else best["limit_name"]
                ),
                "runner_up": (
                    f"{runner_up['strategy']} {fmt_num(runner_up['throughput_gbps_median'])}"
                    if runner_up
                    else "–"
                ),
                "verdict": verdict,
                "cells": entry["cells"],
            }
        )
    return rows


def _warnings(
    meta: Mapping[str, Any], summary: pd.DataFrame, calibration: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Run-level notes, then the cells' warnings grouped by kind (one line each, cells folded)."""
    notes = meta.get("notes")
    run_level = [str(n) for n in notes] if isinstance(notes, list) else []
    if not calibration:
        run_level.append(
            "no calibration: this run's run.json has no machine limits, so no % of limit is shown"
        )
    kinds: dict[str, list[tuple[str, str]]] = {kind: [] for kind in WARNING_KINDS}
    for row in summary.to_dict(orient="records") if not summary.empty else []:
        for kind, text in zip(row["warning_kinds"], row["warnings"], strict=True):
            kinds[str(kind)].append((str(row["label"]), str(text)))
    cells = len(summary)
    groups = [
        {
            "title": f"{WARNING_KINDS[kind]}: {len(items)} of {cells} cells",
            "cells": items[:MAX_WARNINGS],
            "more": max(0, len(items) - MAX_WARNINGS),
        }
        for kind, items in kinds.items()
        if items
    ]
    return {"run": run_level, "groups": groups}


def _table_rows(summary: pd.DataFrame) -> list[dict[str, Any]]:
    if summary.empty:
        return []
    chunks = summary.groupby("setting")["chunk_bytes"].transform("nunique")
    rows = []
    for (_, r), n_chunks in zip(summary.iterrows(), chunks, strict=True):
        row = {str(k): v for k, v in r.items()}
        row["show_chunk"] = n_chunks > 1
        row["records_per_s"] = per_s(row.get("records_per_s_median"))
        rows.append(row)
    return rows


# --- charts ----------------------------------------------------------------


def _memory_section(summary: pd.DataFrame, colours: dict[str, str]) -> dict[str, Any]:
    fits = memory_scaling(summary)
    charts: list[Markup] = []
    by_group: dict[str, list[dict[str, Any]]] = {}
    for fit in fits:
        by_group.setdefault(fit["group"], []).append(fit)
    for group, members in list(by_group.items())[:MAX_CHARTS]:
        series: list[svg.Series] = []
        for fit in members:
            colour = colours.get(str(fit["strategy"]), svg.PALETTE[0])
            points = [
                (float(s), max(float(g), PAGE_BYTES))
                for s, g in zip(fit["sizes"], fit["growth"], strict=True)
            ]
            series.append(
                svg.Series(
                    f"{fit['strategy']}: {fit['complexity']}",
                    points,
                    colour,
                    markers=True,
                    tooltips=[
                        f"{fit['strategy']} at {fmt_bytes(s)}: {fmt_bytes(g)} over baseline"
                        for s, g in zip(fit["sizes"], fit["growth"], strict=True)
                    ],
                )
            )
            lo, hi = min(fit["sizes"]), max(fit["sizes"])
            fitted = [(float(s), math.exp(fit["intercept"]) * float(s) ** fit["slope"]) for s in (lo, hi)]
            series.append(
                svg.Series(
                    f"fit {fit['strategy']} slope {fit['slope']:.2f}",
                    fitted,
                    colour,
                    dashed=True,
                    in_legend=False,
                )
            )
        charts.append(
            Markup(
                svg.xy_chart(
                    series,
                    title=f"peak RSS over baseline vs size: {group}",
                    x_label="workload size (log)",
                    y_label="peak RSS − baseline (log)",
                    x_log=True,
                    y_log=True,
                    x_bytes=True,
                    y_bytes=True,
                )
            )
        )
    empty = ""
    if not fits:
        sizes = sorted({int(s) for s in summary["size_bytes"] if s > 0}) if not summary.empty else []
        if not sizes:
            empty = "No measured run records a workload size: nothing to fit."
        elif len(sizes) == 1:
            empty = (
                f"Every cell has one workload size ({fmt_bytes(sizes[0])}): the fit needs at least two sizes "
                "of the same workload (e.g. --workload video:256MiB,video:1GiB)."
            )
        else:
            empty = (
                "No strategy was measured at two sizes with everything else fixed (or no run had a peak RSS)."
            )
    rows = [
        {
            "strategy": fit["strategy"],
            "group": fit["group"],
            "sizes": ", ".join(fmt_bytes(s) for s in fit["sizes"]),
            "growth": ", ".join(fmt_bytes(g) for g in fit["growth"]),
            "slope": f"{fit['slope']:.2f}",
            "complexity": fit["complexity"],
        }
        for fit in fits
    ]
    return {"charts": charts, "fits": rows, "empty": empty, "omitted": max(0, len(by_group) - MAX_CHARTS)}


def _representative(df: pd.DataFrame, row: Mapping[Any, Any]) -> Mapping[str, Any] | None:
    index = row.get("representative")
    if index is None or index not in df.index:
        return None
    return df.loc[index]  # type: ignore[no-any-return]


def _timeline_points(timeline: Any, column: int) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for entry in timeline if isinstance(timeline, list) else []:
        if isinstance(entry, list | tuple) and len(entry) > column:
            try:
                points.append((float(entry[0]), float(entry[column])))
            except (TypeError, ValueError):
                continue
    return points


LOG_FLOOR_BYTES = 1 << 20
MAX_POINTS = 300  # per series on a time chart: enough for the eye, light for the page


def _decimate_max(points: list[tuple[float, float]], n: int = MAX_POINTS) -> list[tuple[float, float]]:
    """At most about ``n`` points, each bucket's highest kept (a peak never drops out of a memory chart)."""
    if len(points) <= n:
        return points
    step = math.ceil(len(points) / n)
    return [max(points[i : i + step], key=lambda p: p[1]) for i in range(0, len(points), step)]


def delivered_rate(slices: Any, slice_s: Any, n: int = MAX_POINTS) -> list[tuple[float, float]]:
    """A record's delivered_timeline as (ms at the slice's middle, GB/s), empty slices as zero,
    slices merged (bytes summed over the wider slice) to at most ``n`` points."""
    width = float(slice_s) if slice_s is not None and not is_missing(slice_s) and slice_s > 0 else 0.0
    pairs = _timeline_points(slices, 1)
    if not width or not pairs:
        return []
    first = round(pairs[0][0] / width)
    last = round(pairs[-1][0] / width)
    count = last - first + 1
    merge = max(1, math.ceil(count / n))
    totals = [0.0] * math.ceil(count / merge)
    for end, n_bytes in pairs:
        totals[(round(end / width) - first) // merge] += n_bytes
    wide = width * merge
    start = (first - 1) * width  # the first slice's start, s since the run started
    return [((start + (i + 0.5) * wide) * 1000, b / wide / 1e9) for i, b in enumerate(totals)]


STATUS_WORDS = {
    "decided": "decided",
    "tie": "a tie",
    "undecided": "undecided",
    "alone": "one strategy",
}


def _story(df: pd.DataFrame, summary: pd.DataFrame, colours: dict[str, str]) -> dict[str, Any]:
    """The first screen: per setting, the ranking said plainly, every run as a dot, memory over time."""
    rankings = ranking_per_setting(summary)
    panels = []
    for index, entry in enumerate(rankings[:MAX_CHARTS]):
        show_chunk = entry["chunks"] > 1
        rows = entry["rows"]
        runs_of = [
            (row, _representative(df, row), colours.get(str(row["strategy"]), svg.PALETTE[0])) for row in rows
        ]
        panels.append(
            {
                "id": f"setting-{index}",
                "title": entry["setting"],
                "status": entry["status"],
                "headline": _headline(entry),
                "ranking": [_ranking_row(i, row, show_chunk) for i, row in enumerate(rows)],
                "more": entry["more"],
                "records": any(not is_missing(r.get("records_per_s_median")) for r in rows),
                "dots": Markup(_dots_chart(entry, show_chunk, colours)),
                "memory": Markup(_memory_over_time(runs_of, show_chunk)),
                "delivered": _delivered_over_time(runs_of, show_chunk),
                "buffered": _buffered_over_time(runs_of, show_chunk),
            }
        )
    counts = {status: sum(1 for e in rankings if e["status"] == status) for status in STATUS_WORDS}
    return {
        "panels": panels,
        "omitted": max(0, len(rankings) - MAX_CHARTS),
        "settings": len(rankings),
        "counts": [(STATUS_WORDS[k], v, k) for k, v in counts.items() if v],
    }


def _headline(entry: Mapping[str, Any]) -> str:
    rows = entry["rows"]
    best = rows[0]
    name = f"{best['strategy']} ({fmt_num(best['throughput_gbps_median'])} GB/s)"
    if len(rows) == 1:
        return f"{name} is the only strategy with a throughput here."
    second = rows[1]
    ahead = best["throughput_gbps_median"] / second["throughput_gbps_median"] - 1
    status = entry["status"]
    if status == "decided":
        return (
            f"{name} is first, {ahead:.0%} ahead of {second['strategy']}: decided (the runs differ, "
            f"by more than {TIE_FRACTION:.0%})."
        )
    if status == "tie":
        return (
            f"{name} and {second['strategy']} are a tie: the 95% interval of their ratio lies within "
            f"{TIE_FRACTION:.0%}."
        )
    runs = min(int(best["ok_runs"]), int(second["ok_runs"]))
    why = (
        f"{runs} runs are too few for an interval"
        if runs < min_runs_for_interval()
        else f"the interval of their ratio is neither within {TIE_FRACTION:.0%} nor clear of it"
    )
    return f"{name} leads {second['strategy']} by {ahead:.0%}, undecided: {why}; more runs would say."


def _ranking_row(place: int, row: Mapping[str, Any], show_chunk: bool) -> dict[str, Any]:
    vs_next = row.get("vs_next")
    words = {
        "decided": f"ahead of {row.get('next_strategy')}",
        "tie": f"a tie with {row.get('next_strategy')}",
        "undecided": f"undecided vs {row.get('next_strategy')}",
    }
    return {
        "place": place + 1,
        "name": _strategy_chunk(row, show_chunk),
        "gbps": fmt_num(row["throughput_gbps_median"]),
        "interval": f"{fmt_num(row['throughput_gbps_ci_low'])}–{fmt_num(row['throughput_gbps_ci_high'])}",
        "coverage": row["ci_text"],
        "records_per_s": per_s(row.get("records_per_s_median")),
        "anon": fmt_bytes(row.get("peak_rss_anon_bytes_median")),
        "file": fmt_bytes(row.get("peak_rss_file_bytes_median")),
        "status": vs_next or "",
        "verdict": words.get(str(vs_next), ""),
        "mark": {"decided": "ahead", "tie": "tie", "undecided": "undecided"}.get(str(vs_next), ""),
        # The stream doctor: what bound the cell (a fault is an alarm), and its sentence.
        "bound": DOCTOR_WORDS.get(str(row.get("diagnosis_bound", "-")), str(row.get("diagnosis_bound", "-"))),
        "fault": bool(row.get("diagnosis_fault")),
        "sentence": str(row.get("diagnosis_sentence", "")),
    }


# The doctor's kinds in the reader's words (harness.results.diagnosis).
DOCTOR_WORDS = {
    "no-backpressure": "no backpressure",
    "loop-blocked": "event loop blocked",
    "memory-O(n)": "whole file in memory",
    "gc-churn": "GC churn",
    "small-chunks": "tiny chunks",
    "consumer": "the consumer",
    "disk": "the disk",
    "cpu-transform": "CPU in the transform",
    "cpu": "CPU",
    "-": "–",
}


def _ms(value: float) -> str:
    return f"{value:,.0f}"


def per_s(value: Any) -> str:
    """Records per second in figures a reader scans: 1.23 M, 456 k (the column says per second)."""
    if value is None or is_missing(value):
        return "–"
    v = float(value)
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g}"


def _dots_chart(entry: Mapping[str, Any], show_chunk: bool, colours: dict[str, str]) -> str:
    items = [
        svg.Item(
            label=_strategy_chunk(row, show_chunk),
            value=row["throughput_gbps_median"],
            low=row["throughput_gbps_ci_low"],
            high=row["throughput_gbps_ci_high"],
            colour=colours.get(str(row["strategy"]), svg.PALETTE[0]),
            runs=tuple(row.get("throughput_gbps_runs") or ()),
            tooltip=(
                f"{row['label']}: median {_gbps(row['throughput_gbps_median'])} (the tick), interval "
                f"{fmt_num(row['throughput_gbps_ci_low'])}–{fmt_num(row['throughput_gbps_ci_high'])} "
                f"({row['ci_text']}, the band); runs: "
                + ", ".join(fmt_num(v) for v in row.get("throughput_gbps_runs") or ())
            ),
        )
        for row in entry["rows"]
    ]
    cells = entry["cells"]
    limits = cells["limit_bps"].dropna()
    refs = []
    axis = "GB/s at the sink"
    # long labels leave little room: the label is as wide as the plot, not the chart
    if not limits.empty:
        limit_gbps = float(limits.iloc[0]) / 1e9
        name = f"{cells['limit_name'].iloc[0]} {limit_gbps:.3g}"
        top = max((max(i.runs, default=i.value) for i in items), default=0.0)
        # A limit far right of every run would squeeze the runs together: then it is said, not drawn.
        if limit_gbps <= 1.3 * top:
            refs.append(svg.RefLine(limit_gbps, name))
        else:
            axis = f"GB/s at the sink ({name} GB/s limit: off the chart)"
    return svg.interval_chart(
        items,
        title="throughput: runs (dots), median (tick), interval (band)",
        axis_label=axis,
        ref_lines=refs,
        dots=True,
        width=440,
    )


RunsOf = list[tuple[Mapping[str, Any], Any, str]]  # (summary row, its representative record, colour)


def _memory_over_time(runs_of: RunsOf, show_chunk: bool) -> str:
    """Every strategy's RSS over its representative run: anon solid, file-backed dashed, one axis."""
    series: list[svg.Series] = []
    values: list[float] = []
    for row, record, colour in runs_of:
        if record is None:
            continue
        name = _strategy_chunk(row, show_chunk)
        anon = _decimate_max([(t * 1000, v) for t, v in _timeline_points(record["rss_timeline"], 1)])
        file = _decimate_max([(t * 1000, v) for t, v in _timeline_points(record["rss_timeline"], 2)])
        if len(anon) < 2:
            continue
        values += [v for _, v in anon + file if v > 0]
        series.append(svg.Series(name, anon, colour))
        if any(v > 0 for _, v in file):
            series.append(svg.Series(f"{name} file-backed", file, colour, dashed=True, in_legend=False))
    if not series:
        return (
            '<p class="empty">No run of this setting has an RSS timeline with two samples or more '
            "(runs shorter than the sampling interval give none).</p>"
        )
    # One axis for all: log where the spread would flatten the lean ones into the floor. A log axis
    # starts at 1 MiB (a process's first sample, before its interpreter is in, is a few KiB).
    log = bool(values) and max(values) / max(min(values), 1.0) > 30
    if log:
        series = [replace(s, points=[(t, max(v, LOG_FLOOR_BYTES)) for t, v in s.points]) for s in series]
    return svg.xy_chart(
        series,
        title="RSS over time: anon solid, file-backed dashed",
        x_label="ms since the run started",
        x_format=_ms,
        y_label="RSS" + (" (log)" if log else ""),
        y_bytes=True,
        y_log=log,
        width=440,
        height=300,
    )


def _delivered_over_time(runs_of: RunsOf, show_chunk: bool) -> Markup:
    series = []
    for row, record, colour in runs_of:
        if record is None:
            continue
        points = delivered_rate(record["delivered_timeline"], record["delivered_slice_s"])
        if len(points) >= 2:
            series.append(svg.Series(_strategy_chunk(row, show_chunk), points, colour))
    if not series:
        return Markup("")
    return Markup(
        svg.xy_chart(
            series,
            title="delivered: throughput at the receiver over time (10 ms slices)",
            x_label="ms since the run started",
            x_format=_ms,
            y_label="GB/s received",
            width=610,
            height=280,
        )
    )


def _buffered_over_time(runs_of: RunsOf, show_chunk: bool) -> Markup:
    series = []
    for row, record, colour in runs_of:
        if record is None:
            continue
        points = _decimate_max([(t * 1000, v) for t, v in _timeline_points(record["buffered_timeline"], 1)])
        if len(points) >= 2:
            series.append(svg.Series(_strategy_chunk(row, show_chunk), points, colour, step=True))
    if not series:
        return Markup("")
    return Markup(
        svg.xy_chart(
            series,
            title="bytes held in user space between read and write",
            x_label="ms since the run started",
            x_format=_ms,
            y_label="buffered",
            y_bytes=True,
            width=610,
            height=280,
        )
    )


def _ttfb_cdfs(records: Sequence[Record]) -> list[Markup]:
    """Per HTTP route and workload: the share of clients that had their first byte by t, one line
    per (strategy, client count), every client of every measured run."""
    groups: dict[tuple[str, str], dict[tuple[str, int], list[float]]] = {}
    for r in records:
        ttfbs = r.http.get("ttfb_clients_s")
        if r.sink != "http" or r.warmup or r.profiler or not isinstance(ttfbs, list) or not ttfbs:
            continue
        key = (r.http_route, f"{r.workload} {fmt_bytes(r.size_bytes)}")
        line = (r.strategy, r.clients)
        groups.setdefault(key, {}).setdefault(line, []).extend(
            float(t) for t in ttfbs if isinstance(t, int | float)
        )
    charts = []
    for (route, workload), lines in sorted(groups.items())[:MAX_CHARTS]:
        series = []
        for i, ((strategy, clients), values) in enumerate(sorted(lines.items())):
            ordered = sorted(values)
            n = len(ordered)
            step = max(1, math.ceil(n / MAX_POINTS))
            points = [(ordered[k] * 1000, (k + 1) / n) for k in range(0, n, step)]
            if points[-1][1] < 1.0:
                points.append((ordered[-1] * 1000, 1.0))
            colour = svg.PALETTE[i % len(svg.PALETTE)]
            series.append(svg.Series(f"{strategy}, {clients} clients", points, colour, step=True))
        charts.append(
            Markup(
                svg.xy_chart(
                    series,
                    title=f"TTFB across clients: {route} route, {workload}",
                    x_label="ms from the request to the first response byte (log)",
                    y_label="share of clients",
                    x_log=True,
                    width=610,
                    height=300,
                )
            )
        )
    return charts


def _backpressure_section(summary: pd.DataFrame) -> dict[str, Any]:
    """The counters of the strategies that hold a queue (their buffered bytes over time are drawn in
    each setting's panel at the top)."""
    queued = (
        summary[summary["pauses_median"].notna() | summary["max_buffered_bytes_median"].notna()]
        if not summary.empty
        else summary
    )
    rows = [
        {
            "label": row["label"],
            "pauses": fmt_num(row["pauses_median"], 6),
            "drains": fmt_num(row["drains_median"], 6),
            "max_buffered": fmt_bytes(row["max_buffered_bytes_median"]),
        }
        for row in queued.to_dict(orient="records")
    ]
    empty = (
        ""
        if rows
        else "No strategy in this run holds a user-space queue (only those record pauses, drains and "
        "buffered bytes)."
    )
    return {"rows": rows, "empty": empty}


def _work_section(summary: pd.DataFrame) -> dict[str, Any]:
    """The work counters per MiB moved (reports.work), per cell: what compare weighs beside time."""
    counted = (
        summary[summary["syscalls_per_mib_median"].notna() | summary["kernel_bytes_per_mib_median"].notna()]
        if not summary.empty
        else summary
    )
    rows = [
        {
            "label": row["label"],
            "syscalls": fmt_num(row["syscalls_per_mib_median"], 4),
            "kernel_bytes": fmt_bytes(row["kernel_bytes_per_mib_median"]),
        }
        for row in counted.to_dict(orient="records")
    ]
    empty = "" if rows else "No run here reported its I/O counters (/proc/<pid>/io)."
    return {"rows": rows, "empty": empty}


def _chunk_section(summary: pd.DataFrame, colours: dict[str, str]) -> dict[str, Any]:
    knees = chunk_knees(summary)
    charts: list[Markup] = []
    by_setting: dict[str, list[dict[str, Any]]] = {}
    for knee in knees:
        by_setting.setdefault(setting_label(knee), []).append(knee)
    for title, members in list(by_setting.items())[:MAX_CHARTS]:
        series: list[svg.Series] = []
        for knee in members:
            colour = colours.get(str(knee["strategy"]), svg.PALETTE[0])
            points = list(zip(map(float, knee["chunks"]), knee["throughput_gbps"], strict=True))
            series.append(svg.Series(str(knee["strategy"]), points, colour, markers=True))
            series.append(
                svg.Series(
                    f"knee {knee['strategy']}",
                    [(float(knee["knee_chunk_bytes"]), knee["knee_gbps"])],
                    colour,
                    line=False,
                    ring=True,
                    in_legend=False,
                    tooltips=[f"knee of {knee['strategy']}: {fmt_bytes(knee['knee_chunk_bytes'])}"],
                )
            )
        charts.append(
            Markup(
                svg.xy_chart(
                    series,
                    title=f"chunk-size sweep: {title}",
                    x_label="chunk size (log); ring: the knee",
                    y_label="GB/s (median)",
                    x_log=True,
                    x_bytes=True,
                )
            )
        )
    rows = [
        {
            "strategy": k["strategy"],
            "setting": k["setting"],
            "knee": fmt_bytes(k["knee_chunk_bytes"]),
            "knee_gbps": fmt_num(k["knee_gbps"]),
            "best": fmt_bytes(k["best_chunk_bytes"]),
            "best_gbps": fmt_num(k["best_gbps"]),
        }
        for k in knees
    ]
    empty = ""
    if not knees:
        chunks = sorted({int(c) for c in summary["chunk_bytes"] if c > 0}) if not summary.empty else []
        if len(chunks) <= 1:
            one = f" ({fmt_bytes(chunks[0])})" if chunks else ""
            empty = (
                f"One chunk size{one} in this run: a sweep needs at least two "
                "(e.g. --chunk-size 16KiB,64KiB,1MiB)."
            )
        else:
            empty = "No strategy was measured at two chunk sizes with everything else fixed."
    return {"charts": charts, "knees": rows, "empty": empty, "omitted": max(0, len(by_setting) - MAX_CHARTS)}


def _pareto_section(summary: pd.DataFrame, colours: dict[str, str]) -> dict[str, Any]:
    charts: list[Markup] = []
    front_rows: list[dict[str, Any]] = []
    usable = (
        summary[
            summary["throughput_gbps_median"].notna() & summary["peak_rss_over_baseline_bytes_median"].notna()
        ]
        if not summary.empty
        else summary
    )
    groups = _groups(usable, SETTING_COLUMNS)
    for fields, group in groups:
        memory = np.maximum(group["peak_rss_over_baseline_bytes_median"].to_numpy(float), PAGE_BYTES)
        tput = group["throughput_gbps_median"].to_numpy(float)
        front = pareto_front(memory, tput)
        show_chunk = group["chunk_bytes"].nunique() > 1
        records = group.to_dict(orient="records")
        for i in np.flatnonzero(front):
            front_rows.append(
                {
                    "setting": setting_label(fields),
                    "cell": _strategy_chunk(records[i], show_chunk),
                    "gbps": fmt_num(tput[i]),
                    "memory": fmt_bytes(memory[i]),
                }
            )
        if len(charts) >= MAX_CHARTS:
            continue
        series: list[svg.Series] = []
        for strategy in sorted({str(r["strategy"]) for r in records}):
            idx = [i for i, r in enumerate(records) if str(r["strategy"]) == strategy]
            series.append(
                svg.Series(
                    strategy,
                    [(memory[i], tput[i]) for i in idx],
                    colours.get(strategy, svg.PALETTE[0]),
                    line=False,
                    markers=True,
                    tooltips=[
                        f"{_strategy_chunk(records[i], show_chunk)}: {fmt_num(tput[i])} GB/s, "
                        f"{fmt_bytes(memory[i])} over baseline{' (on the front)' if front[i] else ''}"
                        for i in idx
                    ],
                )
            )
        order = np.flatnonzero(front)[np.argsort(memory[front], kind="mergesort")]
        series.append(
            svg.Series(
                "Pareto front",
                [(memory[i], tput[i]) for i in order],
                "#222",
                dashed=True,
                step=True,
                ring=True,
            )
        )
        charts.append(
            Markup(
                svg.xy_chart(
                    series,
                    title=f"throughput vs memory: {setting_label(fields)}",
                    x_label="peak RSS − baseline (log; left is better)",
                    y_label="GB/s (median; up is better)",
                    x_log=True,
                    x_bytes=True,
                )
            )
        )
    empty = "" if charts else "No cell has both a throughput and a peak RSS."
    return {
        "charts": charts,
        "front": front_rows,
        "empty": empty,
        "omitted": max(0, len(groups) - MAX_CHARTS),
    }


# --- runs, cells and environment --------------------------------------------


def _expected(meta: Mapping[str, Any]) -> dict[str, str]:
    """Cells whose failed runs a scenario's claim expects (``outcome oom``): cell id -> outcome."""
    raw = meta.get("expected_outcomes")
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _mark_expected(summary: pd.DataFrame, expected: Mapping[str, str]) -> pd.DataFrame:
    """A cell whose runs ended as a claim expects is warned of as the answer, not as a failure."""
    if summary.empty or not expected:
        return summary
    kinds, texts = [], []
    for cell, row_kinds, row_texts in zip(summary["cell_id"], summary["warning_kinds"], summary["warnings"],
                                          strict=True):  # fmt: skip
        if str(cell) in expected:
            row_texts = [f"{t}, as the scenario's claims expect" if k == "failed" else t
                         for k, t in zip(row_kinds, row_texts, strict=True)]  # fmt: skip
            row_kinds = ["expected" if k == "failed" else k for k in row_kinds]
        kinds.append(row_kinds)
        texts.append(row_texts)
    return summary.assign(warning_kinds=kinds, warnings=texts)


def _flagged_rows(df: pd.DataFrame, expected: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    if df.empty:
        return []
    flags = df.assign(
        verified_false=df["verified"].astype(object) == False,  # noqa: E712 - elementwise
        cache_bad=df["cache_state_ok"].astype(object) == False,  # noqa: E712
    )
    bad = flags[~flags["ok"] | flags["verified_false"] | flags["cache_bad"]]
    rows = []
    for r in bad.sort_values(["cell_id", "warmup", "repeat"], ascending=[True, False, True]).to_dict(
        orient="records"
    ):
        why: list[str] = []
        as_expected = expected is not None and expected.get(str(r["cell_id"])) == r["outcome"]
        if as_expected:
            why.append("expected by the scenario's claims (the answer, not a failure)")
        if not is_missing(r["error"]) and r["error"]:
            why.append(str(r["error"]))
        if r["verified_false"]:
            why.append(f"not verified: {r['verify_detail']}")
        if r["cache_bad"]:
            why.append(
                f"cache {r['cache']} asked, {fmt_bytes(r['resident_bytes_before'])} resident before the run"
            )
        rows.append(
            {
                "label": sweep_label(
                    r,
                    [
                        "strategy",
                        "workload",
                        "size_bytes",
                        "sink",
                        "chunk_bytes",
                        "cache",
                        "transform",
                        "consumer_rate_bps",
                    ],
                ),
                "repeat": int(r["repeat"]) + 1,
                "warmup": bool(r["warmup"]),
                "outcome": r["outcome"],
                "expected": as_expected,
                "why": "; ".join(why) or "–",
            }
        )
    return rows


def _skipped(meta: Mapping[str, Any]) -> list[dict[str, str]]:
    skipped = meta.get("skipped_cells")
    if not isinstance(skipped, list):
        return []
    return [
        {"label": str(s.get("label", s.get("cell_id", "?"))), "reason": str(s.get("reason", ""))}
        for s in skipped
        if isinstance(s, dict)
    ]


def _profiles(df: pd.DataFrame, artifacts: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each profiled cell's artifacts (paths relative to the run directory), overheads and errors,
    the top functions or allocations its profiler summarised, and its flame graph embedded when the
    caller read it (``artifacts``).

    A profiler pass's record holds ``profiler``, ``profile_artifacts``, ``profile_overhead``,
    ``profile_error`` and ``profile``; an upgraded older record only its artifacts (kind/name -> path).
    """
    if df.empty:
        return []
    cells: dict[str, dict[str, Any]] = {}
    embedded = 0
    has_profile = df["profiler"].notna() | df["profile_artifacts"].map(bool)
    for r in df[has_profile].sort_values(["cell_id", "repeat"]).to_dict(orient="records"):
        entry = cells.setdefault(
            str(r["cell_id"]),
            {
                "label": sweep_label(
                    r, ["strategy", "workload", "size_bytes", "sink", "chunk_bytes", "cache"]
                ),
                "links": [],
                "notes": [],
                "tops": [],
                "embeds": [],
            },
        )
        found: dict[str, Any] = {}
        if r["profiler"] is None or is_missing(r["profiler"]):
            found["profile"] = r["profile_artifacts"]  # an older record's (upgraded: kind/name -> path)
        else:
            kind = str(r["profiler"])
            found[kind] = r["profile_artifacts"]
            if not is_missing(r["profile_overhead"]):
                entry["notes"].append(f"{kind}: x{float(r['profile_overhead']):.2f} wall time")
            if not is_missing(r["profile_error"]) and r["profile_error"]:
                entry["notes"].append(f"{kind} failed: {r['profile_error']}")
            top = _profile_top(kind, r.get("profile"))
            if top:
                entry["tops"].append(top)
        for kind, paths in found.items():
            if not isinstance(paths, dict):
                continue
            for name, path in paths.items():
                text = str(path)
                safe = bool(_SAFE_RELATIVE_PATH.match(text))
                entry["links"].append(
                    {"kind": str(kind), "name": str(name), "path": text, "href": quote(text), "safe": safe}
                )
                if safe and text.endswith(".svg") and text in artifacts and embedded < MAX_EMBEDS:
                    embedded += 1
                    data = base64.b64encode(artifacts[text].encode()).decode()
                    entry["embeds"].append(
                        {"title": f"{kind} {name}", "src": f"data:image/svg+xml;base64,{data}"}
                    )
    return [c for c in cells.values() if c["links"] or c["notes"]]


def _profile_top(kind: str, profile: Any) -> dict[str, Any] | None:
    """The five hottest functions (CPU) or largest allocation sites (memory) a profiler summarised."""
    if not isinstance(profile, Mapping):
        return None
    if isinstance(profile.get("top_self"), list):
        rows = [
            (f"{float(t.get('share', 0)):.1%} self", str(t.get("function", "?")))
            for t in profile["top_self"][:5]
            if isinstance(t, Mapping)
        ]
        return {"kind": f"{kind}: {profile.get('profiler', 'py-spy')}, hottest functions", "rows": rows}
    if isinstance(profile.get("top_allocations"), list):
        rows = [
            (fmt_bytes(t.get("size_bytes")), str(t.get("location", "?")))
            for t in profile["top_allocations"][:5]
            if isinstance(t, Mapping)
        ]
        return {
            "kind": f"{kind}: {profile.get('profiler', 'memray')}, largest allocation sites",
            "rows": rows,
        }
    return None


def _calibration(calibration: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not calibration:
        return []
    rows = []
    for key, value in calibration.items():
        if key.endswith("_bps") and isinstance(value, int | float) and not isinstance(value, bool):
            rows.append((key, f"{value / 1e9:.3g} GB/s"))
        else:
            rows.append(
                (key, json.dumps(value, default=str) if isinstance(value, dict | list) else str(value))
            )
    return rows
