"""A scenario's page: the question, the verdicts, the chart that answers it, what a browser saw, the report.

Pure: (scenario, verdicts, records, the run's report HTML) in, one self-contained
HTML string out. The full report is embedded with ``<iframe srcdoc>``, so the
page is still a single file that opens offline.
"""

from __future__ import annotations

import base64
import html
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streambench.harness.results.identity import cell_label, record_cell_fields
from streambench.harness.results.record import Record
from streambench.reports.claims import METRICS, Verdict, sentence

_COLOURS = {"holds": "#1b5e20", "fails": "#b00020", "inconclusive": "#8a6d00"}


def _fmt(value: float, metric: str) -> str:
    if metric.endswith("_bps"):
        return f"{value / 1e9:.2f} GB/s"
    if metric.endswith("_bytes"):
        return f"{value / 2**20:.1f} MiB"
    if metric.endswith("_s"):
        return f"{value:.3g} s"
    return f"{value:.3g}"


@dataclass(frozen=True)
class Bar:
    """One label's bar: the median of its runs that got a value, and how many never got there (a page
    that never showed a frame, a seek never honoured: the claims read those as infinite)."""

    median: float  # nan when no run got there
    runs: int
    never: int


def _label(r: Record, x: str) -> str:
    if x == "chunk_bytes":
        return f"{r.strategy} | {r.chunk_bytes // 1024} KiB"
    extra = [f"{r.size_bytes >> 20} MiB"]
    if r.transform != "none":
        extra.append(r.transform)
    if r.cache == "cold":
        extra.append("cold")
    if r.sink != "null":
        extra.append(r.sink)
    return f"{r.strategy} | {', '.join(extra)}"


def _series(records: Sequence[Record], metric: str, x: str) -> dict[str, Bar]:
    """Per (strategy, x) label, over measured runs: the metric's median, and the runs that never got there."""
    get = METRICS[metric]
    groups: dict[str, list[float]] = {}
    for r in records:
        if r.warmup or r.outcome != "ok":
            continue
        if (r.profiler is not None) != metric.startswith("memray"):
            continue
        value = get(r)
        if value is not None:
            groups.setdefault(_label(r, x), []).append(float(value))
    bars = {}
    for label, values in groups.items():
        finite = [v for v in values if math.isfinite(v)]
        median = statistics.median(finite) if finite else math.nan
        bars[label] = Bar(median, len(values), len(values) - len(finite))
    return bars


NEVER_WORDS = {"first_frame_s": "never showed a frame"}


def bar_chart_svg(values: Mapping[str, Bar], metric: str, title: str) -> str:
    """A horizontal bar chart as inline SVG; every label escaped. A label none of whose runs got there
    is a full-width red bar that says so; one where some did not says how many."""
    if not values:
        return '<p class="note">No successful runs to chart.</p>'
    never_words = NEVER_WORDS.get(metric, "never got there")
    row_h, label_w, bar_w = 22, 330, 420
    height = row_h * len(values) + 40
    top = max((b.median for b in values.values() if math.isfinite(b.median)), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 260}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="600">{html.escape(title)}</text>',
    ]
    for i, (label, bar) in enumerate(values.items()):
        y = 30 + i * row_h
        text_y = y + 14
        anchor = f'x="{label_w - 6}" y="{text_y}" font-size="12" text-anchor="end"'
        parts.append(f"<text {anchor}>{html.escape(label)}</text>")
        if math.isfinite(bar.median):
            width, colour = max(1.0, bar_w * bar.median / top), "#3b6ea5"
            said = _fmt(bar.median, metric)
            if bar.never:
                said += f" ({bar.never} of {bar.runs} runs {never_words})"
        else:
            width, colour = float(bar_w), "#b00020"
            said = f"{never_words} ({bar.never} of {bar.runs} runs)"
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{width:.1f}" height="{row_h - 6}" fill="{colour}"/>'
        )
        fill = ' fill="#b00020"' if bar.never else ""
        at = f'x="{label_w + width + 4:.1f}" y="{text_y}" font-size="12"{fill}'
        parts.append(f"<text {at}>{html.escape(said)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _seconds(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f} s"


def screenshots_html(records: Sequence[Record], images: Mapping[str, bytes]) -> str:
    """What the first page of each browser cell showed at its first frame and after its seek."""
    figures = []
    for r in records:
        names = [n for n in r.browser.get("screenshots") or [] if n in images]
        if not names:
            continue
        page = (r.browser.get("pages") or [{}])[0]
        seek = page.get("seek_outcome") or ("honoured" if page.get("seek_honoured") else "not honoured")
        caption = (
            f"{r.strategy} · {r.workload} · {_viewers(r)}: first frame "
            f"{_seconds(page.get('first_frame_s'))}; seek {seek}"
        )
        shots = "".join(
            f'<img alt="{html.escape(n)}" width="320" height="200" '
            f'src="data:{_mime(n)};base64,{base64.b64encode(images[n]).decode()}">'
            for n in names
        )
        figures.append(f"<figure>{shots}<figcaption>{html.escape(caption)}</figcaption></figure>")
    if not figures:
        return ""
    return (
        '<h2>What the viewers saw</h2>\n<p class="note">The first page of each cell, at its first frame and '
        "after its seek (first measured run); the caption under the video is the page's own.</p>\n"
        + "\n".join(figures)
    )


def _viewers(r: Record) -> str:
    rate = r.consumer_rate_bps
    link = f"{rate * 8 / 1e6:g} Mbit/s" if rate else "unthrottled"
    pages = r.clients
    return f"{link}, {pages} page{'s' if pages != 1 else ''}"


def _mime(name: str) -> str:
    return "image/png" if name.endswith(".png") else "image/jpeg"


def doctor_html(records: Sequence[Record]) -> str:
    """The stream doctor's reading of each cell (its first measured run's), faults first: what bound it."""
    e = html.escape
    seen: dict[str, Record] = {}
    for r in records:
        if not r.warmup and r.profiler is None and r.diagnosis.get("bound", "-") != "-":
            seen.setdefault(r.cell_id, r)
    if not seen:
        return ""
    ordered = sorted(seen.values(), key=lambda r: (not r.diagnosis.get("fault"), r.strategy, r.size_bytes))
    rows = "".join(
        f'<tr><td style="{"color:#b45309;font-weight:700" if r.diagnosis.get("fault") else ""}">'
        f"{e(str(r.diagnosis.get('bound')))}</td><td>{e(cell_label(record_cell_fields(r)))}</td>"
        f"<td>{e(str(r.diagnosis.get('sentence', '')))}</td></tr>"
        for r in ordered
    )
    return (
        "<h2>What bound each cell (the stream doctor)</h2><table><thead><tr><th>bound by</th><th>cell</th>"
        f"<th>the doctor's reading</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def render_scenario(
    scenario: Any,
    info: Mapping[str, Any],
    verdicts: list[Verdict],
    records: Sequence[Record],
    full_report: str,
    images: Mapping[str, bytes] | None = None,
) -> str:
    """``images``: the screenshots browser records name (path in the run -> bytes), embedded inline."""
    e = html.escape
    shots = screenshots_html(records, images or {})
    chart = scenario.chart
    metric = str(chart.get("metric", "throughput_bps"))
    svg = bar_chart_svg(
        _series(records, metric, str(chart.get("x", "strategy"))), metric, str(chart.get("title", metric))
    )
    rows = "".join(
        f'<tr><td style="color:{_COLOURS[v.verdict]};font-weight:700">{e(v.verdict)}</td>'
        f"<td>{e(v.about)}</td><td>{e(sentence(v))}</td>"
        f"<td><details><summary><code>{e(v.claim.metric)} {e(v.claim.expect)}</code></summary>"
        f"{e(v.detail)}</details></td></tr>"
        for v in verdicts
    )
    counts = {k: sum(v.verdict == k for v in verdicts) for k in _COLOURS}
    n_split = sum("split" in v.numbers for v in verdicts)
    split_html = (
        f" ({n_split} of them split: cell by cell some hold and as many fail, which no number of"
        " runs can settle; the statistic says which cells)"
        if n_split
        else ""
    )
    doctor = doctor_html(records)
    rounds = info.get("claim_rounds") or {}
    budget_text = (
        " or not bought: the next would have passed the later rounds' budget of "
        f"{rounds['later_budget_s']:g} s of runs ({rounds['later_spent_s']:g} s spent), so a claim still "
        "open there may yet be decided by more runs (--repeat N runs every round)"
        if rounds.get("stopped_by_budget")
        else ""
    )
    rounds_html = (
        f'<p class="note">Every cell ran {int(rounds["min_repeat"])} rounds; each later round ran only '
        f"for the cells of claims still undecided, so {int(rounds['later_runs_skipped'])} of "
        f"{int(rounds['later_runs'])} later runs were not needed{e(budget_text)}.</p>"
        if rounds
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scenario {e(scenario.name)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
td, th {{ padding: 5px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }}
.note {{ color: #555; }} code {{ background: #f3f3f3; padding: 0 3px; }}
iframe {{ width: 100%; height: 1400px; border: 1px solid #ddd; }}
figure {{ display: inline-block; margin: 0 12px 12px 0; max-width: 660px; vertical-align: top; }}
figure img {{ margin-right: 4px; border: 1px solid #ccc; }}
figcaption {{ font-size: 12px; color: #444; }}
</style></head><body>
<h1>{e(scenario.question)}</h1>
<p class="note">Scenario <code>{e(scenario.name)}</code> at {int(info["size_bytes"]) / 2**20:g} MiB:
{counts["holds"]} claims hold, {counts["fails"]} fail, {counts["inconclusive"]} inconclusive{split_html}.</p>
{rounds_html}
<p>{e(scenario.narrative)}</p>
<h2>Verdicts</h2>
<table><thead><tr><th>verdict</th><th>runtime</th><th>what was measured</th>
<th>tested as (click: the statistic)</th></tr>
</thead>
<tbody>{rows}</tbody></table>
<h2>The chart that answers it</h2>
{svg}
{doctor}
{shots}
<h2>The full report of this run</h2>
<iframe title="full report" srcdoc="{e(full_report, quote=True)}"></iframe>
</body></html>
"""
