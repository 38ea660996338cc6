"""The measured process: one fresh interpreter per run, reporting on itself.

The runner starts ``python -m harness.worker JOB_JSON`` with the sink's fd and a
result pipe inherited. The worker imports everything, resets its peak-RSS mark,
takes its baseline, and then does nothing in the timed section but call
``strategy.run`` and ``sink.end``. It writes one JSON report to the result fd,
also when the strategy failed (outcome ``error`` with the message).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streambench.harness.common.errors import raised_at
from streambench.harness.common.lifeline import die_with_parent
from streambench.harness.measure.limits import join_cgroup
from streambench.harness.measure.measured import MeasuredSection
from streambench.harness.measure.probes import GcWatch
from streambench.strategies.base import RunStats, Sink, Source, StrategyParams
from streambench.strategies.registry import load_registry

if TYPE_CHECKING:
    from streambench.harness.measure.report import MeasuredReportDict


def run_job(job: dict[str, Any]) -> MeasuredReportDict:
    registry = load_registry(plugins=bool(job.get("plugins", True)))
    strategy_cls, options = registry.resolve(job["strategy"])
    strategy = strategy_cls()
    source = Source(Path(job["source_path"]), int(job["size_bytes"]))
    sink = Sink.on_fd(job["sink"], int(job["sink_fd"]))
    transform = None
    if job.get("transform") not in (None, "none"):
        from streambench.strategies.transforms import make_transform

        transform = make_transform(job["transform"])
    params = StrategyParams(
        chunk_bytes=int(job["chunk_bytes"]),
        options=options,
        high_water_mark_bytes=int(job.get("high_water_mark_bytes", 0)),
        transform=transform,
    )
    stats = RunStats()

    section = MeasuredSection()
    outcome, error, moved_bytes = "ok", None, 0
    # A memory-profiled pass: memray tracks exactly the timed section (these
    # passes are never the ones timings come from).
    tracker: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if job.get("memray_path"):
        import memray

        tracker = memray.Tracker(job["memray_path"], native_traces=False, memory_interval_ms=10)
    gc_watch = GcWatch()
    section.start()
    try:
        with tracker, gc_watch:
            moved_bytes = strategy.run(source, sink, params, stats)
            sink.end()
    except Exception as exc:  # the run failed; the record says how, and where
        outcome = "error"
        error = f"{type(exc).__name__}: {exc}{raised_at(exc)}"
        traceback.print_exc(file=sys.stderr)
    section.stop()
    if outcome == "ok" and moved_bytes != source.size_bytes:
        outcome = "error"
        error = (
            f"moved {moved_bytes} of {source.size_bytes} bytes: "
            "the source changed size during the run (truncated?)"
        )
    # Closing our end is the EOF the consumer waits for; it is not part of the run.
    os.close(sink.fd)
    figures = section.figures()
    io_delta = figures["io"]
    if transform is not None:
        stats.notes.update(transform.notes())
    stats.notes.update(gc_watch.figures())

    def per_call(n_bytes: int | None, calls: int | None) -> float | None:
        return n_bytes / calls if n_bytes and calls else None

    report: MeasuredReportDict = {
        **figures,
        "outcome": outcome,
        "error": error,
        "bytes_moved": moved_bytes,
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
    return report


def main() -> None:
    die_with_parent()
    job = json.loads(sys.argv[1])
    # Under the memory cap (and the read limit) before the strategy is even imported.
    join_cgroup(job.get("cgroup_procs"))
    join_cgroup(job.get("disk_read_procs"))
    result_fd = int(job["result_fd"])
    try:
        report = run_job(job)
    except Exception as exc:  # setup failed before the run; still report, never hang
        traceback.print_exc(file=sys.stderr)
        report = {"outcome": "error", "error": f"worker setup: {type(exc).__name__}: {exc}{raised_at(exc)}"}
    with open(result_fd, "w", closefd=True) as out:
        out.write(json.dumps(report))


if __name__ == "__main__":
    main()
