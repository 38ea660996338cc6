"""Parsing and printing sizes and rates; every number here carries its unit."""

from __future__ import annotations

import re

from harness.errors import UsageError

_SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
VALID_SIZE_UNITS = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"


def parse_size(text: str) -> int:
    """``'64KiB'`` -> 65536. A bare number is bytes. Fractions must come out whole."""
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or (unit not in _SIZE_UNITS and unit != ""):
        raise UsageError(f"bad size {text!r}: expected a number and one of {VALID_SIZE_UNITS} (e.g. 64KiB)")
    value = float(match.group(1)) * _SIZE_UNITS.get(unit, 1)
    if value != int(value):
        raise UsageError(f"bad size {text!r}: not a whole number of bytes")
    return int(value)


def parse_rate(text: str) -> int:
    """``'50MB/s'`` -> 50_000_000 bytes per second; ``'unlimited'`` -> 0."""
    if text.strip().lower() in ("unlimited", "0", "inf"):
        return 0
    body = text.strip()
    if body.lower().endswith("/s"):
        body = body[:-2]
    try:
        return parse_size(body)
    except UsageError:
        raise UsageError(
            f"bad rate {text!r}: expected a size per second (e.g. 50MB/s) or 'unlimited'"
        ) from None


def format_bytes(n_bytes: float) -> str:
    """A short IEC string: 1073741824 -> '1GiB', 1536 -> '1.5KiB'."""
    value = float(n_bytes)
    if value != value:  # NaN: a failed run has no figure
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            text = f"{value:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
        value /= 1024
    raise AssertionError("unreachable")
