"""The HTML report: records in, one self-contained HTML string out (no I/O here)."""

from __future__ import annotations

import math
from typing import Any

import jinja2
import pandas as pd

from reports.frame import records_to_frame
from reports.stats import cell_summary, reference_ratios

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt_bytes(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    n = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(value)


def _fmt_num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.{digits}g}"


_ENV.filters["bytes"] = _fmt_bytes
_ENV.filters["num"] = _fmt_num


def render_report(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    df = records_to_frame(records)
    summary = cell_summary(df)
    rows: list[dict[str, Any]] = []
    if not summary.empty:
        summary["share_of_cat"] = reference_ratios(summary)
        rows = [{str(k): v for k, v in r.items()} for r in summary.to_dict(orient="records")]
    flagged: list[dict[str, Any]] = []
    if not df.empty:
        bad = df[(df["outcome"] != "ok") | (~df["verified"].astype(bool)) | (df["cache_state_ok"] == False)]  # noqa: E712 - pandas elementwise
        flagged = [{str(k): v for k, v in r.items()} for r in bad.to_dict(orient="records")]
    return _ENV.get_template("report.html.j2").render(
        meta=meta,
        rows=rows,
        flagged=flagged,
        n_records=len(df),
        n_warmup=int(df["warmup"].astype(bool).sum()) if not df.empty else 0,
        machine=meta.get("machine", {}),
    )


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The per-cell summary the report shows, for terminal tables."""
    summary = cell_summary(records_to_frame(records))
    if not summary.empty:
        summary["share_of_cat"] = reference_ratios(summary)
    return summary
