"""What an executor saw of one planned run: the typed contract between executors and records.

``MeasuredReport`` is what a measured process says of its own measured section
(the worker writes it as JSON on its result fd; the HTTP and S3 executors build
it from their server's or client's report). ``Measurement`` is everything the
parent side adds: its samples, ``wait4``'s CPU, how the process ended, what the
far end received, and — for executors that check bytes themselves — a verdict.
Executors never build records; :func:`harness.execute.recording.to_record` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.measure.measured import MeasuredReport
from harness.sinks.handles import Received

__all__ = ["NOTHING_RECEIVED", "MeasuredReport", "Measurement", "Verdict"]


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
