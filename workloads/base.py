"""The generator interface: a workload kind is a deterministic stream of blocks.

A generator knows nothing about files, caches or strategies. It turns
``(size_bytes, seed)`` into a sequence of blocks whose concatenation *is* the
workload; :mod:`workloads.cache` writes them to disk, checksums them and keeps
the manifest. Keeping generation pure makes determinism testable in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Block:
    """One piece of a workload: raw bytes and how many whole records they hold."""

    data: bytes | bytearray | memoryview
    records: int


class Generator(Protocol):
    """A workload kind.

    Contract (checked by tests):
    - ``blocks(size_bytes, seed)`` is deterministic: the same arguments give the
      same bytes on any machine, for the same ``version``.
    - The concatenated blocks end on a whole record; their total length is within
      one record of ``size_bytes`` (binary kinds: exactly ``size_bytes``).
    - Each block is bounded (a few MiB), so generation runs in constant memory
      whatever the size.
    - Bump ``version`` whenever the bytes produced for a spec change: the cache
      keys files by it.
    """

    kind: str
    version: int
    extension: str
    media_type: str
    summary: str

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]: ...


@dataclass(frozen=True)
class FileFacts:
    """What a file-writing generator says of the file it wrote (the manifest's ``details``)."""

    records: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Segments:
    """A binary kind's bytes as a head and equal segments that can be made in any order.

    ``fill(i, out)`` writes segment ``i`` (``segment_bytes`` long; the last one is cut where the
    payload ends) into ``out``, a writable buffer of ``segment_bytes``; it must be safe to call from
    several threads at once. The cache then makes and writes segments on every core.
    """

    head: bytes
    segment_bytes: int
    payload_bytes: int
    fill: Callable[[int, memoryview], None]

    @property
    def count(self) -> int:
        return -(-self.payload_bytes // self.segment_bytes)

    def blocks(self) -> Iterator[Block]:
        """The same bytes in order, one new buffer per segment (the sequential reference)."""
        if self.head:
            yield Block(self.head, 0)
        for i in range(self.count):
            out = bytearray(self.segment_bytes)
            self.fill(i, memoryview(out))
            yield Block(out[: min(self.segment_bytes, self.payload_bytes - i * self.segment_bytes)], 0)


@runtime_checkable
class SegmentGenerator(Generator, Protocol):
    """A kind whose bytes are :class:`Segments` (``video``): ``blocks`` yields ``segments().blocks()``."""

    def segments(self, size_bytes: int, seed: int) -> Segments: ...


@runtime_checkable
class FileGenerator(Generator, Protocol):
    """A kind whose bytes come from another program (ffmpeg): it writes the file itself.

    The cache gives it a temporary path beside the final one and does the rest
    (checksum, rename, manifest), so it is as crash-safe as the block kinds.
    ``blocks`` still yields the same bytes, for code that wants them in memory.
    """

    def write_file(self, size_bytes: int, seed: int, path: Path) -> FileFacts: ...
