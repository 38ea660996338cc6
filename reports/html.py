"""The HTML report: (run meta, records) in, one self-contained HTML string out. No I/O here.

Everything the page needs is inline: CSS, a few lines of script (table sorting)
and the charts, drawn here as SVG. A section without data says why instead of
vanishing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from reports import svg
from reports.frame import PAGE_BYTES, records_to_frame
from reports.stats import (
    SETTING_COLUMNS,
    WARNING_KINDS,
    best_per_setting,
    cell_summary,
    chunk_knees,
    memory_scaling,
    pareto_front,
    setting_label,
    sweep_label,
)
from reports.templating import ENV, fmt_bytes, fmt_num, fmt_pct, is_missing

# Caps that keep a report of thousands of cells readable and quick to build.
MAX_CHARTS = 40
MAX_SMALL_CHARTS = 60
MAX_WARNINGS = 50
_SAFE_RELATIVE_PATH = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_.@%+=,/-]+$")


def render_report(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The report page for one run (pure: the caller writes the file)."""
    return ENV.get_template("report.html.j2").render(**report_view(meta, records))


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The per-cell summary the report shows, for terminal tables."""
    return cell_summary(records_to_frame(records))


def report_view(meta: Mapping[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the template shows, computed (and formatted where it helps) in Python."""
    df = records_to_frame(records)
    calibration = meta.get("calibration") if isinstance(meta.get("calibration"), dict) else None
    summary = cell_summary(df, calibration)
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
            "cells": len(summary),
        },
        "best": _best_rows(summary),
        "warnings": _warnings(meta, summary, calibration),
        "table": _table_rows(summary),
        "throughput": _throughput_section(summary, colours),
        "memory": _memory_section(summary, colours),
        "timelines": _timeline_section(df, summary),
        "backpressure": _backpressure_section(df, summary, colours),
        "chunks": _chunk_section(summary, colours),
        "pareto": _pareto_section(summary, colours),
        "http": _http_rows(records),
        "flagged": _flagged_rows(df),
        "skipped": _skipped(meta),
        "profiles": _profiles(df),
        "calibration": _calibration(calibration),
        "machine": _pairs(meta.get("machine")),
        "config": _pairs(meta.get("config")),
    }


# --- helpers ---------------------------------------------------------------


def _http_rows(records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per http cell: the server's memory and the viewers' figures, medians of measured runs."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if not isinstance(r, Mapping) or not isinstance(r.get("http"), Mapping):
            continue  # old or odd records: no http figures
        if r["http"].get("route") == "s3-upload":
            continue  # an S3 cell's figures are its client's: they are in the cells table
        if r.get("sink") == "http" and not r.get("warmup") and not r.get("profiler") and r["http"]:
            groups.setdefault(str(r.get("cell_id")), []).append(r)

    def med(rows: list[dict[str, Any]], get: Any) -> float | None:
        values = [v for v in (get(r) for r in rows) if v is not None and not is_missing(v)]
        return float(np.median(values)) if values else None

    out = []
    for rows in groups.values():
        first = rows[0]
        http = first["http"]
        ttfb50 = med(rows, lambda r: r["http"].get("ttfb_p50_s"))
        ttfb99 = med(rows, lambda r: r["http"].get("ttfb_p99_s"))
        out.append(
            {
                "strategy": str(first.get("strategy")),
                "route": str(http.get("route", "file")),
                "workload": f"{first.get('workload')} {fmt_bytes(first.get('size_bytes'))}",
                "clients": str(http.get("clients")),
                "view": fmt_bytes(http.get("view_bytes")),
                "outcomes": ", ".join(sorted({str(r.get("outcome")) for r in rows})),
                "server_peak": fmt_bytes(med(rows, lambda r: r.get("peak_rss_bytes"))),
                "server_anon": fmt_bytes(med(rows, lambda r: r.get("peak_rss_anon_bytes"))),
                "per_client": fmt_bytes(med(rows, lambda r: r["http"].get("per_client_bytes"))),
                "ttfb": f"{fmt_num(ttfb50 * 1000 if ttfb50 is not None else None, 3)} / "
                f"{fmt_num(ttfb99 * 1000 if ttfb99 is not None else None, 3)}",
                "aggregate": fmt_num((med(rows, lambda r: r["http"].get("aggregate_bps")) or 0) / 1e6, 3),
                "failed": str(sum(int(r["http"].get("failed_clients") or 0) for r in rows)),
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
        elif entry["ci_overlap"]:
            verdict = f"not a clear win: its interval overlaps {runner_up['strategy']}'s"
        elif not entry["ci_enough"]:
            ahead = best["throughput_gbps_median"] / runner_up["throughput_gbps_median"] - 1
            verdict = f"{ahead:.0%} ahead of {runner_up['strategy']}, ranges apart ({best['ci_text']})"
        else:
            ahead = best["throughput_gbps_median"] / runner_up["throughput_gbps_median"] - 1
            verdict = f"{ahead:.0%} ahead of {runner_up['strategy']}, 95% intervals apart"
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
    return [{str(k): v for k, v in r.items()} for r in summary.to_dict(orient="records")]


# --- charts ----------------------------------------------------------------


def _throughput_section(summary: pd.DataFrame, colours: dict[str, str]) -> dict[str, Any]:
    charts: list[Markup] = []
    groups = []
    if not summary.empty:
        with_value = set(summary.loc[summary["throughput_gbps_median"].notna(), "setting"])
        groups = _groups(summary[summary["setting"].isin(with_value)], SETTING_COLUMNS)
    for fields, group in groups[:MAX_CHARTS]:
        show_chunk = group["chunk_bytes"].nunique() > 1
        items = []
        for row in group.to_dict(orient="records"):
            note = (
                f"{fmt_pct(row['share_of_limit'])} of limit" if not is_missing(row["share_of_limit"]) else ""
            )
            items.append(
                svg.Item(
                    label=_strategy_chunk(row, show_chunk),
                    value=row["throughput_gbps_median"],
                    low=row["throughput_gbps_ci_low"],
                    high=row["throughput_gbps_ci_high"],
                    colour=colours.get(str(row["strategy"]), svg.PALETTE[0]),
                    tooltip=(
                        f"{row['label']}: median {_gbps(row['throughput_gbps_median'])}, interval "
                        f"{fmt_num(row['throughput_gbps_ci_low'])}–{fmt_num(row['throughput_gbps_ci_high'])}"
                        f" ({row['ci_text']}),"
                        f" IQR {fmt_num(row['throughput_gbps_iqr'])}, {row['ok_runs']} ok of {row['runs']}"
                    ),
                    note=note,
                )
            )
        limits = group["limit_bps"].dropna()
        refs = []
        if not limits.empty:
            limit = float(limits.iloc[0])
            refs.append(
                svg.RefLine(limit / 1e9, f"{group['limit_name'].iloc[0]} limit {limit / 1e9:.3g} GB/s")
            )
        charts.append(
            Markup(
                svg.interval_chart(
                    items,
                    title=setting_label(fields),
                    axis_label="throughput, GB/s (median; whiskers: order-statistic interval of the median)",
                    ref_lines=refs,
                )
            )
        )
    if charts:
        empty = ""
    elif summary.empty:
        empty = "No measured run: nothing to chart."
    else:
        empty = (
            "No cell has a throughput: no successful run moved a known number of bytes "
            "(e.g. plain pytest-benchmark results; their wall times are in the table)."
        )
    return {"charts": charts, "empty": empty, "omitted": max(0, len(groups) - MAX_CHARTS)}


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


def _run_window(record: Mapping[str, Any]) -> list[svg.VLine]:
    lines = [svg.VLine(0.0, "start")]
    if not is_missing(record["wall_s"]):
        lines.append(svg.VLine(float(record["wall_s"]) * 1000, "end", row=1))
    return lines


def _timeline_section(df: pd.DataFrame, summary: pd.DataFrame) -> dict[str, Any]:
    groups_out: list[dict[str, Any]] = []
    drawn = available = 0
    for fields, group in _groups(summary, SETTING_COLUMNS):
        show_chunk = group["chunk_bytes"].nunique() > 1
        charts: list[Markup] = []
        for row in group.sort_values(["strategy", "chunk_bytes"]).to_dict(orient="records"):
            record = _representative(df, row)
            if record is None:
                continue
            timeline = record["rss_timeline"]
            anon = [(t * 1000, v) for t, v in _timeline_points(timeline, 1)]
            file = [(t * 1000, v) for t, v in _timeline_points(timeline, 2)]
            if len(anon) < 2:
                continue
            available += 1
            if drawn >= MAX_SMALL_CHARTS:
                continue
            drawn += 1
            title = f"{_strategy_chunk(row, show_chunk)} (run #{int(record['repeat']) + 1})"
            charts.append(
                Markup(
                    svg.xy_chart(
                        [
                            svg.Series("anon", anon, "#e15759"),
                            svg.Series("file-backed", file, "#4e79a7"),
                        ],
                        title=title,
                        x_label="ms since the run started",
                        y_label="RSS",
                        y_bytes=True,
                        vlines=_run_window(record),
                        width=390,
                        height=220,
                    )
                )
            )
        if charts:
            groups_out.append({"title": setting_label(fields), "charts": charts})
    empty = (
        ""
        if groups_out
        else "No record has an RSS timeline with two samples or more (runs shorter than the sampling "
        "interval give none)."
    )
    return {"groups": groups_out, "empty": empty, "omitted": available - drawn}


def _backpressure_section(df: pd.DataFrame, summary: pd.DataFrame, colours: dict[str, str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    groups_out: list[dict[str, Any]] = []
    drawn = available = 0
    queued = (
        summary[summary["pauses_median"].notna() | summary["max_buffered_bytes_median"].notna()]
        if not summary.empty
        else summary
    )
    for fields, group in _groups(queued, SETTING_COLUMNS):
        show_chunk = group["chunk_bytes"].nunique() > 1
        charts: list[Markup] = []
        for row in group.sort_values(["strategy", "chunk_bytes"]).to_dict(orient="records"):
            rows.append(
                {
                    "label": row["label"],
                    "pauses": fmt_num(row["pauses_median"], 6),
                    "drains": fmt_num(row["drains_median"], 6),
                    "max_buffered": fmt_bytes(row["max_buffered_bytes_median"]),
                }
            )
            record = _representative(df, row)
            if record is None:
                continue
            points = [(t * 1000, v) for t, v in _timeline_points(record["buffered_timeline"], 1)]
            if len(points) < 2:
                continue
            available += 1
            if drawn >= MAX_SMALL_CHARTS:
                continue
            drawn += 1
            counts = [
                f"{int(record[name])} {name}" for name in ("pauses", "drains") if not is_missing(record[name])
            ]
            title = _strategy_chunk(row, show_chunk) + (f": {', '.join(counts)}" if counts else "")
            charts.append(
                Markup(
                    svg.xy_chart(
                        [
                            svg.Series(
                                "bytes held",
                                points,
                                colours.get(str(row["strategy"]), svg.PALETTE[0]),
                                step=True,
                                in_legend=False,
                            )
                        ],
                        title=title,
                        x_label="ms since the run started",
                        y_label="buffered",
                        y_bytes=True,
                        vlines=_run_window(record),
                        width=390,
                        height=200,
                    )
                )
            )
        if charts:
            groups_out.append({"title": setting_label(fields), "charts": charts})
    if not rows:
        empty = (
            "No strategy in this run holds a user-space queue (only those record pauses, drains and "
            "buffered bytes)."
        )
    elif not groups_out:
        empty = "No buffered timeline has two samples or more; the counters are in the table."
    else:
        empty = ""
    return {"groups": groups_out, "rows": rows, "empty": empty, "omitted": available - drawn}


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


def _flagged_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
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


def _profiles(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Each profiled cell's artifacts (paths relative to the run directory), overheads and errors.

    Two shapes are read: a profiler-pass record (``profiler`` + ``profile_artifacts``,
    ``profile_overhead``, ``profile_error``) and a ``profiles`` mapping (kind -> name -> path).
    """
    if df.empty:
        return []
    cells: dict[str, dict[str, Any]] = {}
    has_profile = df["profiles"].notna() | df["profiler"].notna()
    for r in df[has_profile].sort_values(["cell_id", "repeat"]).to_dict(orient="records"):
        entry = cells.setdefault(
            str(r["cell_id"]),
            {
                "label": sweep_label(
                    r, ["strategy", "workload", "size_bytes", "sink", "chunk_bytes", "cache"]
                ),
                "links": [],
                "notes": [],
            },
        )
        found: dict[str, Any] = dict(r["profiles"]) if isinstance(r["profiles"], dict) else {}
        if r["profiler"] is not None and not is_missing(r["profiler"]):
            kind = str(r["profiler"])
            found[kind] = r["profile_artifacts"]
            if not is_missing(r["profile_overhead"]):
                entry["notes"].append(f"{kind}: x{float(r['profile_overhead']):.2f} wall time")
            if not is_missing(r["profile_error"]) and r["profile_error"]:
                entry["notes"].append(f"{kind} failed: {r['profile_error']}")
        for kind, artifacts in found.items():
            if not isinstance(artifacts, dict):
                continue
            for name, path in artifacts.items():
                text = str(path)
                entry["links"].append(
                    {
                        "kind": str(kind),
                        "name": str(name),
                        "path": text,
                        "safe": bool(_SAFE_RELATIVE_PATH.match(text)),
                    }
                )
    return [c for c in cells.values() if c["links"] or c["notes"]]


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
