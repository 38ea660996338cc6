"""What an executor saw of one planned run: the typed contract between executors and records.

``MeasuredReport`` is what a measured process says of its own measured section
(the worker writes it as JSON on its result fd; the HTTP and S3 executors build
it from their server's or client's report). ``Measurement`` is everything the
parent side adds: its samples, ``wait4``'s CPU, how the process ended, what the
far end received, and — for executors that check bytes themselves — a verdict.
Executors never build records; :func:`harness.execute.recording.to_record` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from harness.measure.report import MeasuredReportDict
from harness.sinks.handles import Received


@dataclass(frozen=True)
class MeasuredReport:
    """The parent's view of a :class:`~harness.measure.measured.MeasuredReportDict`."""

    outcome: str
    error: str | None = None
    bytes_moved: int = 0
    # time.monotonic() of the measured section's start and end, in the measured process
    started_at: float | None = None
    ended_at: float | None = None
    wall_s: float | None = None
    # getrusage deltas over the section (children such as cat included)
    strategy_user_s: float | None = None
    strategy_sys_s: float | None = None
    strategy_major_faults: int | None = None
    strategy_minor_faults: int | None = None
    strategy_inblock: int | None = None
    strategy_oublock: int | None = None
    strategy_voluntary_ctx_switches: int | None = None
    strategy_involuntary_ctx_switches: int | None = None
    # the process's own memory: VmHWM after clear_refs, status before and after
    peak_rss_bytes: int | None = None
    peak_rss_reset: bool | None = None
    baseline_rss_bytes: int | None = None
    baseline_rss_anon_bytes: int | None = None
    baseline_rss_file_bytes: int | None = None
    final_rss_anon_bytes: int | None = None
    final_rss_file_bytes: int | None = None
    # peaks the process sampled itself (a server, an S3 client), when it did
    sampled_peak_rss_anon_bytes: int | None = None
    sampled_peak_rss_file_bytes: int | None = None
    io: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    largest_chunk_bytes: int = 0
    observed_read_chunk_bytes: float | None = None
    observed_write_chunk_bytes: float | None = None
    pauses: int | None = None
    drains: int | None = None
    max_buffered_bytes: int | None = None
    buffered_timeline: list[list[float]] = field(default_factory=list)
    strategy_notes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: MeasuredReportDict | dict[str, Any]) -> MeasuredReport:
        """From a child's JSON report: unknown keys are ignored, missing ones take their defaults."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in raw.items() if k in known and v is not None}
        values.setdefault("outcome", "error")
        return cls(**values)

    @classmethod
    def of_process(
        cls, figures: Mapping[str, Any], *, outcome: str, error: str | None, bytes_moved: int,
        wall_s: float | None, started_at: float | None, ended_at: float | None, **more: Any,
    ) -> MeasuredReport:  # fmt: skip
        """A measured server's or client's own report (``user_s``, ``peak_rss_bytes``, its sampled
        ``peak_rss_anon_bytes``/``peak_rss_file_bytes``, ...) under the worker's keys; the executor
        says how the run went and adds what only it knows (``more``)."""
        return cls(
            outcome=outcome,
            error=error,
            bytes_moved=bytes_moved,
            wall_s=wall_s,
            started_at=started_at,
            ended_at=ended_at,
            strategy_user_s=figures.get("user_s"),
            strategy_sys_s=figures.get("sys_s"),
            peak_rss_bytes=figures.get("peak_rss_bytes"),
            peak_rss_reset=figures.get("peak_rss_reset"),
            baseline_rss_bytes=figures.get("baseline_rss_bytes"),
            baseline_rss_anon_bytes=figures.get("baseline_rss_anon_bytes"),
            sampled_peak_rss_anon_bytes=figures.get("peak_rss_anon_bytes"),
            sampled_peak_rss_file_bytes=figures.get("peak_rss_file_bytes"),
            final_rss_file_bytes=figures.get("final_rss_file_bytes"),
            **more,
        )

    @classmethod
    def from_json(cls, data: bytes) -> MeasuredReport | None:
        """None when the process left no (whole) report: it died."""
        if not data:
            return None
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):
            return None
        return cls.from_mapping(raw) if isinstance(raw, dict) and "outcome" in raw else None


@dataclass(frozen=True)
class Verdict:
    """An executor's own check of the bytes (HTTP bodies per range, an S3 object on disk)."""

    verified: bool
    detail: str


NOTHING_RECEIVED = Received(0, "", None, None)


@dataclass(frozen=True)
class Measurement:
    """One planned run as its executor saw it."""

    # The measured process's own report; None: it died without one.
    report: MeasuredReport | None
    # Who was measured, for the record's words: "worker", "server", "s3 client".
    who: str = "worker"
    # What ran the strategy ("python", "node") and its version.
    runtime: str = "python"
    runtime_version: str | None = None
    # (monotonic time, RssAnon, RssFile) sampled by the parent every interval
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    # wait4 of the measured process itself (None: not this executor's child)
    user_s: float | None = None
    sys_s: float | None = None
    # How it ended (None: not known to this executor, e.g. a server's own report said it died).
    returncode: int | None = 0
    stderr_tail: str = ""
    timed_out: bool = False
    over_cap: bool = False
    # Said after an oom (e.g. "; 3 viewers failed").
    over_cap_detail: str = ""
    received: Received = NOTHING_RECEIVED
    verdict: Verdict | None = None
    sink_detail: dict[str, Any] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    # The executor's own time to first byte (HTTP: the clients' median), else the far end's.
    ttfb_s: float | None = None
    leftover_processes: int = 0

    @classmethod
    def not_run(cls, why: str) -> Measurement:
        """A run that could not happen (a profiler or a server missing): outcome error, and why."""
        return cls(MeasuredReport(outcome="error", error=why))
