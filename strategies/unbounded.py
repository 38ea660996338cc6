"""``unbounded``: the counterexample. A reader that never waits, a queue without a bound.

The seeds' "if we don't control it: memory builds up". With a consumer slower
than the disk, everything read but not yet written piles up in the queue; the
record's buffered-bytes timeline and RSS show it growing with the file size.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams

TIMELINE_INTERVAL_S = 0.01


class Unbounded:
    name: ClassVar[str] = "unbounded"
    summary: ClassVar[str] = (
        "counterexample: the reader never waits; an unbounded queue absorbs a slow writer"
    )
    node_analogue: ClassVar[str] = "rs.on('data', c => res.write(c))  // write()'s return value ignored"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BUFFERS, Capability.TRANSFORMS})
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        pending: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()
        lock = threading.Lock()
        held = {"bytes": 0, "max": 0}
        timeline: list[tuple[float, int]] = []
        t0 = time.monotonic()
        stop = threading.Event()

        def read_all() -> None:
            next_mark = t0
            try:
                with open(source.path, "rb", buffering=0) as f:
                    while not stop.is_set() and (chunk := f.read(params.chunk_bytes)):
                        with lock:
                            held["bytes"] += len(chunk)
                            held["max"] = max(held["max"], held["bytes"])
                            now = time.monotonic()
                            if now >= next_mark:
                                timeline.append((now - t0, held["bytes"]))
                                next_mark = now + TIMELINE_INTERVAL_S
                        pending.put(chunk)  # never blocks: that is the bug on display
                pending.put(None)
            except BaseException as exc:
                pending.put(exc)

        reader = threading.Thread(target=read_all, name="streambench-greedy-reader", daemon=True)
        reader.start()
        tf = params.transform
        moved_bytes = 0
        next_mark = t0
        try:
            while (item := pending.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                sink.file.write(item if tf is None else tf.process(item))
                moved_bytes += len(item)
                stats.saw_chunk(len(item))
                with lock:
                    held["bytes"] -= len(item)
                    # The writer marks too, so the timeline shows the queue draining
                    # after the reader is done.
                    now = time.monotonic()
                    if now >= next_mark:
                        timeline.append((now - t0, held["bytes"]))
                        next_mark = now + TIMELINE_INTERVAL_S
            if tf is not None:
                sink.file.write(tf.flush())
        finally:
            stop.set()
            reader.join()
        stats.max_buffered_bytes = held["max"]
        stats.buffered_timeline = sorted(timeline)
        return moved_bytes
