"""HTTP Range requests, parsed by us (RFC 9110): one range, 206/416, malformed ones ignored.

Pure functions: the server process uses them, tests drive them without a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_RANGE_SPEC = re.compile(r"(\d+)-(\d*)|-(\d+)", re.ASCII)  # "０-１" is no range


@dataclass(frozen=True)
class RangeAnswer:
    """What a Range header asks of a file of ``size_bytes``: the body and its status.

    ``kind``: ``full`` (200, the whole file), ``partial`` (206, ``length`` bytes from
    ``start``) or ``unsatisfiable`` (416). ``reason`` says why, for logs and tests.
    """

    kind: Literal["full", "partial", "unsatisfiable"]
    start: int
    length: int
    size_bytes: int
    reason: str

    @property
    def status(self) -> int:
        return {"full": 200, "partial": 206, "unsatisfiable": 416}[self.kind]

    @property
    def content_range(self) -> str | None:
        if self.kind == "partial":
            return f"bytes {self.start}-{self.start + self.length - 1}/{self.size_bytes}"
        if self.kind == "unsatisfiable":
            return f"bytes */{self.size_bytes}"
        return None


def full_answer(size_bytes: int, reason: str) -> RangeAnswer:
    return RangeAnswer("full", 0, size_bytes, size_bytes, reason)


def _position(digits: str) -> int:
    """A byte position; absurdly long ones (int() refuses > 4300 digits) saturate."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 10**18


def parse_range(header: str | None, size_bytes: int) -> RangeAnswer:
    """Our own single-range parser (module docstring: the decisions and why)."""
    if header is None:
        return full_answer(size_bytes, "no Range")
    unit, eq, range_set = header.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return full_answer(size_bytes, "malformed: not a bytes range (ignored)")
    # RFC 9110 §5.6.1: a list allows OWS around commas and empty elements.
    elements = [e.strip(" \t") for e in range_set.split(",")]
    elements = [e for e in elements if e]
    if not elements:
        return full_answer(size_bytes, "malformed: no range (ignored)")
    specs: list[tuple[int | None, int | None]] = []
    for element in elements:
        match = _RANGE_SPEC.fullmatch(element)
        if match is None:
            return full_answer(size_bytes, f"malformed: {element!r} (ignored)")
        first, last, suffix = match.groups()
        if suffix is not None:
            specs.append((None, _position(suffix)))
            continue
        first_pos = _position(first)
        last_pos = _position(last) if last else None
        if last_pos is not None and last_pos < first_pos:
            return full_answer(size_bytes, f"malformed: {element!r} ends before it starts (ignored)")
        specs.append((first_pos, last_pos))
    if len(specs) > 1:
        return full_answer(size_bytes, f"multi-range ({len(specs)} ranges) ignored")
    start_pos, last_or_suffix = specs[0]
    if start_pos is None:  # suffix: the last n bytes
        n = last_or_suffix or 0
        if n == 0 or size_bytes == 0:
            return RangeAnswer("unsatisfiable", 0, 0, size_bytes, "suffix of 0 bytes or empty file")
        start = max(0, size_bytes - n)
        return RangeAnswer("partial", start, size_bytes - start, size_bytes, "suffix range")
    if start_pos >= size_bytes:
        return RangeAnswer("unsatisfiable", 0, 0, size_bytes, "starts at or past the end")
    end = size_bytes if last_or_suffix is None else min(last_or_suffix + 1, size_bytes)
    return RangeAnswer("partial", start_pos, end - start_pos, size_bytes, "single range")
