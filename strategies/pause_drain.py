"""``pause-drain``: manual backpressure, the seeds' "Manual Backpressure Example".

Read a chunk; ``write()`` it to a Node-style writable on the non-blocking sink;
when ``write()`` returns False, pause reading until the writable drains, then
resume. Counts pauses, drains and the most bytes ever queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams
from streambench.strategies.writable import NodeWritable


class PauseDrain:
    name: ClassVar[str] = "pause-drain"
    summary: ClassVar[str] = "manual backpressure: write() -> false pauses reading until 'drain'"
    node_analogue: ClassVar[str] = (
        "rs.on('data', c => { if (!ws.write(c)) rs.pause() }); ws.on('drain', () => rs.resume())"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.BUFFERS, Capability.TRANSFORMS, Capability.HTTP}
    )
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        writable = NodeWritable(sink.fd, params.hwm_bytes)
        tf = params.transform
        moved_bytes = 0
        with open(source.path, "rb", buffering=0) as f:
            # A new bytes object per chunk: the writable may still hold the last
            # one in its queue, so a reused buffer would corrupt the output.
            while chunk := f.read(params.chunk_bytes):
                moved_bytes += len(chunk)
                stats.saw_chunk(len(chunk))
                if not writable.write(chunk if tf is None else tf.process(chunk)):
                    writable.wait_drain()  # paused until 'drain', then resume
            if tf is not None:
                writable.write(tf.flush())
        writable.end()
        stats.pauses = writable.pauses
        stats.drains = writable.drains
        stats.max_buffered_bytes = writable.max_buffered_bytes
        stats.buffered_timeline = writable.timeline
        return moved_bytes
