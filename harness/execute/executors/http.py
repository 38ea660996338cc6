"""An ``http`` cell: a real server (the strategy writing bodies) and real clients, one record.

The server runs in its own process (:mod:`harness.http.server`) under the run's
memory cap; N viewers run in client processes (:mod:`harness.http.clients`),
each reading a window of the file at the consumer rate, every other one seeking
with a Range to a spread-out offset. Every body is checked against the file's
own bytes for its range. The record's memory figures are the *server's*.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.common.slices import merge
from harness.execute.context import RunContext
from harness.execute.measurement import MeasuredReport, Measurement, Verdict
from harness.http.client_run import expected_xxh3, run_clients
from harness.http.clients import ClientResult, ClientSpec
from harness.http.server_config import ServerConfig
from harness.http.server_process import ServerProcess
from harness.measure.limits import MemoryCap
from harness.plan.applicability import EXPORT_MODES, UPLOAD_MODES
from harness.plan.config import Cell, RunConfig
from harness.plan.planning import PlannedRun
from harness.runtimes import Runtime
from harness.sinks.handles import Received
from strategies.registry import split_spec
from workloads.cache import Workload

# A small send buffer for rate-limited viewers: with the kernel's autotuning (up
# to 4 MiB here) a whole window sits in kernel buffers and the server's part of a
# slow body ends at once, which hides what each strategy holds per viewer.
RATE_LIMITED_SNDBUF_BYTES = 256 << 10
IDLE_TIMEOUT_S = 30.0


MAX_TTFB_SAMPLES = 2000


@dataclass
class HttpResult:
    """What an http cell measured; the runner turns it into a record."""

    outcome: str
    error: str | None
    wall_s: float | None
    bytes_received: int
    verified: bool
    verify_detail: str
    server: dict[str, Any] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
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
        cap = ctx.memory_cap()
        try:
            result = run_http_cell(
                self.route, planned.cell, ctx.workload, ctx.config, cap, self.runtime.server_command()
            )
        except Exception as exc:  # the server would not start: say so, go on
            return Measurement.not_run(f"http run: {type(exc).__name__}: {exc}")
        server = result.server
        ended_at = time.monotonic()
        started_at = ended_at - (result.wall_s or 0.0)
        crashed = result.outcome == "crashed"
        report = MeasuredReport.of_process(
            server,
            outcome=result.outcome,
            error=result.error,
            bytes_moved=result.bytes_received,
            wall_s=result.wall_s,
            started_at=started_at,
            ended_at=ended_at,
            max_buffered_bytes=result.http.get("server_max_buffered_bytes"),
            pauses=result.http.get("server_pauses"),
        )
        return Measurement(
            report=None if crashed else report,
            who="server",
            runtime=self.runtime.name,
            runtime_version=self.runtime.reported_version(server) or self.runtime.version(),
            returncode=None if crashed else 0,
            stderr_tail=(result.error or "") if crashed else "",
            over_cap=result.outcome == "oom",
            over_cap_detail=f"; {result.http.get('failed_clients', 0)} viewers failed",
            received=Received(
                result.bytes_received,
                "",
                None,
                None,
                tuple((float(t), int(n)) for t, n in result.delivered),
                result.delivered_slice_s,
            ),
            verdict=Verdict(result.verified, result.verify_detail),
            sink_detail={"sndbuf_bytes": result.http.get("sndbuf_bytes")},
            http=result.http,
            ttfb_s=server.get("ttfb_s"),
        )


def run_http_cell(
    route: Route,
    cell: Cell,
    workload: Workload,
    config: RunConfig,
    cap: MemoryCap | None,
    server_program: list[str] | None = None,
) -> HttpResult:
    name, _ = split_spec(cell.strategy)
    size_bytes = workload.manifest.size_bytes
    upload = route.upload
    spans = [(0, size_bytes)] * cell.clients if route.whole_body else _windows(cell, size_bytes)
    target = route.target(name)
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
    specs = [
        ClientSpec(
            target=target,
            method="POST" if upload else "GET",
            body_path=str(workload.path) if upload else None,
            range=None
            if (start, length) == (0, size_bytes) or upload
            else f"bytes={start}-{start + length - 1}",
            rate_bps=cell.consumer_rate_bps,
            timeout_s=config.timeout_s,
            label=f"viewer-{i}",
            # A viewer that asked for a window reads no more than it plus a byte, as a player
            # would: a server that ignores Range (the seed's) must not stream it the whole file.
            disconnect_after_bytes=0 if (start, length) == (0, size_bytes) or upload else length + 1,
        )
        for i, (start, length) in enumerate(spans)
    ]
    server = ServerProcess.start(server_config, program=server_program)
    try:
        if cap is not None and cap.procs_path is not None:
            # Under the cap before the first request: a server that holds whole
            # files per viewer is killed and recorded, not a dead machine.
            cap.procs_path.write_text(str(server.pid))
        t0 = time.monotonic()
        results = run_clients(server.port, specs, timeout_s=config.timeout_s + 10)
        wall_s = time.monotonic() - t0
        try:
            report = server.stop()
        except Exception as exc:  # the server died (e.g. killed at the cap)
            report = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        server.close()
    oom = cap is not None and cap.oom_killed()
    return _judge(cell, workload, spans, results, report, wall_s, oom, cap, route)


def _judge(
    cell: Cell,
    workload: Workload,
    spans: list[tuple[int, int]],
    results: list[ClientResult],
    report: dict[str, Any],
    wall_s: float,
    oom: bool,
    cap: MemoryCap | None,
    route: Route,
) -> HttpResult:
    upload = route.upload
    expected: dict[tuple[int, int], str] = {}
    failures: list[str] = []
    ttfbs: list[float] = []
    total_bytes = 0
    for result, (start, length) in zip(results, spans, strict=True):
        response = result.response
        if response.ttfb_s is not None:
            ttfbs.append(response.ttfb_s)
        if upload:
            # What counts is what the server stored: its own count and checksum.
            stored = int(response.headers.get("x-stored-bytes", -1))
            total_bytes += max(stored, 0)
            if result.error or response.status != 201:
                failures.append(f"{result.label}: {result.error or f'status {response.status}'}")
            elif stored != length or response.headers.get("x-stored-xxh3") != workload.manifest.xxh3_64:
                failures.append(
                    f"{result.label}: server stored {stored} of {length} bytes, checksum mismatch"
                )
            continue
        total_bytes += response.body_bytes
        if response.status == 200 and (start, length) != (0, workload.manifest.size_bytes):
            end = start + length - 1
            failures.append(f"{result.label}: asked for bytes {start}-{end}, got 200: Range not honoured")
            continue
        if result.error or response.status not in (200, 206) or not response.complete:
            failures.append(f"{result.label}: {result.error or f'status {response.status}, incomplete'}")
            continue
        key = (start, length)
        if key not in expected:
            whole = (start, length) == (0, workload.manifest.size_bytes)
            expected[key] = (
                workload.manifest.xxh3_64 if whole else expected_xxh3(workload.path, start, length)
            )
        if response.body_bytes != length or response.xxh3_64 != expected[key]:
            failures.append(f"{result.label}: {response.body_bytes} of {length} bytes, checksum mismatch")
    n = len(results)
    peak = report.get("peak_rss_bytes")
    base = report.get("baseline_rss_bytes")
    per_client = (peak - base) / n if peak is not None and base is not None and n else None
    http = {
        "clients": n,
        "view_bytes": spans[0][1] if spans else 0,
        "seeking_clients": sum(1 for s, _ in spans if s),
        "failed_clients": len(failures),
        "failures": failures[:20],
        "ttfb_p50_s": _percentile(ttfbs, 0.5),
        "ttfb_p99_s": _percentile(ttfbs, 0.99),
        "ttfb_max_s": max(ttfbs) if ttfbs else None,
        # each client's own, sorted (the report's CDF); capped so a 10,000-client run stays light
        "ttfb_clients_s": [round(t, 6) for t in sorted(ttfbs)[:MAX_TTFB_SAMPLES]],
        "aggregate_bps": total_bytes / wall_s if wall_s > 0 else None,
        "per_client_bytes": per_client,
        "server_requests": report.get("requests"),
        "server_errors": report.get("errors"),
        "server_pauses": report.get("pauses"),
        "server_max_buffered_bytes": report.get("max_buffered_bytes"),
        "sndbuf_bytes": RATE_LIMITED_SNDBUF_BYTES if cell.consumer_rate_bps else 0,
        "route": route.name,
    }
    if oom:
        limit = cap.limit_bytes if cap is not None else 0
        outcome, error = (
            "oom",
            f"server killed at the memory cap of {limit >> 20} MiB; {len(failures)} viewers failed",
        )
    elif "error" in report and "peak_rss_bytes" not in report:
        outcome, error = "crashed", f"server: {report['error']}"
    elif failures:
        outcome, error = "error", f"{len(failures)} of {n} viewers failed: {failures[0]}"
    else:
        outcome, error = "ok", None
    verified = not failures and outcome == "ok"
    what = "uploads stored byte-exact by the server" if upload else "viewers' bodies match the file's ranges"
    detail = f"all {n} {what} (xxh3-64)" if verified else "; ".join(failures[:3]) or str(error)
    server = {
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": base,
        "baseline_rss_anon_bytes": report.get("baseline_rss_anon_bytes"),
        "peak_rss_anon_bytes": report.get("peak_rss_anon_bytes"),
        "peak_rss_file_bytes": report.get("peak_rss_file_bytes"),
        "user_s": report.get("user_s"),
        "sys_s": report.get("sys_s"),
        "peak_rss_reset": report.get("peak_rss_reset"),
        "ttfb_s": statistics.median(ttfbs) if ttfbs else None,
        "node_version": report.get("node_version"),  # the Node server's own words
    }
    slice_s, delivered = merge((r.delivered_slice_s, r.delivered) for r in results)
    return HttpResult(outcome, error, wall_s, total_bytes, verified, detail, server, http, delivered, slice_s)
