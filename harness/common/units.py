"""Parsing and printing sizes and rates; every number here carries its unit."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from streambench.harness.common.errors import UsageError

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
# Beyond this no file, buffer or rate here is meant: a typo, said as one.
MAX_SIZE_BYTES = 1 << 60


def parse_size(text: str) -> int:
    """``'64KiB'`` -> 65536. A bare number is bytes. Fractions must come out whole."""
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or (unit not in _SIZE_UNITS and unit != ""):
        raise UsageError(f"bad size {text!r}: expected a number and one of {VALID_SIZE_UNITS} (e.g. 64KiB)")
    # Decimal, not float: a 400-digit number is an error to say, not an OverflowError.
    if len(match.group(1)) > 30:
        raise UsageError(f"bad size {text[:40]!r}...: more than {format_bytes(MAX_SIZE_BYTES)}")
    value = Decimal(match.group(1)) * _SIZE_UNITS.get(unit, 1)
    if value != value.to_integral_value():
        raise UsageError(f"bad size {text!r}: not a whole number of bytes")
    if value > MAX_SIZE_BYTES:
        raise UsageError(f"bad size {text!r}: more than {format_bytes(MAX_SIZE_BYTES)}")
    return int(value)


_BIT_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKMG]?)bit/s$")
_BIT_FACTORS = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


def parse_rate(text: str) -> int:
    """``'50MB/s'`` -> 50_000_000 bytes per second, ``'10Mbit/s'`` -> 1_250_000; ``'unlimited'`` -> 0."""
    if text.strip().lower() in ("unlimited", "inf"):
        return 0
    body = text.strip()
    if m := _BIT_RATE.match(body):  # a link's rate, in bits (decimal prefixes, as links are sold)
        rate_bps = int(float(m.group(1)) * _BIT_FACTORS[m.group(2)] / 8)
        if rate_bps > 0:
            return rate_bps
    if body.lower().endswith("/s"):
        body = body[:-2]
    try:
        rate = parse_size(body)
    except UsageError:
        rate = -1
    if rate <= 0:
        # 0 bytes per second would never finish: unlimited is said in words.
        raise UsageError(
            f"bad rate {text!r}: expected a positive size per second (e.g. 50MB/s), "
            "a bit rate (e.g. 10Mbit/s) or 'unlimited'"
        )
    return rate


def parse_count(text: object, name: str, minimum: int = 0, maximum: int = 1_000_000) -> int:
    """A whole number from the command line or a TOML file (``1.7`` and ``true`` are not)."""
    if isinstance(text, (bool, float)) or not isinstance(text, int | str):
        raise UsageError(f"{name} must be a whole number, got {text!r}")
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, got {str(text)[:40]!r}") from None
    if not minimum <= value <= maximum:
        raise UsageError(f"{name} must be a whole number from {minimum} to {maximum}, got {value}")
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|sec|m|min|h)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_seconds(text: object, name: str, maximum_s: float = 7 * 24 * 3600) -> float:
    """A positive, finite duration: seconds, or with a unit as every other option takes one
    (``20s``, ``2m``, ``1.5min``, ``500ms``, ``1h``); ``nan``, ``0`` and ``-5`` are not."""
    match = _DURATION.match(str(text)) if isinstance(text, str) else None
    try:
        if match:
            value = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]
        else:
            value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a duration (20, 20s, 2m, 500ms), got {str(text)[:40]!r}") from None
    if not math.isfinite(value) or not 0 < value <= maximum_s:
        raise UsageError(
            f"{name} must be a number of seconds above 0 and at most {maximum_s:g}, got {text!r}"
        )
    return value


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


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def parse_fraction(text: str) -> float:
    """``'5%'`` (or ``'5'``) -> 0.05; a share from 0 to below 100 percent."""
    match = _PERCENT.match(text)
    if not match or float(match.group(1)) >= 100:
        raise UsageError(f"bad percentage {text!r}: expected e.g. 5% (from 0 to below 100)")
    return float(match.group(1)) / 100
