"""``async``: asyncio, the closest Python has to Node's own model.

Reads run off the event loop (regular files are never non-blocking, so they go
through the default thread pool, one chunk read ahead, like a readable's
buffer); writes go through a ``StreamWriter`` whose transport write-buffer
limits come from the high-water mark, with ``await drain()`` after each write.
``loop=uvloop`` runs the same code on libuv, Node's own event loop.

Every chunk is a new ``bytes`` object: on Python 3.12+ a transport may keep a
zero-copy reference to what ``write()`` was given, so refilling a buffer after
``write()`` + ``drain()`` can corrupt the output (seen on this kind of machine).

A regular-file sink has no non-blocking transport in asyncio; its writes go
through the thread pool too (what aiofiles does), and the record says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import stat
import time
import zlib
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
    parse_bool,
)

LOOPS = ("asyncio", "uvloop")
LAG_PROBE_INTERVAL_S = 0.001


async def _probe_lag(lags: list[float]) -> None:
    """How late a 1 ms timer fires: the time other work held the event loop."""
    # perf_counter, not loop.time(): uvloop's clock has 1 ms resolution.
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_INTERVAL_S)
        lags.append(max(0.0, time.perf_counter() - t0 - LAG_PROBE_INTERVAL_S))


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    if kind == "asyncio":
        return asyncio.new_event_loop()
    raise ValueError(f"unknown loop {kind!r}; valid: {', '.join(LOOPS)}")


async def _open_writer(fd: int, hwm_bytes: int) -> asyncio.StreamWriter | None:
    """A StreamWriter on a dup of the sink fd, or None for a regular file."""
    loop = asyncio.get_running_loop()
    mode = os.fstat(fd).st_mode
    if stat.S_ISSOCK(mode):
        sock = socket.socket(fileno=os.dup(fd))
        _, writer = await asyncio.open_connection(sock=sock)
    elif stat.S_ISFIFO(mode):
        pipe = os.fdopen(os.dup(fd), "wb", buffering=0)
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop), pipe
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
    else:
        return None
    writer.transport.set_write_buffer_limits(high=hwm_bytes)
    return writer


class AsyncStream:
    name: ClassVar[str] = "async"
    summary: ClassVar[str] = "asyncio: reads in the thread pool, StreamWriter.write + await drain()"
    node_analogue: ClassVar[str] = "for await (const c of rs) { if (!res.write(c)) await once(res, 'drain') }"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BUFFERS, Capability.TRANSFORMS})
    options: ClassVar[Mapping[str, str]] = {
        "loop": "asyncio (default) or uvloop",
        "work": "none (default), sha256 (hash each chunk on the loop thread: sync processing) or gzip9"
        " (compress each chunk at level 9 on the loop thread, output dropped: a planted fault)",
        "probe_lag": "false (default) or true: a 1 ms timer task measures event-loop lag",
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {
        "loop": one_of("asyncio", "uvloop"),
        "work": one_of("none", "sha256", "gzip9"),
        "probe_lag": parse_bool,
    }

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        loop_kind = params.options.get("loop", "asyncio")
        loop = _new_loop(loop_kind)
        stats.notes["loop"] = loop_kind
        try:
            return loop.run_until_complete(self._main(source, sink, params, stats))
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _main(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        if parse_bool(params.options.get("probe_lag", "false")):
            lags: list[float] = []
            probe = asyncio.ensure_future(_probe_lag(lags))
            try:
                return await self._move(source, sink, params, stats)
            finally:
                probe.cancel()
                lags.sort()
                stats.notes["loop_lag_samples"] = len(lags)
                if lags:
                    stats.notes["loop_lag_max_s"] = lags[-1]
                    stats.notes["loop_lag_p99_s"] = lags[min(len(lags) - 1, int(0.99 * len(lags)))]
                    stats.notes["loop_lag_median_s"] = lags[len(lags) // 2]
        return await self._move(source, sink, params, stats)

    async def _move(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        loop = asyncio.get_running_loop()
        work = params.options.get("work", "none")
        if work not in ("none", "sha256", "gzip9"):
            raise ValueError(f"unknown work {work!r}; valid: none, sha256, gzip9")
        digest = hashlib.sha256()
        writer = await _open_writer(sink.fd, params.hwm_bytes)
        stats.notes["write_path"] = "transport" if writer is not None else "thread pool (regular file)"
        tf = params.transform
        pauses = 0
        max_buffered = 0
        moved_bytes = 0
        with open(source.path, "rb", buffering=0) as f:

            def read_chunk() -> bytes:
                return f.read(params.chunk_bytes)

            pending = loop.run_in_executor(None, read_chunk)
            try:
                while chunk := await pending:
                    pending = loop.run_in_executor(None, read_chunk)  # read ahead one chunk
                    moved_bytes += len(chunk)
                    stats.saw_chunk(len(chunk))
                    if work == "sha256":
                        # "Arrival async, processing sync": this runs on the loop
                        # thread, and nothing else on the loop runs meanwhile.
                        digest.update(chunk)
                    elif work == "gzip9":
                        zlib.compress(chunk, 9)  # CPU on the loop thread; the chunk goes out as read
                    out = chunk if tf is None else tf.process(chunk)
                    if writer is None:
                        await loop.run_in_executor(None, sink.file.write, out)
                        continue
                    if writer.transport.is_closing():
                        # uvloop raises a RuntimeError about a closed handler here;
                        # say what happened instead.
                        raise ConnectionResetError("Connection lost: the peer closed the connection")
                    writer.write(out)
                    buffered = writer.transport.get_write_buffer_size()
                    max_buffered = max(max_buffered, buffered)
                    if buffered > params.hwm_bytes:
                        pauses += 1  # drain() will really wait
                    await writer.drain()
            finally:
                if not pending.done():
                    await asyncio.wait([pending])
            if tf is not None:
                tail = tf.flush()
                if writer is None:
                    await loop.run_in_executor(None, sink.file.write, tail)
                else:
                    writer.write(tail)
        if writer is not None:
            # drain() returns at the low-water mark, not at empty: a pipe transport closed then, its loop
            # closed right after, dropped what it still held (a run's last 12345 bytes, once, under load).
            # With the limits at 0, drain() returns only when the transport holds nothing.
            writer.transport.set_write_buffer_limits(high=0)
            await writer.drain()
            writer.close()
            if stat.S_ISSOCK(os.fstat(sink.fd).st_mode):
                await writer.wait_closed()
            else:
                # A pipe transport's protocol (FlowControlMixin) has no close
                # waiter; drain() already emptied it, one loop turn closes it.
                await asyncio.sleep(0)
            stats.pauses = pauses
            stats.drains = pauses
            stats.max_buffered_bytes = max_buffered
        return moved_bytes
