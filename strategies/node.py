"""Node.js strategies: the seeds' own stream code, run by Node in ``harness/node/worker.mjs``.

Each class names one way the seeds move a file in Node and declares what it can
do; its bytes are moved by a JavaScript runtime's worker (``language = "js"``; Node, Bun or Deno:
:mod:`harness.runtimes.js`), never by Python. Beside the seeds' code: WHATWG web streams, and each
runtime's own file API (``only_runtime``: the one runtime it runs on). ``--chunk-size`` is the
readable's ``highWaterMark``; ``--high-water-mark`` (default one chunk) the
writable's. Both are read back from the streams into each record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import (
    Capability,
    OptionCheck,
    RunStats,
    Sink,
    Source,
    StrategyParams,
    one_of,
)


class _NodeStrategy:
    language: ClassVar[str] = "js"
    # Node's libuv io_uring switch for this cell (UV_USE_IO_URING); Bun and Deno have no libuv.
    options: ClassVar[Mapping[str, str]] = {
        "uring": "1: libuv's io_uring file path on (UV_USE_IO_URING=1; Node only); default: Node's (off)"
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {"uring": one_of("0", "1")}
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


class NodeUnbounded(_NodeStrategy):
    name: ClassVar[str] = "node-unbounded"
    summary: ClassVar[str] = "counterexample: rs.on('data', c => res.write(c)), write()'s false ignored"
    node_analogue: ClassVar[str] = "rs.on('data', c => res.write(c))  // write()'s return value ignored"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BUFFERS})


class NodeFault(_NodeStrategy):
    name: ClassVar[str] = "node-fault"
    summary: ClassVar[str] = "planted faults for the stream doctor: kind=sync-read or sync-gzip (on the loop)"
    node_analogue: ClassVar[str] = "fs.readFileSync(path) in a handler; zlib.gzipSync(chunk, {level: 9})"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BUFFERS})
    options: ClassVar[Mapping[str, str]] = {
        **_NodeStrategy.options,
        "kind": "sync-gzip (default: gzipSync at level 9, a chunk at a time) or sync-read (readFileSync)",
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {
        **_NodeStrategy.option_checks,
        "kind": one_of("sync-read", "sync-gzip"),
    }


class NodeWebStreams(_NodeStrategy):
    name: ClassVar[str] = "node-webstreams"
    summary: ClassVar[str] = "WHATWG web streams: Readable.toWeb(rs).pipeTo(Writable.toWeb(res))"
    node_analogue: ClassVar[str] = "Readable.toWeb(fs.createReadStream(path)).pipeTo(Writable.toWeb(res))"


class BunFile(_NodeStrategy):
    name: ClassVar[str] = "bun-file"
    summary: ClassVar[str] = "Bun's own file API: Bun.file(path).stream() piped to the sink (Bun only)"
    node_analogue: ClassVar[str] = "Bun.file(path).stream().pipeTo(Writable.toWeb(res))"
    only_runtime: ClassVar[str] = "bun"


class BunWrite(_NodeStrategy):
    name: ClassVar[str] = "bun-write"
    summary: ClassVar[str] = "Bun.write(sink, Bun.file(path)): Bun's one-call copy, no JS stream (Bun only)"
    node_analogue: ClassVar[str] = "Bun.write(Bun.file(fd), Bun.file(path))"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    only_runtime: ClassVar[str] = "bun"
    no_transform_reason: ClassVar[str] = "bun-write copies in native code: no transform"


class DenoFile(_NodeStrategy):
    name: ClassVar[str] = "deno-file"
    summary: ClassVar[str] = "Deno's own file API: (await Deno.open(path)).readable piped to the sink (Deno)"
    node_analogue: ClassVar[str] = "(await Deno.open(path)).readable.pipeTo(Writable.toWeb(res))"
    only_runtime: ClassVar[str] = "deno"


class BunServe(_NodeStrategy):
    name: ClassVar[str] = "bun-serve"
    summary: ClassVar[str] = "Bun.serve answering with Bun.file(path).slice(range): Bun's own server"
    node_analogue: ClassVar[str] = "Bun.serve({ fetch: req => new Response(Bun.file(path).slice(a, b)) })"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    only_runtime: ClassVar[str] = "bun"
    # A server of the runtime's own, on a port it binds itself: --sink http or browser only.
    native_server: ClassVar[bool] = True


class DenoServe(_NodeStrategy):
    name: ClassVar[str] = "deno-serve"
    summary: ClassVar[str] = "Deno.serve answering with the file's readable cut to the range: Deno's server"
    node_analogue: ClassVar[str] = "Deno.serve(req => new Response((await Deno.open(path)).readable))"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    only_runtime: ClassVar[str] = "deno"
    native_server: ClassVar[bool] = True
