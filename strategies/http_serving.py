"""The strategies as HTTP response bodies: the same ways to move a file, inside aiohttp.

``harness.http.server_child`` prepares the response (status, Content-Length, Content-Range)
and hands the body to one function here, chosen by the request's ``?strategy=NAME``.
Each function writes ``length`` bytes of the file from ``start`` and returns how many
it wrote; it never opens any path but the one the server was started with.

- ``whole-file``: the range read whole (thread pool), one ``write()``
  (``fs.readFile`` then ``res.end(data)``);
- ``pipe``: chunk reads in the thread pool, ``await writer.write(chunk)``
  (``createReadStream().pipe(res)``);
- ``pause-drain``: inline ``pread``, ``write`` without drain, ``drain()`` over the
  high-water mark (``if (!res.write(c)) await once(res, 'drain')``);
- ``mmap``: only the requested range mapped, memoryview slices written;
- ``sendfile``: ``loop.sendfile(transport, f, offset, chunk)``, as
  ``web.FileResponse`` does (nginx ``sendfile on``).

Two rules every function keeps, because one event loop serves every client:

1. **Yield.** ``drain()`` returns at once unless the transport is paused, so a write
   loop to a fast reader (or over a CPU-bound producer) never lets other tasks run:
   8 CSV streams got their first byte after 19 s instead of 31 ms (the research
   note). ``BodyProgress.sent`` yields to the loop after every ``YIELD_EVERY_BYTES``.
2. **Report progress.** The server's idle watchdog closes a body that has not moved
   for its idle timeout (a silent client); a function reports each chunk it handed
   over through ``BodyProgress.sent``, and the watchdog also watches the transport's
   buffer drain, so one large write to a slow reader is not mistaken for a stall.
   A long read or generation runs inside ``BodyProgress.producing()``: the client
   waiting on the server is not idle.

Strategies without an HTTP way are absent (``skip_reason`` says why). The CSV export
endpoint (``CSV_EXPORT_MODES``) generates a body instead of reading a file: ``build``
joins every row first (the counterexample), ``stream`` writes block by block.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import select
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_writer import StreamWriter

# Yield to the event loop after this many bytes handed to one transport, whatever
# the chunk size: at ~3 GB/s that is a few hundred yields a second, each a few µs.
YIELD_EVERY_BYTES = 1 << 20


@dataclass(frozen=True)
class ServeParams:
    """How a body is written: read/write size, and the writable's high-water mark.

    ``hwm_bytes`` 0 means one chunk, as in ``StrategyParams.hwm_bytes``.
    """

    chunk_bytes: int
    hwm_bytes: int = 0

    @property
    def high_water_mark_bytes(self) -> int:
        return self.hwm_bytes or self.chunk_bytes


class BodyProgress:
    """What one body's strategy reports while it writes; the server reads it.

    ``sent`` counts bytes handed to the transport (or the kernel, for sendfile) and
    yields to the event loop every ``YIELD_EVERY_BYTES``; the backpressure counters
    mean what they do in ``RunStats``.
    """

    def __init__(self) -> None:
        self.bytes_sent = 0
        self.chunks = 0
        self.pauses = 0
        self.drains = 0
        self.max_buffered_bytes = 0
        self.largest_chunk_bytes = 0  # the largest single write (a whole-file body is one)
        self.producing_now = 0
        self._since_yield_bytes = 0

    async def sent(self, n_bytes: int) -> None:
        self.bytes_sent += n_bytes
        self.chunks += 1
        self.largest_chunk_bytes = max(self.largest_chunk_bytes, n_bytes)
        self._since_yield_bytes += n_bytes
        if self._since_yield_bytes >= YIELD_EVERY_BYTES:
            self._since_yield_bytes = 0
            await asyncio.sleep(0)

    def saw_buffered(self, n_bytes: int) -> None:
        if n_bytes > self.max_buffered_bytes:
            self.max_buffered_bytes = n_bytes

    @contextlib.contextmanager
    def producing(self) -> Iterator[None]:
        """Mark a stretch where the server itself is busy (a long read, generating):
        the client is waiting on us, not the other way round, so it is not idle."""
        self.producing_now += 1
        try:
            yield
        finally:
            self.producing_now -= 1


ServeFn = Callable[
    [web.Request, AbstractStreamWriter, Path, int, int, ServeParams, BodyProgress], Awaitable[int]
]


class FileShrankError(OSError):
    """The file ended before the range did: the body cannot be completed."""


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes at ``offset`` (one read per call the kernel allows)."""
    data = os.pread(fd, length, offset)
    if len(data) == length:
        return data
    # pread returns at most ~2 GiB, and short reads are legal: gather the rest.
    parts = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            raise FileShrankError(f"file ended at {offset + got}, range needs {offset + length}")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_chunk(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    if not data:
        raise FileShrankError(f"file ended at {offset}, range needs more")
    return data


def _transport(request: web.Request) -> asyncio.Transport:
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("connection lost before the body")
    assert isinstance(transport, asyncio.Transport)
    return transport


def _peer_gone(transport: asyncio.Transport) -> bool:
    """Has the peer hung up (FIN, RST) or the socket failed? Asked without reading."""
    if transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLRDHUP)
    hangup = select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL
    return any(events & hangup for _, events in poller.poll(0))


async def serve_whole_file(
    request: web.Request,
    writer: AbstractStreamWriter,
    file_path: Path,
    start: int,
    length: int,
    params: ServeParams,
    progress: BodyProgress,
) -> int:
    """``whole-file``: the requested range read whole (in the thread pool), one write.

    A range request reads only the range (``readFile`` + ``slice`` would read all of
    it); a full request holds the whole file in memory until the client has it.
    """
    loop = asyncio.get_running_loop()
    fd = os.open(file_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with progress.producing():
            data = await loop.run_in_executor(None, _pread_exact, fd, length, start)
    finally:
        os.close(fd)
    progress.saw_buffered(len(data))
    # One write: the transport keeps what the socket did not take, and drain()
    # then waits (the server's watchdog sees that buffer shrink as progress).
    await writer.write(data)
    await progress.sent(len(data))
    return len(data)


async def serve_pipe(
    request: web.Request,
    writer: AbstractStreamWriter,
    file_path: Path,
    start: int,
    length: int,
    params: ServeParams,
    progress: BodyProgress,
) -> int:
    """``pipe``: read a chunk in the thread pool, ``await writer.write(chunk)``.

    aiohttp's ``write`` drains once more than 64 KiB went out since the last drain,
    and a drain waits only while the transport is paused: the same shape as
    ``web.FileResponse``'s fallback and Node's ``createReadStream().pipe(res)``.
    """
    loop = asyncio.get_running_loop()
    fd = os.open(file_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        offset, end = start, start + length
        while offset < end:
            with progress.producing():
                chunk = await loop.run_in_executor(
                    None, _read_chunk, fd, min(params.chunk_bytes, end - offset), offset
                )
            await writer.write(chunk)
            offset += len(chunk)
            await progress.sent(len(chunk))
    finally:
        os.close(fd)
    return length


async def serve_pause_drain(
    request: web.Request,
    writer: AbstractStreamWriter,
    file_path: Path,
    start: int,
    length: int,
    params: ServeParams,
    progress: BodyProgress,
) -> int:
    """``pause-drain``: write without draining; over the high-water mark, pause until drained.

    The transport's own limits are set to the HWM for this body (low water a
    quarter of it, asyncio's default ratio), so ``drain()`` really waits once the
    buffer passes the HWM, and returns when it is below a quarter. Reads are
    inline ``pread`` (the page cache is warm; a cold read blocks the loop, as the
    standalone strategy blocks its thread). Restored afterwards for keep-alive.
    """
    assert isinstance(writer, StreamWriter)
    transport = _transport(request)
    hwm_bytes = params.high_water_mark_bytes
    low_bytes, high_bytes = transport.get_write_buffer_limits()
    transport.set_write_buffer_limits(high=hwm_bytes)
    fd = os.open(file_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        offset, end = start, start + length
        while offset < end:
            chunk = _read_chunk(fd, min(params.chunk_bytes, end - offset), offset)
            await writer.write(chunk, drain=False)
            offset += len(chunk)
            buffered = transport.get_write_buffer_size()
            progress.saw_buffered(buffered)
            if buffered > hwm_bytes:
                progress.pauses += 1  # write() said false: pause reading
                await writer.drain()  # ... until 'drain'
                progress.drains += 1
            await progress.sent(len(chunk))
    finally:
        os.close(fd)
        if not transport.is_closing():
            transport.set_write_buffer_limits(high=high_bytes, low=low_bytes)
    return length


async def serve_mmap(
    request: web.Request,
    writer: AbstractStreamWriter,
    file_path: Path,
    start: int,
    length: int,
    params: ServeParams,
    progress: BodyProgress,
) -> int:
    """``mmap``: map only the requested range (page-aligned), write memoryview slices.

    Mapping the whole file per request ran 65 of 128 requests out of address space
    under an ``RLIMIT_AS`` cap (research note); a window per request does not. The
    map is closed before returning; if the transport still holds a view of it
    (zero-copy writes, Python 3.12+), it is unmapped when that view goes.
    """
    aligned = start - start % mmap.ALLOCATIONGRANULARITY
    skip = start - aligned
    with open(file_path, "rb", buffering=0) as f:
        mapped = mmap.mmap(f.fileno(), skip + length, access=mmap.ACCESS_READ, offset=aligned)
    view = memoryview(mapped)
    try:
        mapped.madvise(mmap.MADV_SEQUENTIAL)
        end = skip + length
        for offset in range(skip, end, params.chunk_bytes):
            # A slice exports a pointer into the map: release it at once.
            with view[offset : min(offset + params.chunk_bytes, end)] as piece:
                await writer.write(piece)
                n = piece.nbytes
            await progress.sent(n)
    finally:
        with contextlib.suppress(BufferError):
            view.release()
            mapped.close()
    return length


async def serve_sendfile(
    request: web.Request,
    writer: AbstractStreamWriter,
    file_path: Path,
    start: int,
    length: int,
    params: ServeParams,
    progress: BodyProgress,
) -> int:
    """``sendfile``: ``loop.sendfile`` a chunk at a time; the bytes never enter user space.

    What ``web.FileResponse`` does, but in ``chunk_bytes`` calls (it sends the whole
    range in one) so the watchdog sees progress. ``fallback=False``: where native
    sendfile is impossible this fails rather than quietly becoming ``pipe``.
    """
    transport = _transport(request)
    loop = asyncio.get_running_loop()
    with open(file_path, "rb", buffering=0) as f:
        offset, end = start, start + length
        while offset < end:
            try:
                n = await loop.sendfile(
                    transport, f, offset, min(params.chunk_bytes, end - offset), fallback=False
                )
            except asyncio.SendfileNotAvailableError as exc:
                # asyncio reports a call that failed before sending anything this
                # way, also when the peer is gone (EPIPE, ECONNRESET): say which.
                if _peer_gone(transport):
                    raise ConnectionResetError("client went away during sendfile") from exc
                raise
            if n == 0:
                raise FileShrankError(f"sendfile moved 0 bytes at {offset}: file truncated?")
            offset += n
            await progress.sent(n)
    return length


HTTP_STRATEGIES: dict[str, ServeFn] = {
    "whole-file": serve_whole_file,
    "pipe": serve_pipe,
    "pause-drain": serve_pause_drain,
    "mmap": serve_mmap,
    "sendfile": serve_sendfile,
}

# Why the other built-ins have no HTTP function (keyed by strategies.registry names).
_NO_HTTP_WAY: dict[str, str] = {
    "readinto": (
        "reuses one buffer across writes; an HTTP transport may keep a reference to what "
        "write() was given (zero-copy on Python 3.12+), so refilling it corrupts the body"
    ),
    "async": "the HTTP server is itself asyncio: every HTTP strategy is the async one",
    "threaded": "a reader thread feeding the event loop is what pipe's thread-pool reads already do",
    "unbounded": "not served over HTTP yet (write() without drain; see pause-drain's buffer figures)",
    "lines": "a per-line transform; HTTP bodies are served without transforms",
    "cat": "an external program; it cannot write into an aiohttp response",
    "dd": "an external program; it cannot write into an aiohttp response",
}


def skip_reason(name: str) -> str | None:
    """None if ``name`` can serve HTTP; else why not, for the matrix's skip list."""
    if name in HTTP_STRATEGIES:
        return None
    return _NO_HTTP_WAY.get(name, f"no HTTP serving function for strategy {name!r}")


# --- CSV export: a generated body (the database-export case) ------------------------

CsvExportFn = Callable[[web.Request, web.StreamResponse, int, int, ServeParams, BodyProgress], Awaitable[int]]


async def export_csv_build(
    request: web.Request,
    response: web.StreamResponse,
    size_bytes: int,
    seed: int,
    params: ServeParams,
    progress: BodyProgress,
) -> int:
    """``build``: generate every row into one body, then send it with a Content-Length.

    The counterexample: memory grows with the export, and the generation runs on the
    event loop without yielding, so every other client waits for it.
    """
    from streambench.workloads.registry import GENERATORS

    with progress.producing():
        body = b"".join(bytes(block.data) for block in GENERATORS["csv"].blocks(size_bytes, seed))
    progress.saw_buffered(len(body))
    response.content_length = len(body)
    writer = await response.prepare(request)
    assert writer is not None
    if request.method != "HEAD" and body:
        await writer.write(body)
        await progress.sent(len(body))
    return len(body) if request.method != "HEAD" else 0


async def export_csv_stream(
    request: web.Request,
    response: web.StreamResponse,
    size_bytes: int,
    seed: int,
    params: ServeParams,
    progress: BodyProgress,
) -> int:
    """``stream``: chunked transfer encoding, rows written as they are generated.

    Each generated block (~1 MiB of rows) is written in ``chunk_bytes`` pieces with
    ``write`` (which drains past 64 KiB), then ``await asyncio.sleep(0)``: a
    CPU-bound producer must yield, or ``drain()`` (which waits only when the
    transport is paused) lets it serve its clients one at a time.
    """
    from streambench.workloads.registry import GENERATORS

    response.enable_chunked_encoding()
    writer = await response.prepare(request)
    assert writer is not None
    if request.method == "HEAD":
        return 0
    sent_bytes = 0
    for block in GENERATORS["csv"].blocks(size_bytes, seed):
        # bytes(): the generator may reuse its buffer; write() must get bytes nobody mutates.
        data = bytes(block.data)
        for offset in range(0, len(data), params.chunk_bytes):
            piece = data[offset : offset + params.chunk_bytes]
            await writer.write(piece)
            sent_bytes += len(piece)
            await progress.sent(len(piece))
        await writer.drain()
        await asyncio.sleep(0)
    return sent_bytes


CSV_EXPORT_MODES: dict[str, CsvExportFn] = {
    "build": export_csv_build,
    "stream": export_csv_stream,
}
