"""Transforms between source and sink: Node's Transform streams.

A transform is pushed chunks (``process``) and finally ``flush``ed; it returns
the bytes to pass on. Strategies that move bytes through user space call it on
every chunk; zero-copy strategies cannot and say so (no TRANSFORMS capability).

``reference_output`` applies a transform to a whole file through an independent
path (one pass, other block boundaries), so the runner can check a strategy's
output byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

GZIP_LEVEL = 1  # fast level: a transform benchmark should not be only zlib's
GREP_PATTERN = b" 404 "  # in access logs: the status field of not-found requests
CSV_SELECT_COLUMNS = (0, 2, 5)  # id, customer name, amount in the csv workload


class Transform(Protocol):
    name: str

    def process(self, chunk: bytes | memoryview) -> bytes: ...

    def flush(self) -> bytes: ...

    def notes(self) -> dict[str, str | int]: ...


class Gzip:
    """gzip (deflate, level 1, mtime 0): the compression transform."""

    name = "gzip"

    def __init__(self) -> None:
        # wbits 31: gzip container with a fixed header (mtime 0), so output is
        # deterministic and comparable with the reference.
        self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

    def process(self, chunk: bytes | memoryview) -> bytes:
        return self._z.compress(chunk)

    def flush(self) -> bytes:
        return self._z.flush()

    def notes(self) -> dict[str, str | int]:
        return {"gzip_level": GZIP_LEVEL}


class Sha256:
    """Pass bytes through unchanged while hashing them (a tee into a hash)."""

    name = "sha256"

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def process(self, chunk: bytes | memoryview) -> bytes:
        self._h.update(chunk)
        return bytes(chunk)

    def flush(self) -> bytes:
        return b""

    def notes(self) -> dict[str, str | int]:
        return {"sha256": self._h.hexdigest()}


class Grep:
    """Keep the lines that contain a pattern; a line may span chunks."""

    name = "grep"

    def __init__(self, pattern: bytes = GREP_PATTERN) -> None:
        self._pattern = pattern
        self._carry = b""
        self.lines_kept = 0

    def _filter(self, text: bytes) -> bytes:
        kept = [line for line in text.split(b"\n") if self._pattern in line]
        self.lines_kept += len(kept)
        return b"".join(line + b"\n" for line in kept)

    def process(self, chunk: bytes | memoryview) -> bytes:
        data = self._carry + bytes(chunk)
        cut = data.rfind(b"\n")
        if cut < 0:
            self._carry = data
            return b""
        self._carry = data[cut + 1 :]
        return self._filter(data[:cut])

    def flush(self) -> bytes:
        tail, self._carry = self._carry, b""
        if not tail:
            return b""
        kept = tail if self._pattern in tail else b""
        if kept:
            self.lines_kept += 1
        return kept + b"\n" if kept else b""

    def notes(self) -> dict[str, str | int]:
        return {"grep_pattern": self._pattern.decode(), "lines_kept": self.lines_kept}


class CsvSelect:
    """Parse CSV (RFC 4180, quoted newlines too) and keep some columns.

    A chunk can end inside a quoted field; only the part up to the last newline
    with an even number of quotes before it is parsed, the rest waits.
    """

    name = "csv-select"

    def __init__(self, columns: tuple[int, ...] = CSV_SELECT_COLUMNS) -> None:
        self._columns = columns
        self._carry = b""
        self.rows = 0

    def _convert(self, data: bytes) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")):
            writer.writerow([row[i] for i in self._columns if i < len(row)])
            self.rows += 1
        return out.getvalue().encode("utf-8")

    def process(self, chunk: bytes | memoryview) -> bytes:
        data = self._carry + bytes(chunk)
        cut = _last_record_end(data)
        if cut < 0:
            self._carry = data
            return b""
        self._carry = data[cut + 1 :]
        return self._convert(data[: cut + 1])

    def flush(self) -> bytes:
        tail, self._carry = self._carry, b""
        return self._convert(tail) if tail else b""

    def notes(self) -> dict[str, str | int]:
        return {"csv_rows": self.rows, "csv_columns": ",".join(map(str, self._columns))}


def _last_record_end(data: bytes) -> int:
    """Index of the last newline that ends a record (outside quotes), or -1."""
    # Quote parity up to each candidate newline: scan back from the end; the
    # parity of the whole prefix is count(b'"') up to the newline.
    cut = data.rfind(b"\n")
    while cut >= 0:
        if data.count(b'"', 0, cut) % 2 == 0:
            return cut
        cut = data.rfind(b"\n", 0, cut)
    return -1


TRANSFORMS: dict[str, Callable[[], Transform]] = {
    "gzip": Gzip,
    "sha256": Sha256,
    "grep": Grep,
    "csv-select": CsvSelect,
}


def make_transform(name: str | None) -> Transform | None:
    """A built-in transform by name, or a user's module (``./upper.py:Upper``) by path."""
    if name in (None, "", "none"):
        return None
    if name not in TRANSFORMS:
        from streambench.strategies.user_module import make_user_transform

        return make_user_transform(name)
    return TRANSFORMS[name]()


def _file_blocks(path: Path, block_bytes: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(block_bytes):
            yield block


def reference_output(name: str, path: Path) -> Iterator[bytes]:
    """The transform's output for a whole file, by an independent path.

    Block boundaries differ from any strategy's (7 MiB + 13 bytes), so a
    transform that mishandles a record split across chunks is caught.
    """
    if name == "sha256":
        yield from _file_blocks(path, 1 << 20)
        return
    if name == "csv-select":
        with open(path, newline="", encoding="utf-8") as f:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            for row in csv.reader(f):
                writer.writerow([row[i] for i in CSV_SELECT_COLUMNS if i < len(row)])
                if out.tell() > 1 << 20:
                    yield out.getvalue().encode("utf-8")
                    out.seek(0)
                    out.truncate()
            yield out.getvalue().encode("utf-8")
        return
    if name == "grep":
        with open(path, "rb") as f:
            for line in f:
                if GREP_PATTERN in line:
                    yield line if line.endswith(b"\n") else line + b"\n"
        return
    transform = TRANSFORMS[name]()
    for block in _file_blocks(path, (7 << 20) + 13):
        yield transform.process(block)
    yield transform.flush()


def reference_sha256(path: Path) -> str:
    h = hashlib.sha256()
    for block in _file_blocks(path, 1 << 20):
        h.update(block)
    return h.hexdigest()
