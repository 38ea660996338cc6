"""The child side of every measured section: one helper for the worker, the HTTP server, the S3 client.

A measured child does its imports and setup, then ``section.start()``: a GC pass
(so none lands inside), the peak-RSS mark reset (``clear_refs``), the baseline,
rusage and ``/proc/self/io`` before; ``section.stop()`` takes the deltas and the
final status. An optional thread samples the child's own ``RssAnon``/``RssFile``
(a lower bound of the peak; ``VmHWM`` is exact) where no parent can watch it
closely (a server serving many clients, a client under boto3's threads).

``figures()`` is the contract every measured child reports under the same keys
(:class:`MeasuredReport`, the one contract of a measured section). This module imports
nothing heavy: measured children start fast.
"""

from __future__ import annotations

import gc
import json
import resource
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from harness.measure.probes import read_io, read_status, reset_peak_rss

_RUSAGE_FIELDS = {
    "user_s": "ru_utime",
    "sys_s": "ru_stime",
    "major_faults": "ru_majflt",
    "minor_faults": "ru_minflt",
    "inblock": "ru_inblock",
    "oublock": "ru_oublock",
    "voluntary_ctx_switches": "ru_nvcsw",
    "involuntary_ctx_switches": "ru_nivcsw",
}


def _usage(children: bool) -> dict[str, float]:
    """This process (plus its reaped children, e.g. cat, when asked): the section's resource use."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    if not children:
        return {k: getattr(own, f) for k, f in _RUSAGE_FIELDS.items()}
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {k: getattr(own, f) + getattr(kids, f) for k, f in _RUSAGE_FIELDS.items()}


class RssSampler(threading.Thread):
    """Peaks of this process's RssAnon, RssFile and VmRSS, sampled every ``interval_s``."""

    def __init__(self, interval_s: float) -> None:
        super().__init__(name="streambench-rss-sampler", daemon=True)
        self.interval_s = interval_s
        self.peaks: dict[str, int] = {}
        self.samples = 0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        status = read_status()
        self.samples += 1
        for key in ("RssAnon", "RssFile", "VmRSS"):
            if key in status and status[key] > self.peaks.get(key, -1):
                self.peaks[key] = status[key]

    def start(self) -> None:
        self.sample()
        super().start()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


class MeasuredSection:
    """Before and after of one measured section in the process that runs it."""

    def __init__(self, *, sample_interval_s: float | None = None, include_children: bool = True) -> None:
        self._sampler = RssSampler(sample_interval_s) if sample_interval_s else None
        self._children = include_children
        self.started_at = self.ended_at = 0.0

    def start(self) -> None:
        # Everything allocated so far is setup's; collect it now so a GC pass
        # does not land inside the measured section.
        gc.collect()
        self.peak_reset = reset_peak_rss()
        self.baseline = read_status()
        self._io_before = read_io()
        self._usage_before = _usage(self._children)
        if self._sampler is not None:
            self._sampler.start()
        self.started_at = time.monotonic()

    def stop(self) -> None:
        self.ended_at = time.monotonic()
        if self._sampler is not None:
            self._sampler.stop()
        self._usage_after = _usage(self._children)
        self._io_after = read_io()
        self.final = read_status()

    @property
    def sampler(self) -> RssSampler | None:
        return self._sampler

    def figures(self) -> dict[str, Any]:
        """The section's figures under the keys every measured child reports."""
        io_delta = {k: self._io_after.get(k, 0) - self._io_before.get(k, 0) for k in self._io_after}
        peaks = self._sampler.peaks if self._sampler is not None else {}
        return {
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "wall_s": self.ended_at - self.started_at,
            **{f"strategy_{k}": self._usage_after[k] - self._usage_before[k] for k in self._usage_after},
            "peak_rss_bytes": self.final.get("VmHWM"),
            "peak_rss_reset": self.peak_reset,
            "baseline_rss_bytes": self.baseline.get("VmRSS"),
            "baseline_rss_anon_bytes": self.baseline.get("RssAnon"),
            "baseline_rss_file_bytes": self.baseline.get("RssFile"),
            "final_rss_anon_bytes": self.final.get("RssAnon"),
            "final_rss_file_bytes": self.final.get("RssFile"),
            "sampled_peak_rss_anon_bytes": peaks.get("RssAnon"),
            "sampled_peak_rss_file_bytes": peaks.get("RssFile"),
            "io": io_delta,
        }


@dataclass(frozen=True)
class MeasuredReport:
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

    def to_json(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> MeasuredReport:
        """From a child's JSON report: unknown keys are ignored, missing ones take their defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known and v is not None}
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
