"""HTTP client processes: the viewers, downloaders and bad actors a scenario runs.

``python -m harness.http.clients_child`` reads a JSON job on stdin
(``{"port": P, "start_at": T, "clients": [[index, spec], ...]}``), runs every client
in it concurrently on one asyncio loop, and prints one JSON line per client as it
finishes (``ClientResult``). ``run_clients`` / ``start_clients`` spread N clients over
up to 8 such processes (never threads in the server's process: their memory and CPU
must not be the server's), start them all at one CLOCK_MONOTONIC instant, and gather
the lines.

A client is a minimal hand-written HTTP/1.1 client on a raw non-blocking socket
(``loop.sock_*``): request line and headers, status and headers parsed, then a
Content-Length, chunked or read-to-EOF body, counted and checksummed (xxh3-64, as
``harness.sinks.consumer_child``). It reads from the kernel only when it wants bytes (no
transport reading ahead into a buffer), so a rate-limited or silent client holds the
server back exactly as a real one does:

- ``range``: a Range header (a seek: a window at an offset);
- ``rate_bps``: read at that many bytes per second, averaged from the first body
  byte, in slices of ~10 ms (``harness.sinks.consumer_child``'s smoothing; a video player);
- ``stall_s``: send the request (or part of it, or nothing) and never read; watch
  for the server hanging up (``closed_by_server_after_s``) for up to that long;
- ``disconnect_after_bytes``: hang up after that many body bytes;
- ``repeat``: that many requests on one keep-alive connection;
- ``rcvbuf_bytes``: SO_RCVBUF before connecting (a small window keeps a slow or
  silent client's bytes on the server's side instead of in kernel buffers).

Times: ``request_sent_at`` is CLOCK_MONOTONIC (comparable across processes);
``ttfb_s`` (first response byte), ``first_body_byte_s`` and ``last_byte_s`` are
seconds after it. Every socket is to 127.0.0.1; nothing else can be named.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import select
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import xxhash

from streambench.harness.common.lifeline import die_with_parent
from streambench.harness.common.slices import DeliveredLog

LOOPBACK = "127.0.0.1"
RECV_BUFFER_BYTES = 1 << 20
UPLOAD_CHUNK_BYTES = 1 << 20
RATE_SLICE_S = 0.01
HEADER_LIMIT_BYTES = 64 << 10
STALL_POLL_S = 0.02
MAX_PROCESSES = 8
STALL_SENDS = ("request", "partial", "nothing")


@dataclass(frozen=True)
class ClientSpec:
    """One client: what it asks for and how it behaves (see the module docstring)."""

    target: str = "/file"
    method: str = "GET"
    range: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    repeat: int = 1
    rate_bps: int = 0
    stall_s: float = 0.0
    stall_send: str = "request"
    disconnect_after_bytes: int = 0
    rcvbuf_bytes: int = 0
    start_delay_s: float = 0.0
    timeout_s: float = 30.0
    label: str = ""
    # An upload: send this file as the request body (rate_bps then paces the upload).
    body_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ClientSpec:
        raw = dict(raw)
        raw["headers"] = tuple(tuple(h) for h in raw.get("headers", ()))
        return cls(**raw)


@dataclass
class ResponseResult:
    """One response as the client saw it; times in seconds after the request was sent."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body_bytes: int = 0
    xxh3_64: str = ""
    complete: bool = False
    request_sent_at: float | None = None
    ttfb_s: float | None = None
    first_body_byte_s: float | None = None
    last_byte_s: float | None = None

    @property
    def body_rate_bps(self) -> float | None:
        """Body bytes per second from the first body byte to the last."""
        if self.first_body_byte_s is None or self.last_byte_s is None:
            return None
        span_s = self.last_byte_s - self.first_body_byte_s
        return self.body_bytes / span_s if span_s > 0 else None


@dataclass
class ClientResult:
    """One client's outcome: one ``ResponseResult`` per request it sent."""

    index: int
    label: str = ""
    pid: int = 0
    local: str = ""
    peer: str = ""
    responses: list[ResponseResult] = field(default_factory=list)
    error: str | None = None
    request_sent_at: float | None = None
    closed_by_server_after_s: float | None = None
    # body bytes received in each slice of the monotonic clock (harness.common.slices), all responses
    delivered: list[list[float]] = field(default_factory=list)
    delivered_slice_s: float = 0.0

    @property
    def response(self) -> ResponseResult:
        """The first response (an empty one if there was none)."""
        return self.responses[0] if self.responses else ResponseResult()

    @property
    def status(self) -> int | None:
        return self.response.status

    @property
    def ttfb_s(self) -> float | None:
        return self.response.ttfb_s

    @property
    def body_bytes(self) -> int:
        return self.response.body_bytes

    @property
    def xxh3_64(self) -> str:
        return self.response.xxh3_64

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ClientResult:
        raw = dict(raw)
        raw["responses"] = [ResponseResult(**r) for r in raw.get("responses", [])]
        return cls(**raw)


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client understands it."""


class _Conn:
    """A non-blocking socket, a page-aligned receive buffer and the bytes not yet parsed."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.buf = mmap.mmap(-1, RECV_BUFFER_BYTES)  # page-aligned: copies into it run at full speed
        self.view = memoryview(self.buf)
        self.pending = bytearray()
        self.first_data_at: float | None = None
        # How much one fill() may take: a paced client must not swallow a
        # megabyte of body with the headers.
        self.fill_bytes = RECV_BUFFER_BYTES

    async def recv(self, max_bytes: int) -> int:
        """Receive up to ``max_bytes`` into ``view``; 0 at EOF."""
        n = await self.loop.sock_recv_into(self.sock, self.view[: min(max_bytes, RECV_BUFFER_BYTES)])
        if n and self.first_data_at is None:
            self.first_data_at = time.monotonic()
        return n

    async def fill(self) -> bool:
        n = await self.recv(self.fill_bytes)
        self.pending += self.view[:n]
        return n > 0

    async def read_until(self, marker: bytes, limit: int) -> bytes:
        while True:
            at = self.pending.find(marker)
            if at >= 0:
                out = bytes(self.pending[: at + len(marker)])
                del self.pending[: at + len(marker)]
                return out
            if len(self.pending) > limit:
                raise ProtocolError(f"no {marker!r} within {limit} bytes")
            if not await self.fill():
                raise ProtocolError(f"connection closed before {marker!r}")

    def close(self) -> None:
        self.view.release()
        self.buf.close()
        self.sock.close()


class _BodyReader:
    """Counts, checksums and paces one body; knows when to hang up."""

    def __init__(self, conn: _Conn, rate_bps: int, stop_after_bytes: int, log: DeliveredLog) -> None:
        self.conn = conn
        self.log = log
        self.rate_bps = rate_bps
        self.stop_after_bytes = stop_after_bytes
        self.hash = xxhash.xxh3_64()
        self.n_bytes = 0
        self.first_at: float | None = None
        self.slice_bytes = RECV_BUFFER_BYTES
        if rate_bps:
            self.slice_bytes = max(4096, min(RECV_BUFFER_BYTES, int(rate_bps * RATE_SLICE_S)))

    @property
    def stopped(self) -> bool:
        return bool(self.stop_after_bytes) and self.n_bytes >= self.stop_after_bytes

    def _take(self, data: bytes | bytearray | memoryview) -> None:
        now = time.monotonic()
        if self.first_at is None and len(data):
            self.first_at = now
        self.log.add(len(data), now)
        self.hash.update(data)
        self.n_bytes += len(data)

    def _want(self, remaining: int) -> int:
        want = min(self.slice_bytes, remaining)
        if self.stop_after_bytes:
            want = min(want, self.stop_after_bytes - self.n_bytes)
        return want

    async def _pace(self) -> None:
        if self.rate_bps and self.first_at is not None:
            ahead_s = self.n_bytes / self.rate_bps - (time.monotonic() - self.first_at)
            if ahead_s > 0:
                await asyncio.sleep(ahead_s)

    async def read_exact(self, length: int) -> bool:
        """``length`` body bytes; False if the connection ended first (or we hung up)."""
        conn = self.conn
        remaining = length
        while remaining > 0 and not self.stopped:
            await self._pace()
            want = self._want(remaining)
            if conn.pending:  # bytes that came with the headers (or a chunk line) first
                k = min(len(conn.pending), want)
                self._take(conn.pending[:k])
                del conn.pending[:k]
                remaining -= k
                continue
            n = await conn.recv(want)
            if n == 0:
                return False
            self._take(conn.view[:n])
            remaining -= n
        return remaining == 0

    async def read_to_eof(self) -> None:
        conn = self.conn
        while not self.stopped:
            await self._pace()
            want = self._want(RECV_BUFFER_BYTES)
            if conn.pending:
                k = min(len(conn.pending), want)
                self._take(conn.pending[:k])
                del conn.pending[:k]
                continue
            n = await conn.recv(want)
            if n == 0:
                return
            self._take(conn.view[:n])

    async def read_chunked(self) -> bool:
        """A chunked body, decoded; False if cut short (or hung up on purpose)."""
        conn = self.conn
        while not self.stopped:
            line = await conn.read_until(b"\r\n", HEADER_LIMIT_BYTES)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise ProtocolError(f"bad chunk size line {line!r}") from exc
            if size == 0:
                while await conn.read_until(b"\r\n", HEADER_LIMIT_BYTES) != b"\r\n":
                    pass  # trailers
                return True
            if not await self.read_exact(size):
                return False
            if self.stopped:
                return False
            if await conn.read_until(b"\r\n", 2) != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")
        return False


def _request_bytes(spec: ClientSpec, port: int, last: bool) -> bytes:
    lines = [
        f"{spec.method} {spec.target} HTTP/1.1",
        f"Host: {LOOPBACK}:{port}",
        "User-Agent: streambench-client",
    ]
    if spec.range is not None:
        lines.append(f"Range: {spec.range}")
    if spec.body_path is not None:
        lines.append(f"Content-Length: {os.path.getsize(spec.body_path)}")
        lines.append("Content-Type: application/octet-stream")
    lines += [f"{k}: {v}" for k, v in spec.headers]
    lines.append("Connection: close" if last else "Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {status_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line!r}")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return int(parts[1]), headers


async def _connect(spec: ClientSpec, port: int, result: ClientResult) -> _Conn:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if spec.rcvbuf_bytes:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, spec.rcvbuf_bytes)
        await asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, port))
        local, peer = sock.getsockname(), sock.getpeername()
        if peer[0] != LOOPBACK:
            raise OSError(f"connected to {peer}, not {LOOPBACK}")
    except BaseException:
        sock.close()
        raise
    result.local, result.peer = f"{local[0]}:{local[1]}", f"{peer[0]}:{peer[1]}"
    return _Conn(sock)


async def _stall(conn: _Conn, spec: ClientSpec, port: int, result: ClientResult) -> None:
    """Send (some of) the request, never read; note when the server hangs up."""
    request = _request_bytes(spec, port, last=True)
    if spec.stall_send == "partial":
        request = request[: request.index(b"\r\n") + 2]  # the request line, no end of headers
    elif spec.stall_send == "nothing":
        request = b""
    if request:
        await conn.loop.sock_sendall(conn.sock, request)
    sent_at = result.request_sent_at = time.monotonic()
    poller = select.poll()
    # POLLRDHUP: the peer's FIN; POLLHUP and POLLERR (its RST) are always reported.
    poller.register(conn.sock.fileno(), select.POLLRDHUP)
    hangup = select.POLLRDHUP | select.POLLHUP | select.POLLERR
    while time.monotonic() - sent_at < spec.stall_s:
        if any(events & hangup for _, events in poller.poll(0)):
            result.closed_by_server_after_s = time.monotonic() - sent_at
            return
        await asyncio.sleep(STALL_POLL_S)


async def _send_body(conn: _Conn, spec: ClientSpec) -> None:
    """Stream the upload body from its file, paced at ``rate_bps`` like a slow uplink."""
    assert spec.body_path is not None
    started = time.monotonic()
    sent = 0
    with open(spec.body_path, "rb", buffering=0) as f:
        while chunk := f.read(UPLOAD_CHUNK_BYTES):
            if spec.rate_bps:
                ahead_s = sent / spec.rate_bps - (time.monotonic() - started)
                if ahead_s > 0:
                    await asyncio.sleep(ahead_s)
            await conn.loop.sock_sendall(conn.sock, chunk)
            sent += len(chunk)


async def _exchange(
    conn: _Conn, spec: ClientSpec, port: int, last: bool, response: ResponseResult, log: DeliveredLog
) -> bool:
    """One request and its response; True if the connection can carry another."""
    await conn.loop.sock_sendall(conn.sock, _request_bytes(spec, port, last))
    if spec.body_path is not None:
        await _send_body(conn, spec)
    sent_at = response.request_sent_at = time.monotonic()
    conn.first_data_at = None
    if spec.rate_bps:
        conn.fill_bytes = max(4096, min(RECV_BUFFER_BYTES, int(spec.rate_bps * RATE_SLICE_S)))
    if conn.pending:
        conn.first_data_at = sent_at
    head = await conn.read_until(b"\r\n\r\n", HEADER_LIMIT_BYTES)
    assert conn.first_data_at is not None
    response.ttfb_s = conn.first_data_at - sent_at
    response.status, response.headers = _parse_head(head)
    body = _BodyReader(conn, spec.rate_bps, spec.disconnect_after_bytes, log)
    no_body = spec.method == "HEAD" or response.status in (204, 304) or response.status < 200
    reusable = response.headers.get("connection", "").lower() != "close"
    try:
        if no_body:
            response.complete = True
        elif "chunked" in response.headers.get("transfer-encoding", "").lower():
            response.complete = await body.read_chunked()
        elif "content-length" in response.headers:
            response.complete = await body.read_exact(int(response.headers["content-length"]))
        else:
            await body.read_to_eof()
            response.complete = not body.stopped
            reusable = False
    finally:
        response.body_bytes = body.n_bytes
        response.xxh3_64 = body.hash.hexdigest()
        now = time.monotonic()
        response.last_byte_s = now - sent_at
        if body.first_at is not None:
            response.first_body_byte_s = body.first_at - sent_at
    return reusable and response.complete


async def run_client(index: int, spec: ClientSpec, port: int, start_at: float) -> ClientResult:
    """One client from connect to close; errors are reported, never raised."""
    result = ClientResult(index=index, label=spec.label, pid=os.getpid())
    delay_s = start_at + spec.start_delay_s - time.monotonic()
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    conn: _Conn | None = None
    log = DeliveredLog()
    try:
        async with asyncio.timeout(max(spec.timeout_s, spec.stall_s + 5.0)):
            conn = await _connect(spec, port, result)
            if spec.stall_s > 0:
                await _stall(conn, spec, port, result)
                return result
            for i in range(spec.repeat):
                response = ResponseResult()
                result.responses.append(response)
                last = i == spec.repeat - 1
                reusable = await _exchange(conn, spec, port, last, response, log)
                if result.request_sent_at is None:
                    result.request_sent_at = response.request_sent_at
                if spec.disconnect_after_bytes:
                    break
                if not last and not reusable:
                    raise ProtocolError(f"connection not reusable after request {i + 1}")
    except TimeoutError:
        result.error = f"timeout after {spec.timeout_s} s"
    except (OSError, ProtocolError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if conn is not None:
            conn.close()
        result.delivered, result.delivered_slice_s = log.slices(), log.slice_s
    return result


async def _run_process_clients(job: dict[str, Any]) -> None:
    port, start_at = int(job["port"]), float(job["start_at"])

    async def one(index: int, raw: dict[str, Any]) -> None:
        result = await run_client(index, ClientSpec.from_dict(raw), port, start_at)
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        sys.stdout.flush()

    await asyncio.gather(*(one(int(i), raw) for i, raw in job["clients"]))


def main() -> None:
    die_with_parent()
    argparse.ArgumentParser(
        prog="streambench-http-clients",
        description="Run HTTP clients from a JSON job on stdin; print one JSON line per client.",
    ).parse_args()
    asyncio.run(_run_process_clients(json.load(sys.stdin)))


if __name__ == "__main__":
    main()
