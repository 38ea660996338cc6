"""The S3 executor: an upload to a real S3-compatible server on loopback; the measurement is the client's.

``rclone serve s3`` runs on 127.0.0.1 with its own config and keys; a boto3 client
(:mod:`harness.s3.client_process`) uploads the workload by the strategy's method
under the run's cap; the stored object is checked on the server's disk.
"""

from __future__ import annotations

import platform
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.execute.context import RunContext
from harness.execute.measurement import MeasuredReport, Measurement, Verdict
from harness.execute.recording import classify
from harness.measure.limits import MemoryCap
from harness.plan.applicability import S3_METHODS
from harness.plan.planning import PlannedRun
from harness.s3.client import run_client
from harness.s3.client_process import METHODS
from harness.s3.server import (
    BUCKET,
    CONCURRENCY,
    FREE_SPACE_MARGIN_BYTES,
    PART_BYTES,
    S3Server,
    S3ServerError,
    verify_object,
)
from harness.sinks.handles import Received
from strategies.registry import split_spec
from workloads.cache import Workload


class S3Executor:
    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        ctx.make_cache_state()
        cap = ctx.memory_cap()
        method = S3_METHODS[split_spec(planned.cell.strategy)[0]]
        try:
            measurement, _ = s3_upload(method, ctx.workload, ctx.config.timeout_s, cap)
        except Exception as exc:  # rclone missing or would not start: say so, go on
            return Measurement.not_run(f"s3 run: {type(exc).__name__}: {exc}")
        return measurement


def _check_free_space(directory: Path, needed_bytes: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    free_bytes = shutil.disk_usage(directory).free
    if free_bytes < needed_bytes + FREE_SPACE_MARGIN_BYTES:
        raise S3ServerError(
            f"not enough free space in {directory} for the uploaded copy: need "
            f"{needed_bytes + FREE_SPACE_MARGIN_BYTES} bytes, {free_bytes} available"
        )


def s3_upload(
    method: str,
    workload: Workload,
    timeout_s: float,
    memory_cap: MemoryCap | None,
    *,
    part_bytes: int = PART_BYTES,
    concurrency: int = CONCURRENCY,
    state_parent: Path | None = None,
) -> tuple[Measurement, dict[str, Any]]:
    """Upload ``workload`` to a fresh local S3 server by ``method``: the measurement, and the s3 facts.

    Raises :class:`S3ServerError` when the server cannot be started. The server's
    directory goes under ``state_parent`` (default: ``s3`` in the workload's data
    directory, on the workload's disk rather than a tmpfs in RAM).
    """
    if method not in METHODS:
        raise ValueError(f"unknown s3 method {method!r}; valid: {', '.join(METHODS)}")
    manifest = workload.manifest
    parent = state_parent if state_parent is not None else workload.path.parent.parent / "s3"
    _check_free_space(parent, manifest.size_bytes)
    key = f"upload/{workload.path.name}"
    with S3Server(parent) as server:
        server_reset = server.reset_peak_rss()
        server_base = server.memory()
        client = run_client(server, workload.path, method, key=key, part_bytes=part_bytes,
                            concurrency=concurrency, timeout_s=timeout_s, cap=memory_cap)  # fmt: skip
        server_mem = server.memory()
        server_alive = server.proc is not None and server.proc.poll() is None
        verified, detail = verify_object(server.object_path(BUCKET, key), manifest)
        endpoint, version, server_stderr = server.endpoint_url, server.version, server.why()
    # What only this executor can judge: the server's fate and the stored bytes.
    outcome, error = str(client.get("outcome", "error")), client.get("error")
    if outcome == "ok" and not server_alive:
        outcome, error = "error", f"the S3 server died during the upload: {server_stderr[-500:]}"
    elif outcome == "ok" and not verified:
        outcome, error = "error", f"upload answered ok but {detail}"
    wall_s = client.get("wall_s")
    moved = int(client.get("bytes") or 0) if outcome == "ok" else 0
    ended_at = time.monotonic()
    report = MeasuredReport.of_process(
        client,
        outcome=outcome,
        error=None if error is None else str(error),
        bytes_moved=moved,
        wall_s=wall_s,
        started_at=ended_at - (wall_s or 0.0),
        ended_at=ended_at,
    )
    facts = {
        "method": method,
        "part_bytes": part_bytes if method == "upload_fileobj" else None,
        "concurrency": concurrency if method == "upload_fileobj" else 1,
        "endpoint": endpoint,
        "key": key,
        "etag": client.get("etag"),
        "rss_anon_samples": client.get("rss_anon_samples"),
        "client_max_rss_watched_bytes": client.get("watched_max_rss_bytes"),
        "boto3_version": client.get("boto3_version"),
        "botocore_version": client.get("botocore_version"),
        "cap_method": memory_cap.method if memory_cap is not None else "none",
        "server": {
            "peak_rss_bytes": server_mem.get("VmHWM"),
            "peak_rss_reset": server_reset,
            "baseline_rss_bytes": server_base.get("VmRSS"),
            "final_rss_anon_bytes": server_mem.get("RssAnon"),
            "version": version,
        },
        "route": "s3-upload",
    }
    m = Measurement(
        report=report if "outcome" in client else None,
        who="s3 client",
        runtime_version=platform.python_version(),
        returncode=client["returncode"],
        stderr_tail=client["stderr_tail"],
        timed_out=client["timed_out"],
        over_cap=client["over_cap"],
        received=Received(moved, "", None, None),
        http=facts,
    )
    final_outcome, _ = _classified(m, memory_cap, timeout_s)
    if final_outcome != "ok" and not verified:
        detail = f"{detail} ({final_outcome})"
    return replace(m, verdict=Verdict(verified and final_outcome == "ok", detail)), client


def _classified(m: Measurement, cap: MemoryCap | None, timeout_s: float) -> tuple[str, str | None]:
    return classify(m, cap.limit_bytes if cap is not None else 0, timeout_s, cap.method if cap else "none")


def run_s3_cell(
    method: str,
    workload: Workload,
    timeout_s: float,
    memory_cap: MemoryCap | None,
    **kwargs: Any,
) -> dict[str, Any]:
    """One upload as a flat dict of the client's figures (for tests and the research notes)."""
    m, client = s3_upload(method, workload, timeout_s, memory_cap, **kwargs)
    outcome, error = _classified(m, memory_cap, timeout_s)
    report = m.report or MeasuredReport(outcome=outcome)
    assert m.verdict is not None
    wall_s = report.wall_s
    return {
        "outcome": outcome,
        "error": error,
        "wall_s": wall_s,
        "bytes_moved": report.bytes_moved,
        "throughput_bps": report.bytes_moved / wall_s if wall_s and report.bytes_moved else None,
        "verified": m.verdict.verified,
        "verify_detail": m.verdict.detail,
        "peak_rss_bytes": report.peak_rss_bytes,
        "peak_rss_reset": report.peak_rss_reset,
        "baseline_rss_bytes": report.baseline_rss_bytes,
        "baseline_rss_anon_bytes": report.baseline_rss_anon_bytes,
        "peak_rss_anon_bytes": report.sampled_peak_rss_anon_bytes,
        "server": m.http["server"],
        "s3": {k: v for k, v in m.http.items() if k not in ("server", "route")},
        "client": client,
    }
