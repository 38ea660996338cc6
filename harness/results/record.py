"""The measurement record: one flat, versioned JSON object per measured run.

Schema history (bump ``SCHEMA_VERSION`` on any change of meaning):
  1 - first version: timings, VmHWM peak, sampled anon/file peaks and timeline,
      I/O counters, sink verification, cache residency.
  2 - transform, consumer_rate_bps, high_water_mark_bytes; backpressure counters
      (pauses, drains, max_buffered_bytes, buffered_timeline); observed read and
      write sizes per syscall; sink_detail; outcome error when the source shrank;
      faults, block I/O and context switches of the run; memory cap and its method;
      run_total_s (the harness's time per run); cache_method; profiler passes (profiler, profile,
      profile_artifacts, profile_overhead, profile_error).
  3 - http cells: memory and CPU figures are the server's; ``http`` holds clients,
      view_bytes, failed_clients and failures, ttfb_p50_s/p99_s/max_s,
      aggregate_bps, per_client_bytes, server counters.
  4 - leftover_processes: live processes of the run's process group found (and
      killed) after its worker ended, before the next run started.
  5 - runtime ("python" or "node") and runtime_version of what ran the strategy;
      Node runs add node_version, the effective readable/writable highWaterMarks and
      process.memoryUsage() at the peak and at the end to strategy_notes; sink_detail
      says when the far end decoded what it got (decoded, wire_bytes).
  6 - browser cells (sink "browser"): memory and CPU are the server's; ``http`` holds
      the tabs' figures (pages: metadata, first frame, seek, stalls, bytes received and
      the server's view at the first frame), worst-page summaries, the player settings,
      the browser's version, screenshots (paths in the run) and, for the
      missing-first route, what the missing file was answered.
  7 - noise: the machine around the run (load average before and after, CPU ticks of the
      whole machine, steal, CPU time of processes not the run's, under_load);
      cpu_placement: the cores the worker, its far end and the harness were pinned to
      (--pin; {} when unpinned).
  8 - delivered_timeline: the bytes the receiver (the null/tcp consumer, the HTTP clients summed)
      got in each slice of delivered_slice_s (10 ms, doubled past 2,000 slices), as
      [t_s since start at the slice's end, bytes]; slices with no bytes are left out.
      workload_records: the workload's record count (rows, lines, objects; 0 for binary kinds).
      http.ttfb_clients_s: every client's TTFB, sorted.
  9 - machine: the machine that measured the run (hostname, machine_id, cpu_model, cpu_count,
      mem_total_bytes, kernel, python, streambench version); worker: the Dask worker's address
      when a cluster ran it (None for the local runner).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 9
OUTCOMES = ("ok", "error", "oom", "timeout", "crashed")


@dataclass(frozen=True)
class Record:
    # identity
    run_id: str
    cell_id: str
    repeat: int
    warmup: bool
    # the cell
    strategy: str
    workload: str
    size_bytes: int
    seed: int
    sink: str
    chunk_bytes: int
    cache: str
    dest: str
    transform: str
    consumer_rate_bps: int
    high_water_mark_bytes: int
    # outcome
    outcome: str
    error: str | None
    # time: wall around strategy.run in the worker; CPU of the whole worker
    # process from os.wait4, and of the strategy alone (getrusage deltas).
    wall_s: float | None
    user_s: float | None
    sys_s: float | None
    strategy_user_s: float | None
    strategy_sys_s: float | None
    # the run's own faults, block I/O (512-byte units) and context switches
    # (getrusage deltas in the worker, children included)
    strategy_major_faults: int | None
    strategy_minor_faults: int | None
    strategy_inblock: int | None
    strategy_oublock: int | None
    strategy_voluntary_ctx_switches: int | None
    strategy_involuntary_ctx_switches: int | None
    ttfb_s: float | None
    sink_last_byte_s: float | None
    # memory: peak_rss_bytes is the worker's own VmHWM after a clear_refs reset
    # (exact); anon/file peaks are sampled from /proc/<pid>/status by the parent.
    peak_rss_bytes: int | None
    baseline_rss_bytes: int | None
    peak_rss_anon_bytes: int | None
    peak_rss_file_bytes: int | None
    baseline_rss_anon_bytes: int | None
    baseline_rss_file_bytes: int | None
    peak_rss_method: str
    memory_limit_bytes: int
    memory_limit_method: str
    rss_sample_interval_s: float
    rss_timeline: list[list[float]]  # [t_s since start, anon bytes, file bytes]
    # bytes
    bytes_moved: int
    bytes_received: int | None
    verified: bool
    verify_detail: str
    io: dict[str, int]
    chunks: int
    largest_chunk_bytes: int
    # What the kernel saw: bytes per read / write syscall of the worker itself
    # (None when no syscalls, e.g. a child process such as cat did the work).
    observed_read_chunk_bytes: float | None
    observed_write_chunk_bytes: float | None
    # backpressure (None: the strategy holds no user-space queue)
    pauses: int | None
    drains: int | None
    max_buffered_bytes: int | None
    buffered_timeline: list[list[float]]  # [t_s since start, bytes held]
    sink_detail: dict[str, Any]
    # cache state: asked, measured, consistent
    resident_bytes_before: int | None
    resident_method: str
    cache_method: str  # how the asked state was made (read, fadvise, drop_caches)
    cache_state_ok: bool | None
    # context
    started_at_utc: str
    # the harness's whole time for this run: sink and cache set-up, worker
    # start, the run, verification; run_total_s - wall_s is its fixed cost
    run_total_s: float
    strategy_notes: dict[str, Any] = field(default_factory=dict)
    # A profiler pass ("memory", "cpu", "cpu-flamegraph") or None for a timed run;
    # profiled records never enter timing statistics.
    profiler: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    profile_artifacts: dict[str, str] = field(default_factory=dict)  # relative to the run dir
    profile_overhead: float | None = None  # profiled wall_s / median unprofiled wall_s of the cell
    profile_error: str | None = None
    http: dict[str, Any] = field(default_factory=dict)
    leftover_processes: int = 0
    # The machine around the run (harness.machine.provenance.noise).
    noise: dict[str, Any] = field(default_factory=dict)
    cpu_placement: dict[str, list[int]] = field(default_factory=dict)
    runtime: str = "python"
    runtime_version: str | None = None
    delivered_timeline: list[list[float]] = field(default_factory=list)  # [t_s at slice end, bytes]
    delivered_slice_s: float | None = None
    workload_records: int | None = None
    machine: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))
