"""``threaded``: a reader thread and a writer joined by a bounded queue.

The queue's bound is the backpressure: when the writer is slow the queue fills
and ``put()`` blocks the reader. Depth defaults to the high-water mark in chunks.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import (
    Capability,
    OptionCheck,
    RunStats,
    Sink,
    Source,
    StrategyParams,
    whole_number,
)

_END = b""


class Threaded:
    name: ClassVar[str] = "threaded"
    summary: ClassVar[str] = "reader thread -> bounded queue -> writer; a full queue blocks the reader"
    node_analogue: ClassVar[str] = "stream.pipeline(readable, writable) with a worker_threads reader"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BUFFERS, Capability.TRANSFORMS})
    options: ClassVar[Mapping[str, str]] = {
        "depth": "queue slots (default: high-water mark / chunk size, at least 2)",
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {"depth": whole_number(1)}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        depth = int(params.options.get("depth", max(2, params.hwm_bytes // params.chunk_bytes)))
        slots: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        stop = threading.Event()
        moved_bytes = 0

        def put(item: bytes | BaseException) -> bool:
            # Blocks while the queue is full, but gives up once the writer has
            # failed, so the reader never outlives the run.
            while not stop.is_set():
                try:
                    slots.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def read_all() -> None:
            try:
                with open(source.path, "rb", buffering=0) as f:
                    while chunk := f.read(params.chunk_bytes):
                        if not put(chunk):
                            return
                put(_END)
            except BaseException as exc:  # handed to the writer, raised there
                put(exc)

        reader = threading.Thread(target=read_all, name="streambench-reader", daemon=True)
        reader.start()
        tf = params.transform
        try:
            while True:
                item = slots.get()
                if isinstance(item, BaseException):
                    raise item
                if item is _END or not item:
                    break
                sink.file.write(item if tf is None else tf.process(item))
                moved_bytes += len(item)
                stats.saw_chunk(len(item))
            if tf is not None:
                sink.file.write(tf.flush())
        finally:
            stop.set()
            reader.join()
        stats.notes["queue_depth"] = depth
        stats.max_buffered_bytes = depth * params.chunk_bytes
        return moved_bytes
