"""The generator interface: a workload kind is a deterministic stream of blocks.

A generator knows nothing about files, caches or strategies. It turns
``(size_bytes, seed)`` into a sequence of blocks whose concatenation *is* the
workload; :mod:`workloads.cache` writes them to disk, checksums them and keeps
the manifest. Keeping generation pure makes determinism testable in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Block:
    """One piece of a workload: raw bytes and how many whole records they hold.

    ``completes``: the smaller sizes (asked of a :class:`PrefixGenerator`) whose whole output is the
    stream up to and including this block."""

    data: bytes | bytearray | memoryview
    records: int
    completes: tuple[int, ...] = ()


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


@runtime_checkable
class PrefixGenerator(Generator, Protocol):
    """A kind whose output for a size is a prefix of its output for any larger size, same seed (the
    text kinds: their schedule ignores the size and they stop at the first record boundary past it).

    ``blocks_with_cuts(size_bytes, seed, smaller_sizes)`` yields the same bytes as
    ``blocks(size_bytes, seed)``, with a block ending wherever a smaller size's output would and
    saying so in ``Block.completes``: the cache makes the larger file and cuts the smaller ones from it.
    """

    def blocks_with_cuts(
        self, size_bytes: int, seed: int, smaller_sizes: Sequence[int]
    ) -> Iterator[Block]: ...


@dataclass(frozen=True)
class Segments:
    """A binary kind's bytes as a head, equal segments that can be made in any order, and a tail.

    ``fill(i, out)`` gives segment ``i`` (``segment_bytes`` long; the last one is cut where the
    payload ends): it writes it into ``out``, a writable buffer of ``segment_bytes``, and returns
    ``out``, or returns a buffer of its own that nothing changes (mp4's one loop, the same for every
    segment). It must be safe to call from several threads at once. The cache then makes and writes
    segments on every core. ``details`` is what the manifest says of the file beyond its size.
    """

    head: bytes
    segment_bytes: int
    payload_bytes: int
    fill: Callable[[int, memoryview], memoryview]
    tail: bytes = b""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return len(self.head) + self.payload_bytes + len(self.tail)

    @property
    def count(self) -> int:
        return -(-self.payload_bytes // self.segment_bytes)

    def blocks(self) -> Iterator[Block]:
        """The same bytes in order, one new buffer per segment (the sequential reference)."""
        if self.head:
            yield Block(self.head, 0)
        for i in range(self.count):
            length = min(self.segment_bytes, self.payload_bytes - i * self.segment_bytes)
            yield Block(bytes(self.fill(i, memoryview(bytearray(self.segment_bytes)))[:length]), 0)
        if self.tail:
            yield Block(self.tail, 0)


@runtime_checkable
class SegmentGenerator(Generator, Protocol):
    """A kind whose bytes are :class:`Segments` (``video``, ``mp4``).

    ``assets`` is a folder of the cache's where a kind may keep what it makes once and uses for
    every size (mp4's clip, which ffmpeg encodes); the kind names its files there by everything
    their bytes depend on. ``blocks`` yields the same bytes, for code that wants them in memory.
    """

    def segments(self, size_bytes: int, seed: int, assets: Path) -> Segments: ...
