"""``lines``: line iteration, the way most log-processing scripts read a file.

``for line in f`` over a buffered reader (the chunk size is its buffer), each
line passed through the transform (e.g. grep), output gathered and written a
chunk at a time. The per-line Python cost is the point of comparison with the
chunked strategies, which hand whole chunks to the transform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams


class Lines:
    name: ClassVar[str] = "lines"
    summary: ClassVar[str] = "for line in file: each line through the transform, output written per chunk"
    node_analogue: ClassVar[str] = (
        "readline.createInterface({input: fs.createReadStream(path)}).on('line', ...)"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS})
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        tf = params.transform
        pending: list[bytes] = []
        pending_bytes = moved_bytes = lines = 0
        with open(source.path, "rb", buffering=params.chunk_bytes) as f:
            for line in f:
                moved_bytes += len(line)
                lines += 1
                out = line if tf is None else tf.process(line)
                if out:
                    pending.append(out)
                    pending_bytes += len(out)
                    if pending_bytes >= params.chunk_bytes:
                        sink.file.write(b"".join(pending))
                        stats.saw_chunk(pending_bytes)
                        pending, pending_bytes = [], 0
            if tf is not None:
                pending.append(tf.flush())
            if pending:
                sink.file.write(b"".join(pending))
        stats.notes["lines"] = lines
        return moved_bytes
