"""The Jinja2 environment and the number formats every page shares.

Autoescape is on for every template: strings from records, configs and plugins
are escaped wherever they land. SVG made in Python is escaped by ``reports.svg``
and handed over as ``Markup``.
"""

from __future__ import annotations

import math
from typing import Any

import jinja2

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("streambench.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

DASH = "–"


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return False  # text is never missing: a strategy named "NaN" is a name, not a number
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt_bytes(value: Any) -> str:
    if is_missing(value):
        return DASH
    n = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f}".removesuffix(".0") + f" {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def fmt_num(value: Any, digits: int = 3) -> str:
    if is_missing(value):
        return DASH
    return f"{float(value):.{digits}g}"


def fmt_pct(value: Any, digits: int = 0) -> str:
    """A share as a percentage: 0.615 -> '62%'."""
    if is_missing(value):
        return DASH
    return f"{float(value) * 100:.{digits}f}%"


def fmt_change(value: Any) -> str:
    """A ratio as a signed change: 0.9 -> '-10.0%'."""
    if is_missing(value):
        return DASH
    return f"{(float(value) - 1) * 100:+.1f}%"


def fmt_p(value: Any) -> str:
    if is_missing(value):
        return DASH
    v = float(value)
    return f"{v:.2g}" if v < 0.01 else f"{v:.3f}".rstrip("0").rstrip(".") if v < 1 else "1"


def sort_key(value: Any) -> str:
    """What a sortable table cell carries in ``data-v``: a number, or text; missing sorts last."""
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(float(value))
    return str(value)


ENV.filters["bytes"] = fmt_bytes
ENV.filters["num"] = fmt_num
ENV.filters["pct"] = fmt_pct
ENV.filters["change"] = fmt_change
ENV.filters["pval"] = fmt_p
ENV.filters["sortkey"] = sort_key
