"""``pipe``: a copy loop with the chunk size as its buffer; blocking writes are the backpressure."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams


class Pipe:
    name: ClassVar[str] = "pipe"
    summary: ClassVar[str] = "shutil.copyfileobj, chunk size as buffer; a blocked write pauses the reader"
    node_analogue: ClassVar[str] = "fs.createReadStream(path, {highWaterMark}).pipe(res)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS, Capability.HTTP})
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        tf = params.transform
        with open(source.path, "rb", buffering=0) as f:
            if tf is None:
                # copyfileobj reads `length` bytes at a time and writes each chunk
                # before the next read: a write that blocks (full pipe, slow peer)
                # stops the reading. That is all pipe() does about backpressure.
                shutil.copyfileobj(f, sink.file, params.chunk_bytes)
            else:
                # readable.pipe(transform).pipe(writable): the same loop, one stage more.
                while chunk := f.read(params.chunk_bytes):
                    sink.file.write(tf.process(chunk))
                sink.file.write(tf.flush())
            moved_bytes = f.tell()
        # Derived, not counted, so the loop stays the stdlib's own; the worker's
        # /proc/self/io counters show the real read sizes.
        stats.chunks = -(-moved_bytes // params.chunk_bytes)
        stats.largest_chunk_bytes = min(params.chunk_bytes, moved_bytes)
        return moved_bytes
