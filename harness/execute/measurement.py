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
from dataclasses import dataclass, field, fields
from typing import Any

from streambench.harness.measure.report import MeasuredReportDict, SectionFigures
from streambench.harness.sinks.handles import Received


@dataclass(frozen=True, kw_only=True)
class MeasuredReport(SectionFigures):
    """The parent's view of a measured process's own report (``MeasuredReportDict`` as JSON): the
    section's figures, and what only the child saw of how its section went."""

    outcome: str = "error"
    error: str | None = None
    # time.monotonic() of the measured section's start and end, in the measured process
    started_at: float | None = None
    ended_at: float | None = None
    peak_rss_reset: bool | None = None
    final_rss_anon_bytes: int | None = None
    final_rss_file_bytes: int | None = None
    # peaks the process sampled itself (a server, an S3 client), when it did
    sampled_peak_rss_anon_bytes: int | None = None
    sampled_peak_rss_file_bytes: int | None = None

    @classmethod
    def from_mapping(cls, raw: MeasuredReportDict | dict[str, Any]) -> MeasuredReport:
        """From a child's JSON report: unknown keys are ignored, missing ones take their defaults."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in raw.items() if k in known and v is not None}
        values.setdefault("outcome", "error")
        return cls(**values)

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
    # What the bytes were checked against (the record's verified_by).
    method: str = ""


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
    # What went wrong that only the executor saw (a viewer's failed body, a page that left
    # loopback, an S3 server that died), each in a few words; of ``subjects`` viewers or pages when
    # they are what failed. Facts: recording.classify decides what they make of the outcome.
    problems: tuple[str, ...] = ()
    subjects: int = 0
    subject_word: str = ""
    received: Received = NOTHING_RECEIVED
    verdict: Verdict | None = None
    sink_detail: dict[str, Any] = field(default_factory=dict)
    # What the subject measured beyond the section's figures, by subject (the record's sub-records).
    http: dict[str, Any] = field(default_factory=dict)
    s3: dict[str, Any] = field(default_factory=dict)
    browser: dict[str, Any] = field(default_factory=dict)
    # The executor's own time to first byte (HTTP: the clients' median), else the far end's.
    ttfb_s: float | None = None
    leftover_processes: int = 0

    @classmethod
    def not_run(cls, why: str) -> Measurement:
        """A run that could not happen (a profiler or a server missing): outcome error, and why."""
        return cls(MeasuredReport(outcome="error", error=why))
