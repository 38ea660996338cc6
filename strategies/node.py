"""Node.js strategies: the seeds' own stream code, run by Node in ``harness/node/worker.mjs``.

Each class names one way the seeds move a file in Node and declares what it can
do; its bytes are moved by a JavaScript runtime's worker (``language = "js"``; the
runtime is :mod:`harness.runtimes.node`), never by Python. ``--chunk-size`` is the
readable's ``highWaterMark``; ``--high-water-mark`` (default one chunk) the
writable's. Both are read back from the streams into each record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams


class _NodeStrategy:
    language: ClassVar[str] = "js"
    options: ClassVar[Mapping[str, str]] = {}
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS})

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        raise RuntimeError(
            f"{self.__class__.__name__} runs in a JavaScript runtime (harness/node/worker.mjs), not in Python"
        )


class NodeReadFile(_NodeStrategy):
    name: ClassVar[str] = "node-readfile"
    summary: ClassVar[str] = "Node: fs.readFile, then one res.end(buf) (the whole file in one Buffer)"
    node_analogue: ClassVar[str] = "fs.readFile(path, (err, buf) => res.end(buf))"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()


class NodePipe(_NodeStrategy):
    name: ClassVar[str] = "node-pipe"
    summary: ClassVar[str] = "Node: fs.createReadStream(path).pipe(res)"
    node_analogue: ClassVar[str] = "fs.createReadStream(path, { highWaterMark }).pipe(res)"


class NodePauseDrain(_NodeStrategy):
    name: ClassVar[str] = "node-pause-drain"
    summary: ClassVar[str] = "Node: write() -> false: pause(); 'drain': resume() (manual backpressure)"
    node_analogue: ClassVar[str] = (
        "rs.on('data', c => { if (!res.write(c)) { rs.pause(); res.once('drain', ...) } })"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS, Capability.BUFFERS})


class NodePipeline(_NodeStrategy):
    name: ClassVar[str] = "node-pipeline"
    summary: ClassVar[str] = "Node: stream.pipeline(rs, [transform,] res, callback)"
    node_analogue: ClassVar[str] = "pipeline(fs.createReadStream(path), res, err => ...)"


class NodeAsyncIter(_NodeStrategy):
    name: ClassVar[str] = "node-async-iter"
    summary: ClassVar[str] = (
        "Node: for await (chunk of rs) { if (!res.write(chunk)) await once(res, 'drain') }"
    )
    node_analogue: ClassVar[str] = "for await (const c of rs) { if (!res.write(c)) await once(res, 'drain') }"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS, Capability.BUFFERS})
