"""The HTTP server a scenario measures: one workload file, served by a chosen strategy.

Run as ``python -m harness.http.server_child --listen-fd N --result-fd M --file PATH ...``
by ``ServerProcess`` (the parent side, at the bottom of this module). The parent
makes the listening socket on 127.0.0.1 and passes its fd, so it knows the port
before the server starts and the server can never bind anything else (a socket not
on 127.0.0.1 is refused).

Routes (nothing else exists; every other path is 404, and no part of the URL is
ever opened: the one file is fixed at start):

- ``GET|HEAD /file?strategy=NAME``: the workload file, body written by
  ``strategies.http_serving.HTTP_STRATEGIES[NAME]`` (default ``--strategy``), with
  single-range support (``parse_range``). ``video/mp4`` for ``.mp4`` files, else
  ``--content-type``. Keep-alive on.
- ``GET /export.csv?mode=build|stream``: a generated CSV export of ``--csv-size``
  bytes (``CSV_EXPORT_MODES``).
- ``GET /stats``: counters as JSON, live (``bytes_sent`` counts bodies still being
  written; ``requests_log`` says per ``/file`` request its page (``?page=``), Range
  header, status, start on ``time.monotonic()`` and bytes sent so far), and active
  bodies, event loop tasks, connections, for tests that check nothing leaked.
- ``?missing=1`` on ``/file`` asks for a file that does not exist: 404, and the
  server goes on (the seeds' error-handling point; Node's seed server dies there).

Slow and silent clients: every write loop yields (``BodyProgress.sent``); a body
that has not moved for ``--idle-timeout`` seconds (nothing handed over, transport
buffer not shrinking) is cancelled and its connection aborted, which frees what it
held; aiohttp's keep-alive timeout (same value) closes connections idle before or
between requests, including ones that send headers and never finish them. A client
that hangs up mid-body ends its body with a ``ConnectionError``, counted.

Stop: SIGTERM/SIGINT, or EOF (or ``stop``) on ``--control-fd``. The result fd gets
JSON lines: ``{"event": "ready", ...}`` once listening (after ``clear_refs``), and
``{"event": "report", ...}`` at exit: ``VmHWM`` since ready, ``RssAnon``/``RssFile``
peaks sampled every 10 ms by a thread, requests, bytes, errors, CPU.

Range decisions (RFC 9110 §14), see ``parse_range``:

- ``bytes=a-b``, ``a-``, ``-n`` → 206 with ``Content-Range``; ``b`` clamped to the end.
- Unsatisfiable (``a`` at or past the end, ``-0``, any range of an empty file)
  → 416 with ``Content-Range: bytes */size``.
- Malformed (not ``bytes=``, garbage, ``b < a``, no range at all) → ignored: 200
  and the whole body, as RFC 9110 says (aiohttp's own parser answers 416).
- More than one range → ignored: 200 and the whole body (RFC 9110 lets a server
  ignore Range; no multipart/byteranges here). Empty list elements are skipped, so
  ``bytes=0-0,`` is one range.
- Range on HEAD, or with ``If-Range`` (we send no validator it could match) → 200.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from streambench.harness.common.lifeline import die_with_parent
from streambench.harness.http.ranges import full_answer, parse_range
from streambench.harness.http.server_config import ServerConfig
from streambench.harness.measure.measured import MeasuredSection
from streambench.harness.measure.probes import read_status
from streambench.strategies.http_serving import (
    CSV_EXPORT_MODES,
    HTTP_STRATEGIES,
    BodyProgress,
    ServeParams,
    skip_reason,
)
from streambench.workloads.cache import file_checksum, write_all
from streambench.workloads.registry import GENERATORS

LOOPBACK = "127.0.0.1"
UPLOAD_MODES = ("stream", "read")
UPLOAD_MAX_BYTES = 1 << 40


RESULT_SCHEMA_VERSION = 1


UPLOAD_DIR_PREFIX = "streambench-uploads-"


def upload_dir_prefix(pid: int) -> str:
    """Where a server keeps uploads while it stores them: ``$TMPDIR/streambench-uploads-<pid>-*``
    (the next server's handle sweeps those of servers that died with a killed harness)."""
    return f"{UPLOAD_DIR_PREFIX}{pid}-"


REQUEST_LOG_MAX = 200
_ERROR_MESSAGES_KEPT = 20
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def parse_args(argv: list[str] | None = None) -> tuple[ServerConfig, int, int, int]:
    """(config, listen fd, result fd, control fd or -1)."""
    p = argparse.ArgumentParser(prog="streambench-http-server")
    p.add_argument("--listen-fd", type=int, required=True, help="a listening socket on 127.0.0.1")
    p.add_argument("--result-fd", type=int, required=True, help="JSON lines: ready, then report")
    p.add_argument("--control-fd", type=int, default=-1, help="stop on EOF or 'stop' here")
    p.add_argument("--file", type=Path, required=True)
    p.add_argument("--content-type", default="application/octet-stream")
    p.add_argument("--strategy", default="sendfile", help="when the request names none")
    p.add_argument("--chunk-bytes", type=int, default=256 << 10)
    p.add_argument("--hwm-bytes", type=int, default=0)
    p.add_argument("--sndbuf-bytes", type=int, default=0, help="SO_SNDBUF per connection (0: autotuned)")
    p.add_argument("--idle-timeout", type=float, default=15.0)
    p.add_argument("--csv-size", type=int, default=64 << 20)
    p.add_argument("--csv-seed", type=int, default=0)
    p.add_argument("--shutdown-timeout", type=float, default=2.0)
    p.add_argument("--rss-interval", type=float, default=0.01)
    p.add_argument("--warm-csv", action="store_true", help="build the csv pools before ready")
    a = p.parse_args(argv)
    if a.strategy not in HTTP_STRATEGIES:
        p.error(f"--strategy {a.strategy!r} cannot serve HTTP: {skip_reason(a.strategy)}")
    if a.chunk_bytes <= 0 or a.idle_timeout <= 0:
        p.error("--chunk-bytes and --idle-timeout must be positive")
    config = ServerConfig(
        file_path=a.file,
        content_type=a.content_type,
        default_strategy=a.strategy,
        chunk_bytes=a.chunk_bytes,
        hwm_bytes=a.hwm_bytes,
        sndbuf_bytes=a.sndbuf_bytes,
        idle_timeout_s=a.idle_timeout,
        csv_size_bytes=a.csv_size,
        csv_seed=a.csv_seed,
        warm_csv=a.warm_csv,
        shutdown_timeout_s=a.shutdown_timeout,
        rss_sample_interval_s=a.rss_interval,
    )
    return config, a.listen_fd, a.result_fd, a.control_fd


def check_loopback_listener(sock: socket.socket) -> None:
    """Refuse anything but a TCP socket bound to 127.0.0.1."""
    if sock.family != socket.AF_INET or sock.type != socket.SOCK_STREAM:
        raise ValueError(f"listen fd is not an IPv4 TCP socket: {sock!r}")
    host, port = sock.getsockname()
    if host != LOOPBACK or port == 0:
        raise ValueError(f"listen fd is bound to {host}:{port}, not {LOOPBACK}:<port>")


# --- the server's state ------------------------------------------------------------


@dataclass
class ActiveBody:
    """One body being written, as the idle watchdog sees it."""

    transport: asyncio.BaseTransport | None
    progress: BodyProgress
    moved_at: float
    mark: tuple[int, int] = (-1, -1)
    deadline: asyncio.Timeout | None = None
    timed_out: bool = False


@dataclass
class _StrategyCounts:
    requests: int = 0
    bytes_sent: int = 0


@dataclass
class LoggedRequest:
    """One ``/file`` request as ``/stats`` tells it: who asked what, and what has gone out."""

    page: str | None
    range: str | None
    status: int
    started_at: float
    progress: BodyProgress | None = None

    def as_json(self) -> dict[str, Any]:
        sent = self.progress.bytes_sent if self.progress is not None else 0
        return {"page": self.page, "range": self.range, "status": self.status,
                "started_at": self.started_at, "bytes_sent": sent}  # fmt: skip


@dataclass
class ServerCounters:
    """Totals over the server's life; the report and ``/stats`` carry them."""

    requests: int = 0
    bytes_sent: int = 0
    errors: int = 0
    idle_timeouts: int = 0
    client_disconnects: int = 0
    bodies_completed: int = 0
    pauses: int = 0
    drains: int = 0
    max_buffered_bytes: int = 0
    largest_chunk_bytes: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_strategy: dict[str, _StrategyCounts] = field(default_factory=dict)
    error_messages: list[str] = field(default_factory=list)

    def saw_status(self, status: int) -> None:
        self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_messages) < _ERROR_MESSAGES_KEPT:
            self.error_messages.append(message)


class HttpServer:
    """The aiohttp application and its counters; one per server process."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.params = ServeParams(config.chunk_bytes, config.hwm_bytes)
        self.counters = ServerCounters()
        self.active: dict[int, ActiveBody] = {}
        self.request_log: list[LoggedRequest] = []
        self.runner: web.AppRunner | None = None
        # No body-size limit of aiohttp's own (1 MiB by default): the upload
        # scenario measures what read() of a whole body costs, not a 413.
        self.app = web.Application(client_max_size=UPLOAD_MAX_BYTES)
        # Made at the first upload, named by this server's pid: the parent's handle removes it
        # after the server is gone, even one killed at the cap (harness.http.server_handle).
        self._upload_dir: Path | None = None
        self.app.router.add_get("/file", self.handle_file)
        self.app.router.add_post("/upload", self.handle_upload)
        self.app.router.add_get("/export.csv", self.handle_export)
        self.app.router.add_get("/stats", self.handle_stats)

    def upload_dir(self) -> Path:
        if self._upload_dir is None:
            self._upload_dir = Path(tempfile.mkdtemp(prefix=upload_dir_prefix(os.getpid())))
        return self._upload_dir

    # -- handlers --

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        self.counters.requests += 1
        name = request.query.get("strategy", self.config.default_strategy)
        serve = HTTP_STRATEGIES.get(name)
        if serve is None:
            self.counters.saw_status(400)
            valid = ", ".join(HTTP_STRATEGIES)
            raise web.HTTPBadRequest(text=f"strategy {name!r}: {skip_reason(name)}; valid: {valid}\n")
        path = self.config.file_path
        entry = LoggedRequest(
            request.query.get("page"), request.headers.get(hdrs.RANGE), 200, time.monotonic()
        )
        if len(self.request_log) < REQUEST_LOG_MAX:
            self.request_log.append(entry)
        if request.query.get("missing"):
            path = path.with_name(f"{path.name}.missing")
        try:
            size_bytes = os.stat(path).st_size
        except FileNotFoundError:
            self.counters.saw_status(404)
            entry.status = 404
            raise web.HTTPNotFound(text="not found\n") from None
        if request.method != hdrs.METH_GET:
            answer = full_answer(size_bytes, f"Range is not defined for {request.method}")
        elif hdrs.IF_RANGE in request.headers:
            answer = full_answer(size_bytes, "If-Range: no validator of ours can match (Range ignored)")
        else:
            answer = parse_range(request.headers.get(hdrs.RANGE), size_bytes)
        self.counters.saw_status(answer.status)
        entry.status = answer.status
        headers = {hdrs.ACCEPT_RANGES: "bytes"}
        if answer.content_range is not None:
            headers[hdrs.CONTENT_RANGE] = answer.content_range
        if answer.kind == "unsatisfiable":
            return web.Response(status=416, headers=headers, text="range not satisfiable\n")
        headers[hdrs.CONTENT_TYPE] = self.config.served_content_type
        response = web.StreamResponse(status=answer.status, headers=headers)
        response.content_length = answer.length
        writer = await response.prepare(request)
        assert writer is not None
        if request.method == hdrs.METH_HEAD or answer.length == 0:
            return response
        counts = self.counters.by_strategy.setdefault(name, _StrategyCounts())
        counts.requests += 1
        progress = await self._run_body(
            request,
            response,
            lambda progress: serve(request, writer, path, answer.start, answer.length, self.params, progress),
            entry,
        )
        counts.bytes_sent += progress.bytes_sent
        return response

    async def handle_export(self, request: web.Request) -> web.StreamResponse:
        self.counters.requests += 1
        mode = request.query.get("mode", "stream")
        export = CSV_EXPORT_MODES.get(mode)
        if export is None:
            self.counters.saw_status(400)
            raise web.HTTPBadRequest(text=f"mode {mode!r}; valid: {', '.join(CSV_EXPORT_MODES)}\n")
        self.counters.saw_status(200)
        response = web.StreamResponse(status=200, headers={hdrs.CONTENT_TYPE: "text/csv; charset=utf-8"})
        counts = self.counters.by_strategy.setdefault(f"csv-export:{mode}", _StrategyCounts())
        counts.requests += 1
        cfg = self.config
        progress = await self._run_body(
            request,
            response,
            lambda progress: export(
                request, response, cfg.csv_size_bytes, cfg.csv_seed, self.params, progress
            ),
        )
        counts.bytes_sent += progress.bytes_sent
        return response

    async def handle_upload(self, request: web.Request) -> web.Response:
        """Store an uploaded body on disk, streamed (iter_chunked) or read whole (read()).

        The stored file is read back and checksummed, the sums go back in headers
        (X-Stored-Bytes, X-Stored-XXH3), and the file is deleted: the client checks
        what the server really stored, and nothing piles up on disk.
        """
        self.counters.requests += 1
        mode = request.query.get("mode", "stream")
        if mode not in UPLOAD_MODES:
            self.counters.saw_status(400)
            raise web.HTTPBadRequest(text=f"mode {mode!r}; valid: {', '.join(UPLOAD_MODES)}\n")
        counts = self.counters.by_strategy.setdefault(f"upload:{mode}", _StrategyCounts())
        counts.requests += 1
        fd, name = tempfile.mkstemp(dir=self.upload_dir())
        path = Path(name)
        try:
            stored = 0
            if mode == "read":
                data = await request.read()  # the whole body in memory, as the bad way does
                stored = len(data)
                write_all(fd, data)
                del data
            else:
                async for chunk in request.content.iter_chunked(self.params.chunk_bytes):
                    write_all(fd, chunk)
                    stored += len(chunk)
            os.close(fd)
            fd = -1
            digest = file_checksum(path)
        finally:
            if fd >= 0:
                os.close(fd)
            path.unlink(missing_ok=True)
        counts.bytes_sent += stored
        self.counters.saw_status(201)
        return web.json_response(
            {"stored_bytes": stored, "xxh3_64": digest},
            status=201,
            headers={"X-Stored-Bytes": str(stored), "X-Stored-XXH3": digest},
        )

    async def handle_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    # -- bodies, the watchdog --

    async def _run_body(
        self,
        request: web.Request,
        response: web.StreamResponse,
        write_body: Callable[[BodyProgress], Awaitable[int]],
        entry: LoggedRequest | None = None,
    ) -> BodyProgress:
        """Run one body under the idle watchdog; a failed body closes its connection."""
        loop = asyncio.get_running_loop()
        body = ActiveBody(request.transport, BodyProgress(), loop.time())
        if entry is not None:
            entry.progress = body.progress
        key = id(body)
        self.active[key] = body
        c = self.counters
        try:
            async with asyncio.timeout(None) as deadline:
                body.deadline = deadline
                await write_body(body.progress)
            c.bodies_completed += 1
        except TimeoutError:
            if not body.timed_out:
                c.error("TimeoutError inside a body")
            else:
                c.idle_timeouts += 1
            self._abort(request, response)
        except ConnectionError:
            c.client_disconnects += 1
            self._abort(request, response)
        except Exception as exc:  # the body cannot be completed: the client must see it cut
            c.error(f"{type(exc).__name__}: {exc}")
            self._abort(request, response)
        finally:
            del self.active[key]
            p = body.progress
            c.bytes_sent += p.bytes_sent
            c.pauses += p.pauses
            c.drains += p.drains
            c.max_buffered_bytes = max(c.max_buffered_bytes, p.max_buffered_bytes)
            c.largest_chunk_bytes = max(c.largest_chunk_bytes, p.largest_chunk_bytes)
        return body.progress

    @staticmethod
    def _abort(request: web.Request, response: web.StreamResponse) -> None:
        # abort(), not close(): close() would wait to flush a buffer a silent
        # client never reads, holding it; abort drops it. SO_LINGER 0 makes the
        # kernel drop its send queue too and answer RST: a plain close() of a
        # socket with unsent bytes queues the FIN behind them, and the orphaned
        # socket keeps its buffer (megabytes) for as long as the peer stays silent.
        response.force_close()
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()

    async def watch_idle(self) -> None:
        """Cancel bodies that have not moved for ``idle_timeout_s``.

        Progress is either bytes handed over (``BodyProgress.sent``) or the
        transport's buffer changing (a big write draining into a slow reader); a
        body inside ``BodyProgress.producing()`` (reading, generating) is never idle.
        """
        idle_s = self.config.idle_timeout_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.02, idle_s / 4))
            now = loop.time()
            for body in list(self.active.values()):
                if body.progress.producing_now:  # the client waits on us, not we on it
                    body.moved_at = now
                    continue
                transport = body.transport
                buffered = -1
                if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
                    buffered = transport.get_write_buffer_size()
                mark = (body.progress.bytes_sent, buffered)
                if mark != body.mark:
                    body.mark, body.moved_at = mark, now
                elif now - body.moved_at >= idle_s and not body.timed_out and body.deadline is not None:
                    body.timed_out = True
                    body.deadline.reschedule(now)

    def snapshot(self) -> dict[str, Any]:
        c = asdict(self.counters)
        server = self.runner.server if self.runner is not None else None
        status = read_status()
        c["bytes_sent"] += sum(body.progress.bytes_sent for body in self.active.values())
        return {
            **c,
            "requests_log": [entry.as_json() for entry in self.request_log],
            "active_bodies": len(self.active),
            "tasks": len(asyncio.all_tasks()),
            "connections": len(server.connections) if server is not None else 0,
            "threads": threading.active_count(),
            "rss_bytes": status.get("VmRSS"),
            "rss_anon_bytes": status.get("RssAnon"),
        }


def _write_line(fd: int, payload: dict[str, Any]) -> None:
    data = (json.dumps(payload) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def run_server(
    config: ServerConfig, sock: socket.socket, result_fd: int, control_fd: int = -1
) -> dict[str, Any]:
    """Serve on ``sock`` until told to stop; return the report."""
    loop = asyncio.get_running_loop()
    server = HttpServer(config)
    runner = web.AppRunner(
        server.app,
        access_log=None,
        keepalive_timeout=config.idle_timeout_s,
        shutdown_timeout=config.shutdown_timeout_s,
        handle_signals=False,
    )
    await runner.setup()
    server.runner = runner
    site = web.SockSite(runner, sock)
    await site.start()

    stop = asyncio.Event()
    stopped_by: list[str] = []

    def request_stop(why: str) -> None:
        if not stopped_by:
            stopped_by.append(why)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signal.Signals(signum).name)
    if control_fd >= 0:

        def on_control() -> None:
            try:
                data = os.read(control_fd, 64)
            except OSError:
                data = b""
            if not data or b"stop" in data:
                loop.remove_reader(control_fd)
                request_stop("control-fd" if not data else "control-stop")

        loop.add_reader(control_fd, on_control)
    watchdog = asyncio.create_task(server.watch_idle())

    if config.warm_csv:
        for _ in GENERATORS["csv"].blocks(1, config.csv_seed):
            pass
    # What follows is the server's own memory: imports and setup are not.
    section = MeasuredSection(sample_interval_s=config.rss_sample_interval_s, include_children=False)
    section.start()
    started_at = section.started_at
    _write_line(
        result_fd,
        {"event": "ready", "pid": os.getpid(), "port": sock.getsockname()[1], "started_at": started_at},
    )

    await stop.wait()
    stop_requested_at = time.monotonic()
    watchdog.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watchdog
    await runner.cleanup()
    if server._upload_dir is not None:
        shutil.rmtree(server._upload_dir, ignore_errors=True)
    section.stop()
    figures = section.figures()
    if control_fd >= 0:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(control_fd)
    return {
        "event": "report",
        "schema_version": RESULT_SCHEMA_VERSION,
        "pid": os.getpid(),
        "stopped_by": stopped_by[0] if stopped_by else None,
        "shutdown_s": time.monotonic() - stop_requested_at,
        # The measured section's figures under the contract's keys (harness.measure.report).
        "section": {**figures, "wall_s": stop_requested_at - started_at},
        "rss_samples": section.sampler.samples if section.sampler is not None else 0,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        **asdict(server.counters),
    }


def main(argv: list[str] | None = None) -> None:
    die_with_parent()
    config, listen_fd, result_fd, control_fd = parse_args(argv)
    try:
        sock = socket.socket(fileno=listen_fd)
        check_loopback_listener(sock)
        if config.sndbuf_bytes:
            # Accepted sockets inherit the listener's SO_SNDBUF (and lose autotuning).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.sndbuf_bytes)
        if not config.file_path.is_file():
            raise ValueError(f"not a regular file: {config.file_path}")
        report = asyncio.run(_serve_and_report(config, sock, result_fd, control_fd))
    except Exception as exc:
        _write_line(result_fd, {"event": "error", "error": f"{type(exc).__name__}: {exc}"})
        os.close(result_fd)
        raise SystemExit(1) from exc
    _write_line(result_fd, report)
    os.close(result_fd)


async def _serve_and_report(
    config: ServerConfig, sock: socket.socket, result_fd: int, control_fd: int
) -> dict[str, Any]:
    """``run_server``, then, when its thread pool has threads, its report written and the process ended
    at once: a pool thread may still be reading a whole file for a viewer long gone (a 1 GiB range
    each), and asyncio.run's wait for the pool only held the harness's next run back (4-5 s a
    browser run at 1 GiB). Nothing of the report is taken after this point."""
    report = await run_server(config, sock, result_fd, control_fd)
    busy = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    if not busy:
        return report
    _write_line(result_fd, report)
    os.close(result_fd)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
