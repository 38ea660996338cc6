"""Small offline charts as inline SVG strings: no browser script, no font, no network.

Two shapes cover the report: ``interval_chart`` (one row per item: a bar or a
dot, with an interval as whiskers, and reference lines) and ``xy_chart`` (lines
and points on linear or log axes). Every text that reaches the SVG goes through
``esc``; tooltips are native ``<title>`` elements. Colours and fonts come from the
page's stylesheet (classes ``sb-*``) where possible.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from streambench.reports.templating import fmt_bytes as bytes_format

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#79706e",
)
FONT_PX = 12
_JITTER_PX = (0.0, -3.5, 3.5, -1.75, 1.75, -5.0, 5.0)  # runs of one row, spread so equal ones show
CHAR_PX = 6.8  # average glyph width at 12 px of a sans font: enough to lay out labels
Format = Callable[[float], str]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def colour_map(names: Sequence[str]) -> dict[str, str]:
    """A stable colour per name (sorted, so the same strategy has the same colour in every chart)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(names)))}


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _truncate(text: str, max_px: float, char_px: float = CHAR_PX) -> str:
    max_chars = max(4, int(max_px / char_px))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def default_format(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


# --- scales ---------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5, binary: bool = False) -> list[float]:
    """Round numbers (1, 2, 2.5, 5 x 10^k steps) from below ``low`` to above ``high``.

    ``binary``: the same steps in the largest power-of-1024 unit below ``high`` (bytes: 0, 5, 10 MiB).
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    unit = 1.0
    if binary:
        unit = 1024.0 ** max(0, math.floor(math.log(max(abs(high), abs(low), 1.0), 1024)))
    low, high = low / unit, high / unit
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(k * step, 12) * unit for k in range(first, last + 1)]


def log_ticks(low: float, high: float, base: int = 10, max_count: int = 7) -> list[float]:
    """Powers of ``base`` (every k-th, to keep at most ``max_count``) covering [low, high]."""
    if low <= 0 or high <= 0 or not (math.isfinite(low) and math.isfinite(high)):
        return []
    first = math.floor(math.log(low, base) + 1e-9)
    last = math.ceil(math.log(high, base) - 1e-9)
    if last == first:
        last += 1
    stride = max(1, math.ceil((last - first + 1) / max_count))
    last = first + stride * math.ceil((last - first) / stride)  # end on a tick at or above ``high``
    ticks = [float(base**k) for k in range(first, last + 1, stride)]
    if base == 10 and len(ticks) <= 2:
        ticks = sorted({m * 10.0**k for k in range(first, last + 1) for m in (1, 2, 5)})
        ticks = [t for t in ticks if 10.0**first <= t <= 10.0**last]
    return ticks


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    pixel_low: float
    pixel_high: float
    log: bool = False

    def __call__(self, value: float) -> float:
        if self.log:
            value = math.log10(max(value, 1e-300))
            low, high = math.log10(self.low), math.log10(self.high)
        else:
            low, high = self.low, self.high
        span = high - low or 1.0
        return self.pixel_low + (value - low) / span * (self.pixel_high - self.pixel_low)


def _axis_range(
    values: Sequence[float], log: bool, zero: bool, binary: bool = False
) -> tuple[float, float, list[float]]:
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        return (1.0, 10.0, [1.0, 10.0]) if log else (0.0, 1.0, [0.0, 1.0])
    low, high = min(finite), max(finite)
    if log:
        return (low, high, [])
    if zero:
        low = min(0.0, low)
    ticks = nice_ticks(low, high, binary=binary)
    return (min(ticks[0], low), max(ticks[-1], high), ticks)


# --- interval chart (bars or dots with whiskers) ---------------------------


@dataclass(frozen=True)
class Item:
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    colour: str = PALETTE[0]
    tooltip: str = ""
    note: str = ""  # right of the bar, e.g. "61% of limit"
    runs: Sequence[float] = ()  # every run, drawn as a dot (dots mode): the median is then a tick


@dataclass(frozen=True)
class RefLine:
    value: float
    label: str
    band: tuple[float, float] | None = None  # shaded, e.g. the --fail-on tolerance


def interval_chart(
    items: Sequence[Item],
    *,
    title: str,
    axis_label: str,
    ref_lines: Sequence[RefLine] = (),
    value_format: Format = default_format,
    dots: bool = False,
    width: int | None = None,
) -> str:
    """One row per item: a bar from zero (or a dot) at ``value``, whiskers from ``low`` to ``high``."""
    label_px = min(300.0, max(60.0, max((len(i.label) for i in items), default=4) * CHAR_PX + 10))
    note_px = max((len(i.note) + len(value_format(i.value)) + 3 for i in items), default=0) * CHAR_PX + 12
    note_px = min(200.0, note_px)
    if width is None:  # as wide as the labels and notes need, around a plot of 340 px
        width = int(min(1200.0, max(480.0, label_px + note_px + 360)))
    row_px, top, bottom = 20, 34, 44
    left, right = label_px + 8, width - note_px - 8
    height = top + bottom + row_px * max(len(items), 1)
    values: list[float] = []
    for i in items:
        values += [v for v in (i.value, i.low, i.high) if v is not None]
        values += list(i.runs)
    for r in ref_lines:
        values.append(r.value)
        if r.band:
            values += list(r.band)
    low, high, ticks = _axis_range(values, log=False, zero=not dots)
    if dots:
        pad = (high - low) * 0.05 or 0.05
        low, high = low - pad, high + pad
        ticks = [t for t in nice_ticks(low, high) if low <= t <= high]
    x = Scale(low, high, left, right)
    out = [_open(width, height, title)]
    out.append(
        f'<text class="sb-title" x="10" y="16"><title>{esc(title)}</title>'
        f"{esc(_truncate(title, width - 20, 7.4))}</text>"
    )
    plot_bottom = top + row_px * len(items)
    for t in ticks:
        px = _n(x(t))
        out.append(f'<line class="sb-grid" x1="{px}" x2="{px}" y1="{top - 4}" y2="{plot_bottom}"/>')
        out.append(
            f'<text class="sb-tick" x="{px}" y="{plot_bottom + 14}" text-anchor="middle">'
            f"{esc(value_format(t))}</text>"
        )
    # Centred under the plot, but never past the chart's edges (a long label under a narrow plot).
    label_px = len(axis_label) * CHAR_PX
    centre = min(max((left + right) / 2, label_px / 2 + 4), width - label_px / 2 - 4)
    out.append(
        f'<text class="sb-axis" x="{_n(centre)}" y="{height - 6}" '
        f'text-anchor="middle">{esc(_truncate(axis_label, width - 8))}</text>'
    )
    for r in ref_lines:
        if r.band:
            b0, b1 = x(r.band[0]), x(r.band[1])
            out.append(
                f'<rect class="sb-band" x="{_n(min(b0, b1))}" y="{top - 4}" width="{_n(abs(b1 - b0))}" '
                f'height="{plot_bottom - top + 4}"/>'
            )
        px = _n(x(r.value))
        out.append(
            f'<line class="sb-ref" x1="{px}" x2="{px}" y1="{top - 8}" y2="{plot_bottom}">'
            f"<title>{esc(r.label)}</title></line>"
        )
        out.append(
            f'<text class="sb-reflabel" x="{px}" y="{top - 10}" text-anchor="middle">{esc(r.label)}</text>'
        )
    for row, item in enumerate(items):
        cy = top + row * row_px + row_px / 2
        tip = esc(item.tooltip or f"{item.label}: {value_format(item.value)}")
        out.append(f'<g class="sb-item"><title>{tip}</title>')
        out.append(
            f'<text class="sb-label" x="{_n(left - 6)}" y="{_n(cy + 4)}" text-anchor="end">'
            f"{esc(_truncate(item.label, label_px))}</text>"
        )
        end = item.value
        has_interval = (
            item.low is not None
            and item.high is not None
            and math.isfinite(item.low)
            and math.isfinite(item.high)
        )
        if dots and item.runs and math.isfinite(item.value):
            # every run a dot over the median's interval (a band), the median a tick: the spread
            # and the decision in one row
            if has_interval:
                band_low, band_high = x(item.low or 0.0), x(item.high or 0.0)
                out.append(
                    f'<rect x="{_n(band_low)}" y="{_n(cy - 6)}" width="{_n(max(band_high - band_low, 1.0))}" '
                    f'height="12" '
                    f'fill="{esc(item.colour)}" fill-opacity=".22"/>'
                )
            for k, run in enumerate(item.runs):
                if math.isfinite(run):
                    dy = _JITTER_PX[k % len(_JITTER_PX)]
                    out.append(
                        f'<circle class="sb-run" cx="{_n(x(run))}" cy="{_n(cy + dy)}" r="2.8" '
                        f'fill="{esc(item.colour)}" fill-opacity=".8"/>'
                    )
            mx = _n(x(item.value))
            out.append(f'<path class="sb-median" d="M{mx} {_n(cy - 8)}V{_n(cy + 8)}"/>')
            end = max([item.value, *(r for r in item.runs if math.isfinite(r))])
            if has_interval:
                end = max(end, item.high or end)
        elif math.isfinite(item.value):
            if dots:
                out.append(
                    f'<circle cx="{_n(x(item.value))}" cy="{_n(cy)}" r="4.5" fill="{esc(item.colour)}"/>'
                )
            else:
                x0, x1 = x(max(low, 0.0)), x(item.value)
                out.append(
                    f'<rect x="{_n(min(x0, x1))}" y="{_n(cy - 7)}" width="{_n(abs(x1 - x0))}" height="14" '
                    f'fill="{esc(item.colour)}"/>'
                )
        if has_interval and not (dots and item.runs) and item.low is not None and item.high is not None:
            a, b = _n(x(item.low)), _n(x(item.high))
            out.append(
                f'<path class="sb-whisker" d="M{a} {_n(cy)}H{b}M{a} {_n(cy - 5)}V{_n(cy + 5)}'
                f'M{b} {_n(cy - 5)}V{_n(cy + 5)}"/>'
            )
            end = max(end, item.high) if math.isfinite(end) else item.high
        text = value_format(item.value) if math.isfinite(item.value) else "no value"
        if item.note:
            text += f"  {item.note}"
        tx = x(end) + 6 if math.isfinite(end) else left + 4
        out.append(f'<text class="sb-value" x="{_n(tx)}" y="{_n(cy + 4)}">{esc(text)}</text></g>')
    out.append("</svg>")
    return "".join(out)


# --- xy chart (lines and points, linear or log axes) -----------------------


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    colour: str = PALETTE[0]
    line: bool = True
    markers: bool = False
    dashed: bool = False
    ring: bool = False  # markers as open rings drawn over other points (knees, the Pareto front)
    step: bool = False  # draw as a staircase (for the Pareto front)
    in_legend: bool = True
    tooltips: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class VLine:
    x: float
    label: str
    row: int = 0  # labels sit inside the plot, right of their line, one row down per ``row``


def xy_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_log: bool = False,
    y_log: bool = False,
    x_bytes: bool = False,
    y_bytes: bool = False,
    x_format: Format = default_format,
    y_format: Format = default_format,
    y_zero: bool = True,
    vlines: Sequence[VLine] = (),
    width: int = 600,
    height: int = 300,
) -> str:
    """Lines and/or points; non-positive values are left out of a log axis.

    ``x_bytes`` / ``y_bytes``: the axis is in bytes (IEC labels, ticks at powers of 2
    on a log axis, at round MiB / GiB on a linear one).
    """
    x_format = bytes_format if x_bytes else x_format
    y_format = bytes_format if y_bytes else y_format
    xs = [p[0] for s in series for p in s.points] + [v.x for v in vlines]
    ys = [p[1] for s in series for p in s.points]
    x_low, x_high, x_ticks = _axis_range(xs, x_log, zero=False, binary=x_bytes)
    y_low, y_high, y_ticks = _axis_range(ys, y_log, zero=y_zero, binary=y_bytes)
    if x_log:
        x_ticks = log_ticks(x_low, x_high, 2 if x_bytes else 10)
        x_low, x_high = min(x_low, x_ticks[0]), max(x_high, x_ticks[-1])
    if y_log:
        y_ticks = log_ticks(y_low, y_high, 2 if y_bytes else 10)
        y_low, y_high = min(y_low, y_ticks[0]), max(y_high, y_ticks[-1])
    legend = [s for s in series if s.in_legend]
    legend_rows = _legend_rows([s.name for s in legend], width - 60)
    top = 30 + 16 * len(legend_rows)
    y_tick_px = max((len(y_format(t)) for t in y_ticks), default=3) * CHAR_PX
    left, right, bottom = 30 + y_tick_px, width - 26, height - 40
    x = Scale(x_low, x_high, left, right, x_log)
    y = Scale(y_low, y_high, bottom, top, y_log)
    out = [_open(width, height, title)]
    out.append(
        f'<text class="sb-title" x="10" y="16"><title>{esc(title)}</title>'
        f"{esc(_truncate(title, width - 20, 7.4))}</text>"
    )
    for row_index, row in enumerate(legend_rows):
        for name, offset in row:
            s = next(s for s in legend if s.name == name)
            lx, ly = left + offset, 34 + 16 * row_index
            dash = ' stroke-dasharray="5 3"' if s.dashed else ""
            out.append(
                f'<line x1="{_n(lx)}" x2="{_n(lx + 16)}" y1="{ly - 4}" y2="{ly - 4}" '
                f'stroke="{esc(s.colour)}" stroke-width="3"{dash}/>'
            )
            out.append(f'<text class="sb-legend" x="{_n(lx + 20)}" y="{ly}">{esc(name)}</text>')
    for t in x_ticks:
        if x_low <= t <= x_high:
            tx = _n(x(t))
            out.append(f'<line class="sb-grid" x1="{tx}" x2="{tx}" y1="{top}" y2="{bottom}"/>')
            out.append(
                f'<text class="sb-tick" x="{tx}" y="{bottom + 14}" text-anchor="middle">'
                f"{esc(x_format(t))}</text>"
            )
    for t in y_ticks:
        if y_low <= t <= y_high:
            ty = _n(y(t))
            out.append(f'<line class="sb-grid" x1="{_n(left)}" x2="{_n(right)}" y1="{ty}" y2="{ty}"/>')
            out.append(
                f'<text class="sb-tick" x="{_n(left - 4)}" y="{_n(y(t) + 4)}" text-anchor="end">'
                f"{esc(y_format(t))}</text>"
            )
    out.append(f'<path class="sb-frame" d="M{_n(left)} {top}V{bottom}H{_n(right)}"/>')
    out.append(
        f'<text class="sb-axis" x="{_n((left + right) / 2)}" y="{height - 6}" text-anchor="middle">'
        f"{esc(x_label)}</text>"
    )
    out.append(
        f'<text class="sb-axis" transform="translate(12 {_n((top + bottom) / 2)}) rotate(-90)" '
        f'text-anchor="middle">{esc(y_label)}</text>'
    )
    for v in vlines:
        vx = _n(x(v.x))
        out.append(
            f'<g><title>{esc(v.label)}</title><line class="sb-vline" x1="{vx}" x2="{vx}" y1="{top}" '
            f'y2="{bottom}"/><text class="sb-note" x="{_n(x(v.x) + 3)}" y="{top + 11 + 12 * v.row}">'
            f"{esc(v.label)}</text></g>"
        )
    for s in series:
        pts = [
            (px, py, i)
            for i, (px, py) in enumerate(s.points)
            if math.isfinite(px) and math.isfinite(py) and (px > 0 or not x_log) and (py > 0 or not y_log)
        ]
        if not pts:
            continue
        out.append(f'<g class="sb-series"><title>{esc(s.name)}</title>')
        if s.line and len(pts) > 1:
            d = _path([(x(px), y(py)) for px, py, _ in pts], s.step)
            dash = ' stroke-dasharray="5 3"' if s.dashed else ""
            out.append(f'<path d="{d}" fill="none" stroke="{esc(s.colour)}" stroke-width="1.8"{dash}/>')
        if s.markers or s.ring or len(pts) == 1:
            for px, py, i in pts:
                tip = s.tooltips[i] if i < len(s.tooltips) else f"{s.name}: {x_format(px)}, {y_format(py)}"
                shape = (
                    'r="7.5" fill="none" stroke-width="2"'
                    if s.ring
                    else f'r="4" fill="{esc(s.colour)}" stroke-width="1"'
                )
                out.append(
                    f'<circle cx="{_n(x(px))}" cy="{_n(y(py))}" {shape} stroke="{esc(s.colour)}">'
                    f"<title>{esc(tip)}</title></circle>"
                )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _legend_rows(names: Sequence[str], max_px: float) -> list[list[tuple[str, float]]]:
    rows: list[list[tuple[str, float]]] = []
    offset = 0.0
    row: list[tuple[str, float]] = []
    for name in names:
        item_px = 34 + len(name) * 6.4
        if row and offset + item_px > max_px:
            rows.append(row)
            offset, row = 0.0, []
        row.append((name, offset))
        offset += item_px
    if row:
        rows.append(row)
    return rows


def _path(points: Sequence[tuple[float, float]], step: bool) -> str:
    parts = [f"M{_n(points[0][0])} {_n(points[0][1])}"]
    for px, py in points[1:]:
        parts.append(f"H{_n(px)}V{_n(py)}" if step else f"L{_n(px)} {_n(py)}")
    return "".join(parts)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg class="sb-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">'
    )


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[tuple[str, float]]]], title: str, colours: dict[str, str],
    fmt: Callable[[float], str] = default_format, width: int = 760,
) -> str:  # fmt: skip
    """One horizontal bar per row, its parts stacked left to right (parts named alike share a colour,
    in a legend above); each part's value on hover."""
    if not rows:
        return ""
    label_px, row_px, top = 210, 22, 40
    total_max = max(sum(v for _, v in parts) for _, parts in rows) or 1.0
    plot = width - label_px - 70
    height = top + row_px * len(rows) + 10
    out = [_open(width, height, title), f'<text x="4" y="14" font-size="13">{esc(title)}</text>']
    x = 4.0
    for name, colour in colours.items():
        out.append(f'<rect x="{_n(x)}" y="22" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{_n(x + 14)}" y="31" font-size="11">{esc(name)}</text>')
        x += 14 + CHAR_PX * len(name) + 14
    for i, (label, parts) in enumerate(rows):
        y = top + i * row_px
        out.append(f'<text x="4" y="{y + 14}" font-size="11">{esc(_truncate(label, label_px - 8))}</text>')
        left = float(label_px)
        for name, value in parts:
            w = max(0.0, value / total_max * plot)
            out.append(
                f'<rect x="{_n(left)}" y="{y + 3}" width="{_n(w)}" height="{row_px - 6}" '
                f'fill="{colours.get(name, "#999")}"><title>{esc(label)}: {esc(name)} {esc(fmt(value))}'
                "</title></rect>"
            )
            left += w
        total = sum(v for _, v in parts)
        out.append(f'<text x="{_n(left + 4)}" y="{y + 14}" font-size="11">{esc(fmt(total))}</text>')
    out.append("</svg>")
    return "".join(out)
