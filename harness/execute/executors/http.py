"""An ``http`` cell: a real server (the strategy writing bodies) and real clients, one record.

The server runs in its own process (:mod:`harness.http.server_child`) under the run's
memory cap; N viewers run in client processes (:mod:`harness.http.clients_child`),
each reading a window of the file at the consumer rate, every other one seeking
with a Range to a spread-out offset. Every body is checked against the file's
own bytes for its range. The record's memory figures are the *server's*.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streambench.harness.common.slices import merge
from streambench.harness.execute.context import RunContext
from streambench.harness.execute.measurement import MeasuredReport, Measurement, Verdict
from streambench.harness.http.clients_child import ClientResult, ClientSpec
from streambench.harness.http.clients_handle import expected_xxh3, run_clients
from streambench.harness.http.server_config import ServerConfig
from streambench.harness.plan.applicability import EXPORT_MODES, UPLOAD_MODES
from streambench.harness.plan.config import Cell
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.runtimes import Runtime
from streambench.harness.sinks.handles import Received
from streambench.strategies.registry import split_spec
from streambench.workloads.cache import Workload, file_checksum

# A small send buffer for rate-limited viewers: with the kernel's autotuning (up
# to 4 MiB here) a whole window sits in kernel buffers and the server's part of a
# slow body ends at once, which hides what each strategy holds per viewer.
RATE_LIMITED_SNDBUF_BYTES = 256 << 10
IDLE_TIMEOUT_S = 30.0


MAX_TTFB_SAMPLES = 2000


@dataclass
class HttpFacts:
    """What an http cell saw: the viewers' window on the harness's clock, their bodies' check, the
    server's own report (None: it died), and what only the clients know. No outcome: recording decides."""

    started_at: float
    ended_at: float
    bytes_received: int
    problems: list[str]
    verified: bool
    verify_detail: str
    server: dict[str, Any] | None
    server_error: str
    http: dict[str, Any] = field(default_factory=dict)
    ttfb_s: float | None = None
    verified_by: str = ""
    # every client's body bytes per slice of the monotonic clock, summed (harness.common.slices)
    delivered: list[list[float]] = field(default_factory=list)
    delivered_slice_s: float = 0.0


def _windows(cell: Cell, size_bytes: int) -> list[tuple[int, int]]:
    """(start, length) per viewer: even viewers from 0, odd ones seek to spread-out offsets."""
    view = min(cell.view_bytes or size_bytes, size_bytes)
    spans = []
    for i in range(cell.clients):
        start = 0
        if i % 2 == 1 and size_bytes > view:
            # Knuth's multiplicative hash spreads the seeks; page-aligned like a player's.
            start = (i * 2654435761) % (size_bytes - view) // 4096 * 4096
        spans.append((start, view))
    return spans


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class Route:
    """What the clients of one HTTP route ask for, and how their answers are judged."""

    name: str
    target: Callable[[str], str]  # strategy name -> request target
    # Every client takes the whole body (an export is the csv workload's bytes;
    # an upload sends the whole file); else viewers read windows, half of them seeking.
    whole_body: bool = False
    upload: bool = False
    warm_csv: bool = False


ROUTES: dict[str, Route] = {
    "file": Route("file", lambda name: f"/file?strategy={name}"),
    "export": Route("export", lambda name: f"/export.csv?mode={EXPORT_MODES[name]}", whole_body=True,
                    warm_csv=True),
    "upload": Route("upload", lambda name: f"/upload?mode={UPLOAD_MODES[name]}", whole_body=True,
                    upload=True),
}  # fmt: skip


class HttpExecutor:
    """``http`` cells of one route: the record's memory and CPU are the server's."""

    def __init__(self, route: Route, runtime: Runtime) -> None:
        self.route = route
        self.runtime = runtime

    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        ctx.make_cache_state()
        try:
            facts = run_http_cell(self.route, planned.cell, ctx, self.runtime)
        except Exception as exc:  # the server would not start: say so, go on
            return Measurement.not_run(f"http run: {type(exc).__name__}: {exc}")
        server = facts.server
        report = None
        if server is not None:
            # The server's own section (its memory and CPU) over the viewers' window.
            window = {"started_at": facts.started_at, "ended_at": facts.ended_at,
                      "wall_s": facts.ended_at - facts.started_at}  # fmt: skip
            report = MeasuredReport.from_mapping(
                {**server.get("section", {}), **window, "outcome": "ok", "error": None,
                 "bytes_moved": facts.bytes_received, "pauses": server.get("pauses"),
                 "max_buffered_bytes": server.get("max_buffered_bytes"),
                 "largest_chunk_bytes": server.get("largest_chunk_bytes") or 0}
            )  # fmt: skip
        return Measurement(
            report=report,
            who="server",
            runtime=self.runtime.name,
            runtime_version=self.runtime.reported_version(server or {}) or self.runtime.version(),
            returncode=None,
            stderr_tail=facts.server_error,
            over_cap=ctx.cap is not None and ctx.cap.oom_killed(),
            over_cap_detail=f"; {len(facts.problems)} viewers failed",
            problems=tuple(facts.problems),
            subjects=planned.cell.clients,
            subject_word="viewers",
            received=Received(
                facts.bytes_received,
                "",
                None,
                None,
                tuple((float(t), int(n)) for t, n in facts.delivered),
                facts.delivered_slice_s,
            ),
            verdict=Verdict(facts.verified, facts.verify_detail, facts.verified_by),
            sink_detail={"sndbuf_bytes": facts.http.get("sndbuf_bytes")},
            http=facts.http,
            ttfb_s=facts.ttfb_s,
        )


@dataclass(frozen=True)
class Body:
    """What every viewer's body is checked against: a file (the workload, or --expect), its size and
    xxh3-64; ``path`` None when nothing is known of it (a user's server, neither)."""

    path: Path | None
    size_bytes: int
    xxh3_64: str

    @classmethod
    def of(cls, path: Path | None, workload: Workload) -> Body:
        if path is None:
            return cls(None, 0, "")
        if path == workload.path:
            return cls(path, workload.manifest.size_bytes, workload.manifest.xxh3_64)
        return cls(path, path.stat().st_size, file_checksum(path))

    def window(self, start: int, length: int) -> str:
        """The xxh3-64 of bytes [start, start + length) of the file."""
        assert self.path is not None
        whole = (start, length) == (0, self.size_bytes)
        return self.xxh3_64 if whole else expected_xxh3(self.path, start, length)


def run_http_cell(route: Route, cell: Cell, ctx: RunContext, runtime: Runtime) -> HttpFacts:
    """The cell's server started under the run's cap (and read limit), its viewers run, what they saw."""
    workload, config = ctx.workload, ctx.config
    name, _ = split_spec(cell.strategy)
    body = Body.of(runtime.body_file(cell, workload, config), workload)
    size_bytes = body.size_bytes if body.path is not None else workload.manifest.size_bytes
    if route.whole_body or body.path is None:
        # Nothing to check a window against: each viewer takes the whole body.
        spans = [(0, size_bytes)] * cell.clients
    else:
        spans = _windows(cell, size_bytes)
    server_config = ServerConfig(
        file_path=workload.path,
        content_type=workload.manifest.media_type,
        default_strategy=name,
        chunk_bytes=cell.chunk_bytes,
        hwm_bytes=cell.high_water_mark_bytes,
        sndbuf_bytes=RATE_LIMITED_SNDBUF_BYTES if cell.consumer_rate_bps else 0,
        idle_timeout_s=IDLE_TIMEOUT_S,
        csv_size_bytes=workload.spec.size_bytes,
        csv_seed=workload.spec.seed,
        warm_csv=route.warm_csv,
    )
    server = ctx.start_server(runtime, cell, server_config)
    report: dict[str, Any] | None
    server_error = ""
    try:
        views = Views(spans, size_bytes, server.target(route.target(name)), workload.path)
        specs = _client_specs(route, cell, views, config.timeout_s)
        started_at = time.monotonic()
        results = run_clients(server.port, specs, timeout_s=config.timeout_s + 10)
        ended_at = time.monotonic()
        try:
            report = server.stop()
        except Exception as exc:  # the server died (e.g. killed at the cap)
            report, server_error = None, f"server: {type(exc).__name__}: {exc}"
    finally:
        server.close()
    seen = _Seen(results, report, server_error, (started_at, ended_at), body)
    return _facts(cell, workload, spans, route, seen)


@dataclass(frozen=True)
class Views:
    """What the viewers ask for: their (start, length) windows of a body of ``size_bytes``, at
    ``target``; an upload sends ``upload_path``."""

    spans: list[tuple[int, int]]
    size_bytes: int
    target: str
    upload_path: Path


def _client_specs(route: Route, cell: Cell, views: Views, timeout_s: float) -> list[ClientSpec]:
    specs = []
    for i, (start, length) in enumerate(views.spans):
        whole = (start, length) == (0, views.size_bytes) or route.upload
        specs.append(
            ClientSpec(
                target=views.target,
                method="POST" if route.upload else "GET",
                body_path=str(views.upload_path) if route.upload else None,
                range=None if whole else f"bytes={start}-{start + length - 1}",
                rate_bps=cell.consumer_rate_bps,
                timeout_s=timeout_s,
                label=f"viewer-{i}",
                # A viewer that asked for a window reads no more than it plus a byte, as a player
                # would: a server that ignores Range (the seed's) must not stream it the whole file.
                disconnect_after_bytes=0 if whole else length + 1,
            )
        )
    return specs


def _body_problem(
    result: ClientResult, span: tuple[int, int], body: Body, expected: dict[tuple[int, int], str]
) -> str | None:
    """What is wrong with one viewer's body, or None (nothing known of the body: only its answer)."""
    response, (start, length) = result.response, span
    if body.path is not None and response.status == 200 and span != (0, body.size_bytes):
        return f"{result.label}: asked for bytes {start}-{start + length - 1}, got 200: Range not honoured"
    if result.error or response.status not in (200, 206) or not response.complete:
        return f"{result.label}: {result.error or f'status {response.status}, incomplete'}"
    if body.path is None:
        return None
    if span not in expected:
        expected[span] = body.window(start, length)
    if response.body_bytes != length or response.xxh3_64 != expected[span]:
        return f"{result.label}: {response.body_bytes} of {length} bytes, checksum mismatch"
    return None


def _upload_problem(result: ClientResult, length: int, workload: Workload) -> str | None:
    """What is wrong with what the server stored of one upload (its own count and checksum), or None."""
    response = result.response
    stored = int(response.headers.get("x-stored-bytes", -1))
    if result.error or response.status != 201:
        return f"{result.label}: {result.error or f'status {response.status}'}"
    if stored != length or response.headers.get("x-stored-xxh3") != workload.manifest.xxh3_64:
        return f"{result.label}: server stored {stored} of {length} bytes, checksum mismatch"
    return None


@dataclass(frozen=True)
class _Seen:
    """What an http run gave back: the clients' results, the server's report (None: it died, and
    why), and the clients' window on the harness's clock."""

    results: list[ClientResult]
    report: dict[str, Any] | None
    server_error: str
    window: tuple[float, float]
    body: Body


def _facts(
    cell: Cell, workload: Workload, spans: list[tuple[int, int]], route: Route, seen: _Seen
) -> HttpFacts:
    results, report, window, server_error = seen.results, seen.report, seen.window, seen.server_error
    expected: dict[tuple[int, int], str] = {}
    problems: list[str] = []
    total_bytes = 0
    for result, span in zip(results, spans, strict=True):
        if route.upload:
            total_bytes += max(int(result.response.headers.get("x-stored-bytes", -1)), 0)
            problem = _upload_problem(result, span[1], workload)
        else:
            total_bytes += result.response.body_bytes
            problem = _body_problem(result, span, seen.body, expected)
        if problem is not None:
            problems.append(problem)
    ttfbs = [r.response.ttfb_s for r in results if r.response.ttfb_s is not None]
    n, wall_s = len(results), window[1] - window[0]
    section = (report or {}).get("section") or {}
    peak, base = section.get("peak_rss_bytes"), section.get("baseline_rss_bytes")
    http = {
        "seeking_clients": sum(1 for s, _ in spans if s),
        "failed_clients": len(problems),
        "failures": problems[:20],
        "ttfb_p50_s": _percentile(ttfbs, 0.5),
        "ttfb_p99_s": _percentile(ttfbs, 0.99),
        "ttfb_max_s": max(ttfbs) if ttfbs else None,
        # each client's own, sorted (the report's CDF); capped so a 10,000-client run stays light
        "ttfb_clients_s": [round(t, 6) for t in sorted(ttfbs)[:MAX_TTFB_SAMPLES]],
        "aggregate_bps": total_bytes / wall_s if wall_s > 0 else None,
        "per_client_bytes": (peak - base) / n if peak is not None and base is not None and n else None,
        "server_requests": (report or {}).get("requests"),
        "server_errors": (report or {}).get("errors"),
        "server_pauses": (report or {}).get("pauses"),
        "server_max_buffered_bytes": (report or {}).get("max_buffered_bytes"),
        "sndbuf_bytes": RATE_LIMITED_SNDBUF_BYTES if cell.consumer_rate_bps else 0,
    }
    what = (
        "uploads stored byte-exact by the server"
        if route.upload
        else "viewers' bodies match the file's ranges"
    )
    verified = not problems and report is not None
    detail = (
        f"all {n} {what} (xxh3-64)" if verified else "; ".join(problems[:3]) or "the server left no report"
    )
    if verified and seen.body.path is None and not route.upload:
        # A user's server, neither handed the workload nor given --expect: its answers came, whole,
        # but nothing says they are right.
        verified = False
        detail = (
            f"not verified: nothing to check against (all {n} viewers got a whole answer; name the "
            "file your server serves with --expect FILE)"
        )
    slice_s, delivered = merge((r.delivered_slice_s, r.delivered) for r in results)
    ttfb_s = statistics.median(ttfbs) if ttfbs else None
    if route.upload:
        verified_by = "the server's count and xxh3-64 of each stored upload against the workload's"
    elif seen.body.path is None:
        verified_by = "nothing: no file to check the bodies against"
    else:
        verified_by = f"each viewer's body against the same range of {seen.body.path.name} (xxh3-64)"
    return HttpFacts(
        window[0], window[1], total_bytes, problems, verified, detail, report, server_error, http, ttfb_s,
        verified_by, delivered, slice_s,
    )  # fmt: skip
