"""A flame graph (SVG) of a V8/JSC ``.cpuprofile``: what py-spy draws for Python, for a JS runtime.

A ``.cpuprofile`` is a call tree (``nodes``: id, callFrame, children, hitCount) sampled at a fixed
interval. Each frame's width is its inclusive samples (its own and its callees'); frames are
stacked root at the bottom, as py-spy's and Brendan Gregg's flame graphs are. The idle and
program pseudo-frames are left out, so the widths are on-CPU time. Pure: a document in, SVG text out.
"""

from __future__ import annotations

import html
import zlib
from typing import Any

WIDTH_PX = 1200
ROW_PX = 16
MIN_WIDTH_PX = 0.5  # narrower frames are not drawn (they would be invisible)
HIDDEN = frozenset({"(idle)", "(program)", "(garbage collector)"})
_COLOURS = ("#e8a33d", "#e07b39", "#d95f3b", "#f0b54a", "#e6953a", "#dd6d36")


def _label(frame: dict[str, Any]) -> str:
    name = str(frame.get("functionName") or "(anonymous)")
    url = str(frame.get("url") or "")
    where = url.rsplit("/", 1)[-1]
    line = frame.get("lineNumber")
    return f"{name} {where}:{int(line) + 1}" if where and isinstance(line, int) else name


def flame_svg(doc: dict[str, Any], title: str = "on-CPU time") -> str:
    nodes = {int(n["id"]): n for n in doc.get("nodes", [])}
    if not nodes:
        return ""
    children = {i: [int(c) for c in n.get("children", [])] for i, n in nodes.items()}
    inclusive: dict[int, int] = {}

    def total(i: int) -> int:
        # Iterative post-order: deep JS stacks would overflow Python's recursion.
        order, stack = [], [i]
        while stack:
            j = stack.pop()
            order.append(j)
            stack.extend(children[j])
        for j in reversed(order):
            hidden = str(nodes[j]["callFrame"].get("functionName")) in HIDDEN
            own = 0 if hidden else int(nodes[j].get("hitCount", 0))
            inclusive[j] = own + sum(inclusive[c] for c in children[j])
        return inclusive[i]

    root = min(nodes)
    samples = total(root)
    if samples == 0:
        return ""
    frames: list[tuple[int, float, float, str, int]] = []  # depth, x, width, label, samples
    stack: list[tuple[int, float, int]] = [(root, 0.0, 0)]
    while stack:
        i, x, depth = stack.pop()
        width = inclusive[i] / samples * WIDTH_PX
        if width < MIN_WIDTH_PX:
            continue
        frames.append((depth, x, width, _label(nodes[i]["callFrame"]) if depth else "all", inclusive[i]))
        child_x = x
        for c in children[i]:
            if inclusive[c]:
                stack.append((c, child_x, depth + 1))
                child_x += inclusive[c] / samples * WIDTH_PX
    height = (max(f[0] for f in frames) + 2) * ROW_PX
    rects = []
    for depth, x, width, label, n in frames:
        y = height - (depth + 1) * ROW_PX  # root at the bottom
        colour = _COLOURS[zlib.crc32(label.encode()) % len(_COLOURS)]
        shown = html.escape(label[: max(0, int(width / 7) - 1)]) if width > 21 else ""
        rects.append(
            f"<g><title>{html.escape(label)} ({n} samples, {n / samples:.1%})</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW_PX - 1}" fill="{colour}"/>'
            f'<text x="{x + 3:.1f}" y="{y + ROW_PX - 4}" font-size="11">{shown}</text></g>'
        )
    body = "".join(rects)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PX}" height="{height}" '
        f'viewBox="0 0 {WIDTH_PX} {height}" font-family="monospace">'
        f'<text x="4" y="12" font-size="12">{html.escape(title)}: {samples} samples</text>{body}</svg>'
    )
