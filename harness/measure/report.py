"""The one contract of a measured section: what a measured process reports, as JSON."""

from __future__ import annotations

from typing import Any, TypedDict


class MeasuredReportDict(TypedDict, total=False):
    """What a measured process says of its measured section, as JSON (the one contract).

    A TypedDict, not a dataclass, and imported by measured children for type
    checking only: their start stays as fast as before the seam (a dataclass of
    33 fields costs ~2 ms to define, this TypedDict ~1 ms).
    ``tests/unit/test_recording.py`` keeps it and the parent's ``MeasuredReport``
    field for field.
    """

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
