"""The S3 executor: an upload to a real S3-compatible server on loopback; the measurement is the client's.

``rclone serve s3`` runs on 127.0.0.1 with its own config and keys; a boto3 client
(:mod:`harness.s3.client_child`) uploads the workload by the strategy's method
under the run's cap; the stored object is checked on the server's disk.
"""

from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streambench.harness.execute.context import RunContext
from streambench.harness.execute.measurement import MeasuredReport, Measurement, Verdict
from streambench.harness.execute.recording import classify
from streambench.harness.measure.disk_throttle import DiskThrottle
from streambench.harness.measure.limits import MemoryCap
from streambench.harness.plan.applicability import S3_METHODS
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.s3.client_child import METHODS
from streambench.harness.s3.client_handle import run_client
from streambench.harness.s3.rclone import (
    BUCKET,
    CONCURRENCY,
    FREE_SPACE_MARGIN_BYTES,
    PART_BYTES,
    S3Server,
    S3ServerError,
    verify_object,
)
from streambench.harness.sinks.handles import Received
from streambench.strategies.registry import split_spec
from streambench.workloads.cache import Workload


class S3Executor:
    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        ctx.make_cache_state()
        cap = ctx.memory_cap()
        method = S3_METHODS[split_spec(planned.cell.strategy)[0]]
        try:
            measurement, _ = s3_upload(
                Upload(method), ctx.workload, ctx.config.timeout_s, cap, throttle=ctx.disk_throttle()
            )
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


@dataclass(frozen=True)
class Upload:
    """How an upload goes: boto3's method, and a multipart upload's part size and parallelism."""

    method: str
    part_bytes: int = PART_BYTES
    concurrency: int = CONCURRENCY

    def describe(self) -> dict[str, Any]:
        multipart = self.method == "upload_fileobj"
        return {"method": self.method, "part_bytes": self.part_bytes if multipart else None,
                "concurrency": self.concurrency if multipart else 1}  # fmt: skip


def s3_upload(
    upload: Upload,
    workload: Workload,
    timeout_s: float,
    memory_cap: MemoryCap | None,
    state_parent: Path | None = None,
    throttle: DiskThrottle | None = None,
) -> tuple[Measurement, dict[str, Any]]:
    """Upload ``workload`` to a fresh local S3 server: the measurement, and the client's own report.

    Raises :class:`S3ServerError` when the server cannot be started. The server's
    directory goes under ``state_parent`` (default: ``s3`` in the workload's data
    directory, on the workload's disk rather than a tmpfs in RAM).
    """
    if upload.method not in METHODS:
        raise ValueError(f"unknown s3 method {upload.method!r}; valid: {', '.join(METHODS)}")
    manifest = workload.manifest
    parent = state_parent if state_parent is not None else workload.path.parent.parent / "s3"
    _check_free_space(parent, manifest.size_bytes)
    key = f"upload/{workload.path.name}"
    with S3Server(parent) as server:
        server_reset, server_base = server.reset_peak_rss(), server.memory()
        client = run_client(server, workload.path, upload.method, key=key, part_bytes=upload.part_bytes,
                            concurrency=upload.concurrency, timeout_s=timeout_s, cap=memory_cap,
                            throttle=throttle)  # fmt: skip
        server_mem = server.memory()
        server_alive = server.proc is not None and server.proc.poll() is None
        verified, detail = verify_object(server.object_path(BUCKET, key), manifest)
        server_facts = {
            "peak_rss_bytes": server_mem.get("VmHWM"),
            "peak_rss_reset": server_reset,
            "baseline_rss_bytes": server_base.get("VmRSS"),
            "final_rss_anon_bytes": server_mem.get("RssAnon"),
            "version": server.version,
        }
        endpoint, server_stderr = server.endpoint_url, server.why()
    # What only this executor sees: the server's fate and the stored bytes (recording decides).
    problems = []
    if not server_alive:
        problems.append(f"the S3 server died during the upload: {server_stderr[-500:]}")
    elif not verified:
        problems.append(f"upload answered ok but {detail}")
    moved = int(client.get("bytes") or 0) if client.get("outcome") == "ok" and not problems else 0
    said = {"outcome": client.get("outcome", "error"), "error": client.get("error"), "bytes_moved": moved}
    facts = {
        **upload.describe(),
        "endpoint": endpoint,
        "key": key,
        **{k: client.get(k) for k in ("etag", "rss_anon_samples", "boto3_version", "botocore_version")},
        "client_max_rss_watched_bytes": client.get("watched_max_rss_bytes"),
        "cap_method": memory_cap.method if memory_cap is not None else "none",
        "server": server_facts,
    }
    m = Measurement(
        report=MeasuredReport.from_mapping({**(client.get("section") or {}), **said})
        if "outcome" in client
        else None,
        who="s3 client",
        runtime_version=platform.python_version(),
        returncode=client["returncode"],
        stderr_tail=client["stderr_tail"],
        timed_out=client["timed_out"],
        over_cap=client["over_cap"],
        problems=tuple(problems),
        received=Received(moved, "", None, None),
        verdict=Verdict(verified, detail, "the stored object's size and xxh3-64 against the workload's"),
        s3=facts,
    )
    return m, client


def run_s3_cell(
    method: str,
    workload: Workload,
    timeout_s: float,
    memory_cap: MemoryCap | None,
    state_parent: Path | None = None,
    **upload: Any,
) -> dict[str, Any]:
    """One upload as a flat dict of the client's figures (for tests and the research notes)."""
    m, client = s3_upload(Upload(method, **upload), workload, timeout_s, memory_cap, state_parent)
    cap_bytes, cap_method = (memory_cap.limit_bytes, memory_cap.method) if memory_cap else (0, "none")
    outcome, error = classify(m, cap_bytes, timeout_s, cap_method)
    report = m.report or MeasuredReport(outcome=outcome)
    assert m.verdict is not None
    wall_s = report.wall_s
    return {
        "outcome": outcome,
        "error": error,
        "wall_s": wall_s,
        "bytes_moved": report.bytes_moved,
        "throughput_bps": report.bytes_moved / wall_s if wall_s and report.bytes_moved else None,
        "verified": m.verdict.verified and outcome == "ok",
        "verify_detail": m.verdict.detail,
        "peak_rss_bytes": report.peak_rss_bytes,
        "peak_rss_reset": report.peak_rss_reset,
        "baseline_rss_bytes": report.baseline_rss_bytes,
        "baseline_rss_anon_bytes": report.baseline_rss_anon_bytes,
        "peak_rss_anon_bytes": report.sampled_peak_rss_anon_bytes,
        "server": m.s3["server"],
        "s3": {k: v for k, v in m.s3.items() if k != "server"},
        "client": client,
    }
