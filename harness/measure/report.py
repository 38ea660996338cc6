"""The one declaration of a measured section's figures, and the child's JSON contract checked against it.

:class:`SectionFigures` declares, once, the figures a measured process (a Python or Node worker, an
HTTP server, an S3 client) reports of its own measured section under these very names. The parent's
view of a child's report (``harness.execute.measurement.MeasuredReport``) and the stored record
(``harness.results.record.Record``) both derive from it, so a figure is named, typed and documented
here and nowhere else. ``MeasuredReportDict`` is what a measured child writes as JSON, for type
checking in the child only (its start stays fast); ``tests/unit/test_recording.py`` keeps it and
``MeasuredReport`` field for field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict


@dataclass(frozen=True, kw_only=True)
class SectionFigures:
    """What a measured process measured of its own section (the child's keys, the record's fields)."""

    bytes_moved: int = 0
    # time.monotonic() around the section, in the measured process
    wall_s: float | None = None
    # getrusage deltas over the section (children such as cat included)
    strategy_user_s: float | None = None
    strategy_sys_s: float | None = None
    strategy_major_faults: int | None = None
    strategy_minor_faults: int | None = None
    strategy_inblock: int | None = None  # 512-byte units
    strategy_oublock: int | None = None
    strategy_voluntary_ctx_switches: int | None = None
    strategy_involuntary_ctx_switches: int | None = None
    # the main thread's scheduling over the section (/proc/self/schedstat): on a CPU, and runnable but
    # waiting for one (other processes had it); wall minus both is the time it was blocked (a read, a
    # write into a full sink, a wait for the consumer)
    main_thread_on_cpu_s: float | None = None
    main_thread_runqueue_s: float | None = None
    # the process's own memory: VmHWM after clear_refs (exact), and its status right before the run
    peak_rss_bytes: int | None = None
    baseline_rss_bytes: int | None = None
    baseline_rss_anon_bytes: int | None = None
    baseline_rss_file_bytes: int | None = None
    # /proc/self/io deltas: rchar, wchar, syscr, syscw, read_bytes, write_bytes
    io: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    largest_chunk_bytes: int = 0
    # what the kernel saw: bytes per read / write syscall of the process itself (None: no syscalls)
    observed_read_chunk_bytes: float | None = None
    observed_write_chunk_bytes: float | None = None
    # backpressure (None: the strategy holds no user-space queue)
    pauses: int | None = None
    drains: int | None = None
    max_buffered_bytes: int | None = None
    buffered_timeline: list[list[float]] = field(default_factory=list)  # [t_s since start, bytes held]
    strategy_notes: dict[str, Any] = field(default_factory=dict)


class MeasuredReportDict(TypedDict, total=False):
    """What a measured process writes as JSON (a TypedDict: no dataclass to define in the child)."""

    outcome: str
    error: str | None
    bytes_moved: int
    started_at: float | None
    ended_at: float | None
    wall_s: float | None
    strategy_user_s: float | None
    strategy_sys_s: float | None
    strategy_major_faults: int | None
    strategy_minor_faults: int | None
    strategy_inblock: int | None
    strategy_oublock: int | None
    strategy_voluntary_ctx_switches: int | None
    main_thread_on_cpu_s: float | None
    main_thread_runqueue_s: float | None
    strategy_involuntary_ctx_switches: int | None
    peak_rss_bytes: int | None
    peak_rss_reset: bool | None
    baseline_rss_bytes: int | None
    baseline_rss_anon_bytes: int | None
    baseline_rss_file_bytes: int | None
    final_rss_anon_bytes: int | None
    final_rss_file_bytes: int | None
    sampled_peak_rss_anon_bytes: int | None
    sampled_peak_rss_file_bytes: int | None
    io: dict[str, int]
    chunks: int
    largest_chunk_bytes: int
    observed_read_chunk_bytes: float | None
    observed_write_chunk_bytes: float | None
    pauses: int | None
    drains: int | None
    max_buffered_bytes: int | None
    buffered_timeline: list[list[float]]
    strategy_notes: dict[str, Any]
