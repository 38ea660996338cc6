"""The measured process: one fresh interpreter per run, reporting on itself.

The runner starts ``python -m harness.worker JOB_JSON`` with the sink's fd and a
result pipe inherited. The worker imports everything, resets its peak-RSS mark,
takes its baseline, and then does nothing in the timed section but call
``strategy.run`` and ``sink.end``. It writes one JSON report to the result fd,
also when the strategy failed (outcome ``error`` with the message).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from harness.common.lifeline import die_with_parent
from harness.measure.limits import join_cgroup
from harness.measure.probes import read_io, read_status, reset_peak_rss
from strategies.base import RunStats, Sink, Source, StrategyParams
from strategies.registry import load_registry
from strategies.transforms import make_transform

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


def _usage() -> dict[str, float]:
    """This process plus its reaped children (e.g. cat): the run's own resource use."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {k: getattr(own, f) + getattr(children, f) for k, f in _RUSAGE_FIELDS.items()}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    registry = load_registry(plugins=bool(job.get("plugins", True)))
    strategy_cls, options = registry.resolve(job["strategy"])
    strategy = strategy_cls()
    source = Source(Path(job["source_path"]), int(job["size_bytes"]))
    sink = Sink.on_fd(job["sink"], int(job["sink_fd"]))
    transform = make_transform(job.get("transform"))
    params = StrategyParams(
        chunk_bytes=int(job["chunk_bytes"]),
        options=options,
        high_water_mark_bytes=int(job.get("high_water_mark_bytes", 0)),
        transform=transform,
    )
    stats = RunStats()

    # Everything allocated so far is the interpreter's; collect it now so a GC
    # pass does not land inside the timed section.
    gc.collect()
    peak_reset = reset_peak_rss()
    baseline = read_status()
    io_before = read_io()
    usage_before = _usage()
    outcome, error, moved_bytes = "ok", None, 0
    # A memory-profiled pass: memray tracks exactly the timed section (these
    # passes are never the ones timings come from).
    tracker: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if job.get("memray_path"):
        import memray

        tracker = memray.Tracker(job["memray_path"], native_traces=False, memory_interval_ms=10)
    started_at = time.monotonic()
    try:
        with tracker:
            moved_bytes = strategy.run(source, sink, params, stats)
            sink.end()
    except Exception as exc:  # the run failed; the record says how
        outcome = "error"
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr)
    ended_at = time.monotonic()
    if outcome == "ok" and moved_bytes != source.size_bytes:
        outcome = "error"
        error = (
            f"moved {moved_bytes} of {source.size_bytes} bytes: "
            "the source changed size during the run (truncated?)"
        )
    usage_after = _usage()
    io_after = read_io()
    final = read_status()
    # Closing our end is the EOF the consumer waits for; it is not part of the run.
    os.close(sink.fd)

    io_delta = {k: io_after.get(k, 0) - io_before.get(k, 0) for k in io_after}
    if transform is not None:
        stats.notes.update(transform.notes())

    def per_call(n_bytes: int | None, calls: int | None) -> float | None:
        return n_bytes / calls if n_bytes and calls else None

    return {
        "outcome": outcome,
        "error": error,
        "bytes_moved": moved_bytes,
        "started_at": started_at,
        "ended_at": ended_at,
        "wall_s": ended_at - started_at,
        **{f"strategy_{k}": usage_after[k] - usage_before[k] for k in usage_after},
        "peak_rss_bytes": final.get("VmHWM"),
        "peak_rss_reset": peak_reset,
        "baseline_rss_bytes": baseline.get("VmRSS"),
        "baseline_rss_anon_bytes": baseline.get("RssAnon"),
        "baseline_rss_file_bytes": baseline.get("RssFile"),
        "final_rss_anon_bytes": final.get("RssAnon"),
        "final_rss_file_bytes": final.get("RssFile"),
        "io": io_delta,
        "chunks": stats.chunks,
        "largest_chunk_bytes": stats.largest_chunk_bytes,
        "observed_read_chunk_bytes": per_call(io_delta.get("rchar"), io_delta.get("syscr")),
        "observed_write_chunk_bytes": per_call(io_delta.get("wchar"), io_delta.get("syscw")),
        "pauses": stats.pauses,
        "drains": stats.drains,
        "max_buffered_bytes": stats.max_buffered_bytes,
        "buffered_timeline": [[round(t, 4), b] for t, b in stats.buffered_timeline],
        "strategy_notes": stats.notes,
    }


def main() -> None:
    die_with_parent()
    job = json.loads(sys.argv[1])
    # Under the memory cap before the strategy is even imported.
    join_cgroup(job.get("cgroup_procs"))
    result_fd = int(job["result_fd"])
    try:
        report = run_job(job)
    except Exception as exc:  # setup failed before the run; still report, never hang
        traceback.print_exc(file=sys.stderr)
        report = {"outcome": "error", "error": f"worker setup: {type(exc).__name__}: {exc}"}
    with open(result_fd, "w", closefd=True) as out:
        out.write(json.dumps(report))


if __name__ == "__main__":
    main()
