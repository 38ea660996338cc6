"""The generator interface: a workload kind is a deterministic stream of blocks.

A generator knows nothing about files, caches or strategies. It turns
``(size_bytes, seed)`` into a sequence of blocks whose concatenation *is* the
workload; :mod:`workloads.cache` writes them to disk, checksums them and keeps
the manifest. Keeping generation pure makes determinism testable in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
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


@runtime_checkable
class FileGenerator(Generator, Protocol):
    """A kind whose bytes come from another program (ffmpeg): it writes the file itself.

    The cache gives it a temporary path beside the final one and does the rest
    (checksum, rename, manifest), so it is as crash-safe as the block kinds.
    ``blocks`` still yields the same bytes, for code that wants them in memory.
    """

    def write_file(self, size_bytes: int, seed: int, path: Path) -> FileFacts: ...
