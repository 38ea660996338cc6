"""``whole-file``: read everything into memory, then write it (the seeds' 'bad way')."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams


class WholeFile:
    name: ClassVar[str] = "whole-file"
    summary: ClassVar[str] = "read the whole file into one buffer, then write it in one call"
    node_analogue: ClassVar[str] = "fs.readFile(path, (err, data) => res.end(data))"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.BUFFERS, Capability.TRANSFORMS, Capability.HTTP}
    )
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        # buffering=0: FileIO.readall sizes one bytes object from fstat and fills it,
        # exactly what readFile does; a buffered reader would add a copy.
        with open(source.path, "rb", buffering=0) as f:
            data = f.readall()
        stats.saw_chunk(len(data))
        stats.max_buffered_bytes = len(data)
        tf = params.transform
        if tf is not None:
            sink.file.write(tf.process(data))
            sink.file.write(tf.flush())
        else:
            sink.file.write(data)
        return len(data)
