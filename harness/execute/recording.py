"""Measurement -> Record: outcome rules, verification and peaks, in one pure function.

Every executor's measurement becomes a record here and nowhere else, so the rules (over the cap is
oom, past the deadline is timeout, no report is crashed, a MemoryError under the cap is oom, a
problem only the executor saw is an error) are written once, and so are their words. The record
is built once, from the run's context, its measurement and what the runner adds (noise, machine,
a profiler pass's summary). Unit tests drive it with fake measurements: no process, no clock.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from streambench.harness.common.units import format_bytes
from streambench.harness.execute.context import RunContext
from streambench.harness.execute.measurement import MeasuredReport, Measurement
from streambench.harness.measure.report import SectionFigures
from streambench.harness.results.diagnosis import diagnose
from streambench.harness.results.record import Record

# At most this many points of RSS timeline are kept per record.
TIMELINE_MAX_POINTS = 600
# The timeline keeps samples this close outside the measured section.
TIMELINE_MARGIN_S = 0.05


def classify(
    m: Measurement, memory_limit_bytes: int, timeout_s: float, cap_method: str
) -> tuple[str, str | None]:
    """(outcome, error) of a measurement: the one place these rules live."""
    # The worker's words carry no subject (records before the seam said them so).
    subject = "" if m.who == "worker" else f"{m.who} "
    if m.over_cap:
        limit = format_bytes(memory_limit_bytes)
        return "oom", f"{subject}killed at the memory cap of {limit} ({cap_method}){m.over_cap_detail}"
    if m.timed_out:
        return "timeout", f"{subject}killed after {timeout_s:g} s"
    if m.report is None:
        if m.returncode is None:
            how = ""
        else:
            how = f" (signal {-m.returncode})" if m.returncode < 0 else f" (exit status {m.returncode})"
        return "crashed", f"{m.who} died{how} without a report: {m.stderr_tail[-500:]}"
    error = m.report.error
    if error is not None and error.startswith("MemoryError"):
        return "oom", error  # the allocation failed under the cap instead of a kill
    if m.report.outcome == "ok" and m.problems:
        if m.subjects:
            return "error", f"{len(m.problems)} of {m.subjects} {m.subject_word} failed: {m.problems[0]}"
        return "error", "; ".join(m.problems[:3])
    return m.report.outcome, error


def timeline(samples: list[tuple[float, int, int]], started_at: float, ended_at: float) -> list[list[float]]:
    window = [s for s in samples if started_at - TIMELINE_MARGIN_S <= s[0] <= ended_at + TIMELINE_MARGIN_S]
    stride = max(1, -(-len(window) // TIMELINE_MAX_POINTS))
    return [[round(t - started_at, 4), float(a), float(f)] for t, a, f in window[::stride]]


def _peaks(m: Measurement, report: MeasuredReport) -> tuple[int | None, int | None, list[list[float]]]:
    """Anon and file-backed peaks: the parent's samples in the section, and what the process saw."""
    if report.started_at is None or report.ended_at is None:
        return None, None, []
    window = [s for s in m.samples if report.started_at <= s[0] <= report.ended_at]
    seen_anon = (
        report.baseline_rss_anon_bytes,
        report.final_rss_anon_bytes,
        report.sampled_peak_rss_anon_bytes,
    )
    seen_file = (
        report.baseline_rss_file_bytes,
        report.final_rss_file_bytes,
        report.sampled_peak_rss_file_bytes,
    )
    anon = [s[1] for s in window] + [v for v in seen_anon if v]
    file = [s[2] for s in window] + [v for v in seen_file if v]
    return (max(anon) if anon else None, max(file) if file else None,
            timeline(m.samples, report.started_at, report.ended_at))  # fmt: skip


def _verification(ctx: RunContext, m: Measurement, outcome: str, report: MeasuredReport) -> tuple[bool, str]:
    if m.verdict is not None:
        if m.verdict.verified and outcome != "ok":
            return False, f"{m.verdict.detail}, but the run's outcome is {outcome}"
        return m.verdict.verified, m.verdict.detail
    cell, expected = ctx.planned.cell, ctx.expected
    size_bytes = ctx.workload.manifest.size_bytes
    received = m.received
    what = "the workload's" if cell.transform == "none" else f"the {cell.transform} reference's"
    if expected.unverifiable is not None:
        return False, f"not verified: {expected.unverifiable}"
    # Each check: (passed, what to say when it did not).
    checks = [
        (outcome == "ok", f"outcome {outcome}"),
        (
            received.bytes_received == expected.size_bytes,
            f"sink received {received.bytes_received} of {expected.size_bytes} bytes",
        ),
        (
            received.xxh3_64 == expected.xxh3_64,
            f"sink checksum {received.xxh3_64} differs from {what} {expected.xxh3_64}",
        ),
        (
            report.bytes_moved == size_bytes,
            f"strategy reports {report.bytes_moved} of {size_bytes} bytes moved",
        ),
    ]
    if expected.sha256 is not None:
        got = report.strategy_notes.get("sha256")
        checks.append((got == expected.sha256, f"sha256 {got} is wrong"))
    failed = [why for ok, why in checks if not ok]
    return not failed, "size and xxh3-64 match" if not failed else "; ".join(failed)


@dataclass(frozen=True)
class RunFacts:
    """What the runner knows of a run beyond its measurement: the record is built with them, once."""

    run_id: str
    run_total_s: float
    noise: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    # The user's own subjects: modules (path, sha256), a server, a file (harness.execute.user_code).
    user_code: dict[str, Any] = field(default_factory=dict)
    # A profiler pass's summary and artifacts, or why there are none.
    profile: dict[str, Any] = field(default_factory=dict)
    profile_artifacts: dict[str, str] = field(default_factory=dict)
    profile_overhead: float | None = None
    profile_error: str | None = None


def to_record(ctx: RunContext, m: Measurement, facts: RunFacts) -> Record:
    """The record of one planned run: what its context made, its executor measured and the runner knows."""
    planned, cell, config = ctx.planned, ctx.planned.cell, ctx.config
    outcome, error = classify(m, config.memory_limit_bytes, config.timeout_s, ctx.cap_method)
    report = m.report or MeasuredReport(outcome=outcome, error=error)
    anon_peak, file_peak, rss_timeline = _peaks(m, report)
    verified, verify_detail = _verification(ctx, m, outcome, report)
    started_at = report.started_at

    def since_start(t: float | None) -> float | None:
        return None if t is None or started_at is None else t - started_at

    section = {f.name: copy.copy(getattr(report, f.name)) for f in fields(SectionFigures)}
    profile_error = facts.profile_error
    if planned.profiler is not None and outcome != "ok" and profile_error is None:
        profile_error = f"the profiled run failed: {error}"
    record = Record(
        **section,
        run_id=facts.run_id,
        cell_id=cell.cell_id,
        repeat=planned.repeat,
        warmup=planned.warmup,
        **_cell_fields(ctx),
        outcome=outcome,
        error=error,
        user_s=m.user_s,
        sys_s=m.sys_s,
        ttfb_s=m.ttfb_s if m.ttfb_s is not None else since_start(m.received.first_byte_at),
        sink_last_byte_s=since_start(m.received.last_byte_at),
        peak_rss_anon_bytes=anon_peak,
        peak_rss_file_bytes=file_peak,
        peak_rss_method="VmHWM after clear_refs" if report.peak_rss_reset else "VmHWM (no reset!)",
        rss_sample_interval_s=config.rss_sample_interval_s,
        memory_limit_bytes=config.memory_limit_bytes,
        memory_limit_method=ctx.cap_method,
        disk_read_bps=config.disk_read_bps,
        disk_read_method=ctx.throttle.method if ctx.throttle is not None else "none",
        rss_timeline=rss_timeline,
        bytes_received=m.received.bytes_received,
        verified=verified,
        verify_detail=verify_detail,
        verified_by=m.verdict.method if m.verdict is not None else ctx.expected.method,
        sink_detail=dict(m.sink_detail),
        resident_bytes_before=ctx.cache.resident_bytes,
        resident_method=ctx.cache.resident_method,
        cache_method=ctx.cache.method,
        cache_state_ok=ctx.cache.ok,
        started_at_utc=ctx.started_at_utc,
        run_total_s=facts.run_total_s,
        profiler=planned.profiler,
        profile=dict(facts.profile) if outcome == "ok" else {},
        profile_artifacts=dict(facts.profile_artifacts) if outcome == "ok" else {},
        profile_overhead=facts.profile_overhead if outcome == "ok" else None,
        profile_error=profile_error,
        http=dict(m.http),
        s3=dict(m.s3),
        browser=dict(m.browser),
        cluster=dict(facts.cluster),
        user_code=dict(facts.user_code),
        leftover_processes=m.leftover_processes,
        noise=dict(facts.noise),
        machine=dict(facts.machine),
        cpu_placement=dict(ctx.placement),
        runtime=m.runtime,
        runtime_version=m.runtime_version,
        delivered_timeline=[
            [round(t - started_at, 6), n] for t, n in m.received.delivered if started_at is not None
        ],
        delivered_slice_s=m.received.delivered_slice_s or None,
        workload_records=ctx.workload.manifest.records,
    )
    # The stream doctor's reading, kept in the record beside the figures it read.
    return dataclasses.replace(record, diagnosis=diagnose(record).to_dict())


def _cell_fields(ctx: RunContext) -> dict[str, Any]:
    """The cell as the record stores it (its size is the workload's real one: an mp4 is the clip's
    multiple nearest the asked size)."""
    cell = ctx.planned.cell
    return {
        "strategy": cell.strategy,
        "workload": cell.workload.name,
        "size_bytes": ctx.workload.manifest.size_bytes,
        "seed": cell.workload.seed,
        "sink": cell.sink,
        "chunk_bytes": cell.chunk_bytes,
        "cache": cell.cache,
        "dest": cell.dest,
        "transform": cell.transform,
        "consumer_rate_bps": cell.consumer_rate_bps,
        "high_water_mark_bytes": cell.high_water_mark_bytes,
        "clients": cell.clients,
        "view_bytes": cell.view_bytes,
        "http_route": cell.http_route,
        "cell_runtime": cell.runtime,
    }
