"""The child side of every measured section: one helper for the worker, the HTTP server, the S3 client.

A measured child does its imports and setup, then ``section.start()``: a GC pass
(so none lands inside), the peak-RSS mark reset (``clear_refs``), the baseline,
rusage and ``/proc/self/io`` before; ``section.stop()`` takes the deltas and the
final status. An optional thread samples the child's own ``RssAnon``/``RssFile``
(a lower bound of the peak; ``VmHWM`` is exact) where no parent can watch it
closely (a server serving many clients, a client under boto3's threads).

``figures()`` gives the keys every measured child reports
(:class:`harness.measure.report.MeasuredReportDict`, the one contract of a
measured section; the parent reads it as ``harness.execute.measurement.MeasuredReport``).
This module imports nothing heavy: measured children start fast.
"""

from __future__ import annotations

import gc
import resource
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Types only: defining the contract's 33 keys costs ~1 ms, the worker's start pays nothing.
    from streambench.harness.measure.report import MeasuredReportDict
    from streambench.harness.measure.sampler import RssSampler

from streambench.harness.measure.probes import read_io, read_schedstat, read_status, reset_peak_rss

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


class MeasuredSection:
    """Before and after of one measured section in the process that runs it."""

    def __init__(self, *, sample_interval_s: float | None = None, include_children: bool = True) -> None:
        self._sampler: RssSampler | None = None
        if sample_interval_s:
            # Only children without a close parent watcher sample themselves; the
            # worker never pays for importing threading.
            from streambench.harness.measure.sampler import RssSampler

            self._sampler = RssSampler(sample_interval_s)
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
        self._sched_before = read_schedstat()
        self.started_at = time.monotonic()

    def stop(self) -> None:
        self.ended_at = time.monotonic()
        self._sched_after = read_schedstat()
        if self._sampler is not None:
            self._sampler.stop()
        self._usage_after = _usage(self._children)
        self._io_after = read_io()
        self.final = read_status()

    @property
    def sampler(self) -> RssSampler | None:
        return self._sampler

    def _peak_rss(self, peaks: dict[str, int]) -> int | None:
        """VmHWM, never below an RSS this process was seen at: on 6.x kernels the high-water mark is
        kept from per-CPU counters that lag the exact VmRSS (measured here: 106 KB under the
        baseline's VmRSS), so a flat run could report a peak below its own start."""
        hwm = self.final.get("VmHWM")
        if hwm is None:
            return None
        seen = [v for v in (self.baseline.get("VmRSS"), self.final.get("VmRSS"), peaks.get("VmRSS")) if v]
        return max([hwm, *seen])

    def figures(self) -> MeasuredReportDict:
        """The section's figures under the keys every measured child reports."""
        io_delta = {k: self._io_after.get(k, 0) - self._io_before.get(k, 0) for k in self._io_after}
        peaks = self._sampler.peaks if self._sampler is not None else {}
        used = {k: self._usage_after[k] - self._usage_before[k] for k in self._usage_after}
        return {
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "wall_s": self.ended_at - self.started_at,
            "strategy_user_s": used["user_s"],
            "strategy_sys_s": used["sys_s"],
            "strategy_major_faults": int(used["major_faults"]),
            "strategy_minor_faults": int(used["minor_faults"]),
            "strategy_inblock": int(used["inblock"]),
            "strategy_oublock": int(used["oublock"]),
            "strategy_voluntary_ctx_switches": int(used["voluntary_ctx_switches"]),
            "strategy_involuntary_ctx_switches": int(used["involuntary_ctx_switches"]),
            "peak_rss_bytes": self._peak_rss(peaks),
            "peak_rss_reset": self.peak_reset,
            "baseline_rss_bytes": self.baseline.get("VmRSS"),
            "baseline_rss_anon_bytes": self.baseline.get("RssAnon"),
            "baseline_rss_file_bytes": self.baseline.get("RssFile"),
            "final_rss_anon_bytes": self.final.get("RssAnon"),
            "final_rss_file_bytes": self.final.get("RssFile"),
            "sampled_peak_rss_anon_bytes": peaks.get("RssAnon"),
            "sampled_peak_rss_file_bytes": peaks.get("RssFile"),
            "io": io_delta,
            **_sched_figures(self._sched_before, self._sched_after),
        }


def _sched_figures(before: tuple[int, int] | None, after: tuple[int, int] | None) -> MeasuredReportDict:
    """The main thread's time on a CPU and runnable-but-waiting over the section (the rest of the wall
    time it was blocked: in read(), write(), a wait for its consumer)."""
    if before is None or after is None:
        return {"main_thread_on_cpu_s": None, "main_thread_runqueue_s": None}
    return {
        "main_thread_on_cpu_s": (after[0] - before[0]) / 1e9,
        "main_thread_runqueue_s": (after[1] - before[1]) / 1e9,
    }
