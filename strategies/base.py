"""The strategy interface: one way a real program moves a large file.

A strategy is a small class (fio's ioengine shape): a name, a one-line summary,
its Node.js analogue, capability flags and one method that moves the bytes. It
knows nothing of the runner, pandas or HTML; it gets an opened world (source,
sink, parameters, a stats object to fill) and returns how many bytes it moved.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    # Types only: a run without a transform never imports csv, zlib and hashlib.
    from streambench.strategies.transforms import Transform


class Capability(enum.Enum):
    """What a strategy can do or needs; the matrix uses these to skip cells."""

    ZERO_COPY = "zero-copy"  # bytes never enter user space
    TRANSFORMS = "transforms"  # can apply a transform to the bytes on the way
    BUFFERS = "buffers"  # holds bytes in user space between read and write
    EXTERNAL = "external"  # moves bytes with another program (a reference point)
    HTTP = "http"  # can write an HTTP response body (strategies.http_serving)


@dataclass(frozen=True)
class Source:
    """The workload file: strategies open it themselves (opening is part of the work)."""

    path: Path
    size_bytes: int


class FullWriter:
    """A file-like ``write`` on a blocking fd that returns only when every byte is out.

    Unbuffered on purpose: each ``write(chunk)`` is one ``write(2)`` of that chunk
    (more only if the kernel takes part of it), so the write sizes the kernel sees
    are the strategy's chunk sizes, not a buffer's. Looping on short writes means a
    signal or a socket that takes part of a chunk cannot lose bytes.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data)
        total = view.nbytes
        written = os.write(self.fd, view)
        while written < total:
            written += os.write(self.fd, view[written:])
        return total

    def flush(self) -> None:
        """Nothing is buffered here; present so stdlib copy loops can call it."""


@dataclass
class Sink:
    """Where bytes go, as the worker sees it: a blocking writable fd and a writer on it.

    The fd belongs to the worker; the consumer (a process, a file, a peer) is on
    the other side. ``end()`` is Node's ``end()``: nothing more will be written.
    """

    kind: str
    fd: int
    file: FullWriter

    @classmethod
    def on_fd(cls, kind: str, fd: int) -> Sink:
        return cls(kind=kind, fd=fd, file=FullWriter(fd))

    def end(self) -> None:
        self.file.flush()


@dataclass(frozen=True)
class StrategyParams:
    """What a strategy is asked to do.

    ``chunk_bytes`` is the read size (Node's readable ``highWaterMark``);
    ``high_water_mark_bytes`` is how much a writable may queue before it says
    "stop" (Node's writable ``highWaterMark``), by default one chunk.
    ``options`` are the strategy's own, validated against its ``options`` table.
    ``transform`` is applied to every chunk by strategies that can transform.
    """

    chunk_bytes: int
    options: Mapping[str, str] = field(default_factory=dict)
    high_water_mark_bytes: int = 0
    transform: Transform | None = None

    @property
    def hwm_bytes(self) -> int:
        return self.high_water_mark_bytes or self.chunk_bytes


def parse_bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


# Checks an option's value when the matrix is built, not when each run starts:
# raises ValueError with what was expected.
OptionCheck = Callable[[str], object]


def one_of(*values: str) -> OptionCheck:
    def check(value: str) -> object:
        if value not in values:
            raise ValueError(f"expected one of {', '.join(values)}")
        return value

    return check


def whole_number(minimum: int) -> OptionCheck:
    def check(value: str) -> object:
        if not value.isdigit() or int(value) < minimum:
            raise ValueError(f"expected a whole number >= {minimum}")
        return int(value)

    return check


@dataclass
class RunStats:
    """Counters a strategy fills while it runs; they go into the record as they are.

    Only what the strategy alone can know lives here: the worker measures the rest
    (time, memory, I/O counters) from outside the strategy's code.
    """

    chunks: int = 0
    largest_chunk_bytes: int = 0
    # Backpressure, for strategies that hold bytes between reading and writing:
    # how often the writer said "stop", how often it drained, the most bytes
    # held in user space, and (seconds since start, bytes held) along the way.
    pauses: int | None = None
    drains: int | None = None
    max_buffered_bytes: int | None = None
    buffered_timeline: list[tuple[float, int]] = field(default_factory=list)
    notes: dict[str, float | int | str] = field(default_factory=dict)

    def saw_chunk(self, n_bytes: int) -> None:
        self.chunks += 1
        if n_bytes > self.largest_chunk_bytes:
            self.largest_chunk_bytes = n_bytes


class Strategy(Protocol):
    """A way to move a source into a sink. ``run`` returns the bytes it moved.

    ``options`` maps each option the strategy understands to a one-line help
    text that names its default. An optional ``option_checks`` maps options to
    an ``OptionCheck``, so a bad value is refused before any run starts.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    node_analogue: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    options: ClassVar[Mapping[str, str]]
    # Optional ``language: ClassVar[str]``: what it is written in, so which runtime runs it
    # ("python" when absent; the seeds' Node code is "js"; see harness.runtimes).

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int: ...
