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
 10 - one model end to end: the measured section's figures are declared once
      (harness.measure.report.SectionFigures) and records are read back as ``Record``
      (``Record.from_json`` upgrades older schemas here and nowhere else). The cell is stored
      as itself: clients, view_bytes, http_route, cell_runtime (the runtime the cell named; ""
      for its strategy's default). Sub-records by subject: ``http`` (HTTP viewers), ``s3``
      (an S3 upload: method, server, etag, ...), ``browser`` (the tabs: pages, first frame,
      seek, screenshots, ...), ``cluster`` ({"dask_worker": address} when a Dask worker ran
      it; was the top-level ``worker``).
 11 - the user's own code: ``user_code`` holds the user's module (strategy, transform: path, sha256,
      language), server (endpoint: command, path, expect; or url, server_measured false) and file
      (workload: path, xxh3_64), {} for streambench's own; ``workload`` is ``file:PATH`` for a user's
      file. verified_by: what the far end's bytes were checked against (the workload's xxh3-64, a
      transform's reference, a user transform's own output computed apart twice, each viewer's
      range of the file).
 12 - diagnosis: the stream doctor's reading of the run (harness.results.diagnosis: bound, fault,
      sentence, findings with their evidence); older records are read on load. JS runs add the
      doctor's signals to strategy_notes (loop_delay_p50_s/p99_s/max_s, loop_utilization, gc_count,
      gc_pause_s; the runtime's default highWaterMarks), Python runs gc_count and gc_pause_s.
 13 - main_thread_on_cpu_s, main_thread_runqueue_s: the measured process's main thread over the
      section, from /proc/self/schedstat (on a CPU; runnable but waiting for one). The rest of the
      wall time it was blocked (a read, a write into a full sink); the doctor says so. HTTP records'
      largest_chunk_bytes is the Python server's largest single write (0 before;
      the JS servers only stream in chunks and leave it 0).
 14 - disk_read_bps, disk_read_method: ``--disk-read-rate``, the measured process's reads from the
      workload's device limited by a block-I/O cgroup (0 and "none": no limit). The file sink's
      sink_detail.dest_dirty_bytes: the destination's dirty bytes as the run starts (cachestat; 0).
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from functools import cache
from typing import Any

from streambench.harness.measure.report import SectionFigures

SCHEMA_VERSION = 14
OUTCOMES = ("ok", "error", "oom", "timeout", "crashed")


@dataclass(frozen=True, kw_only=True)
class Record(SectionFigures):
    """One measured run of one cell. The section's own figures are :class:`SectionFigures`'."""

    # identity
    run_id: str = ""
    cell_id: str
    repeat: int
    warmup: bool
    # the cell
    strategy: str = "?"
    workload: str = "?"
    size_bytes: int = 0
    seed: int = 0
    sink: str = "?"
    chunk_bytes: int = 0
    cache: str = "warm"
    dest: str = "-"
    transform: str = "none"
    consumer_rate_bps: int = 0
    high_water_mark_bytes: int = 0
    clients: int = 0
    view_bytes: int = 0
    http_route: str = "file"
    cell_runtime: str = ""  # the runtime the cell named; "": its strategy's default
    # outcome
    outcome: str
    error: str | None = None
    # CPU of the whole measured process from os.wait4 (the section's own: strategy_user_s, ...); a
    # Python worker forked by the forkserver counts from its fork, without the interpreter's start-up
    user_s: float | None = None
    sys_s: float | None = None
    ttfb_s: float | None = None
    sink_last_byte_s: float | None = None
    # anon/file peaks: the parent's samples of /proc/<pid>/status in the section and what the
    # process saw itself (a lower bound; peak_rss_bytes, VmHWM, is exact)
    peak_rss_anon_bytes: int | None = None
    peak_rss_file_bytes: int | None = None
    peak_rss_method: str = ""
    memory_limit_bytes: int = 0
    memory_limit_method: str = "none"
    # --disk-read-rate: the measured process's reads from the workload's device limited (0: not)
    disk_read_bps: int = 0
    disk_read_method: str = "none"
    rss_sample_interval_s: float = 0.01
    rss_timeline: list[list[float]] = field(default_factory=list)  # [t_s since start, anon, file]
    # bytes
    bytes_received: int | None = None
    verified: bool | None = None  # None: nobody could check (a pytest-benchmark import)
    verify_detail: str = ""
    verified_by: str = ""  # what the bytes were checked against (the workload's xxh3-64, a reference, ...)
    sink_detail: dict[str, Any] = field(default_factory=dict)
    # cache state: asked, made, measured, consistent
    resident_bytes_before: int | None = None
    resident_method: str = ""
    cache_method: str = ""
    cache_state_ok: bool | None = None
    # context: run_total_s is the harness's whole time for this run (set-up, start, run,
    # verification); run_total_s - wall_s is its fixed cost
    started_at_utc: str = ""
    run_total_s: float | None = None
    # A profiler pass ("memory", "cpu", "cpu-flamegraph") or None for a timed run;
    # profiled records never enter timing statistics.
    profiler: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    profile_artifacts: dict[str, str] = field(default_factory=dict)  # relative to the run dir
    profile_overhead: float | None = None  # profiled wall_s / median unprofiled wall_s of the cell
    profile_error: str | None = None
    # sub-records by subject (see the schema history)
    http: dict[str, Any] = field(default_factory=dict)
    s3: dict[str, Any] = field(default_factory=dict)
    browser: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    user_code: dict[str, Any] = field(default_factory=dict)
    leftover_processes: int = 0
    # The machine around the run (harness.machine.provenance.noise), and the machine itself.
    noise: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    cpu_placement: dict[str, list[int]] = field(default_factory=dict)
    runtime: str = "python"
    runtime_version: str | None = None
    delivered_timeline: list[list[float]] = field(default_factory=list)  # [t_s at slice end, bytes]
    delivered_slice_s: float | None = None
    workload_records: int | None = None
    # The stream doctor's reading (harness.results.diagnosis): bound, fault, sentence, findings.
    diagnosis: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        # Every field is JSON-shaped (no nested dataclass), so a plain copy does what asdict did at a
        # fifth of its cost: asdict deep-copied each timeline point through its generic path, and
        # that was a third of a report's rendering.
        return {name: _copied(getattr(self, name)) for name in _field_names()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Record:
        """A stored record (of any schema) as a Record: upgraded, and every value of its field's type
        (a number that is not one, from a hand-edited or hostile file, is None or the default)."""
        values = upgrade(raw)
        kept: dict[str, Any] = {}
        for name, (kind, optional, default) in _field_kinds().items():
            if name in values:
                kept[name] = _coerce(values[name], kind, optional, default)
            elif default is MISSING:
                kept[name] = kind()  # the store checks the keys that matter before it gets here
        record = cls(**kept)
        if not record.diagnosis:  # a record from before the doctor (schema < 12): read it now
            from streambench.harness.results.diagnosis import diagnose

            record = replace(record, diagnosis=diagnose(record).to_dict())
        return record


@cache
def _field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Record))


def _copied(value: Any) -> Any:
    """A JSON-shaped value with its own lists and dicts (a caller may change what it is given)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copied(v) for v in value]
    return value


def upgrade(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An older record's keys as this schema's (the one place old schemas are read)."""
    values = dict(raw)
    old = values.get("schema_version")
    if isinstance(old, int) and old >= SCHEMA_VERSION:
        return values
    http = values.get("http") if isinstance(values.get("http"), Mapping) else {}
    assert isinstance(http, Mapping)
    # The cell's viewers and route were kept in ``http`` before 10.
    for name, key in (("clients", "clients"), ("view_bytes", "view_bytes"), ("http_route", "route")):
        if values.get(name) is None and http.get(key) is not None:
            values[name] = http[key]
    if http.get("route") == "s3-upload":
        values["s3"], values["http"] = dict(http), {}
    elif values.get("sink") == "browser":
        values["browser"], values["http"] = dict(http), {}
    if values.get("worker"):
        values["cluster"] = {"dask_worker": values.pop("worker")}
    profiles = values.pop("profiles", None)
    if isinstance(profiles, Mapping) and not values.get("profile_artifacts"):
        # Before profiler passes had records of their own, a record listed them all (kind -> name -> path).
        values["profile_artifacts"] = {
            f"{kind}/{name}": str(path)
            for kind, paths in profiles.items()
            if isinstance(paths, Mapping)
            for name, path in paths.items()
        }
    values["schema_version"] = SCHEMA_VERSION
    return values


@cache
def _field_kinds() -> dict[str, tuple[type, bool, Any]]:
    """Per field: its base type, whether None is allowed, and its default (MISSING: required)."""
    hints = typing.get_type_hints(Record)
    out: dict[str, tuple[type, bool, Any]] = {}
    for f in fields(Record):
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = isinstance(hint, types.UnionType) and type(None) in args
        base = next((a for a in args if a is not type(None)), hint) if optional else hint
        kind = typing.get_origin(base) or base
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        out[f.name] = (kind, optional, default)
    return out


def _coerce(value: Any, kind: type, optional: bool, default: Any) -> Any:
    # A required field's fallback is its type's empty value (the store checks the keys that matter).
    fallback = None if optional else kind() if default is MISSING else default
    if value is None:
        return fallback
    if kind is bool:
        return value if isinstance(value, bool) else fallback
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return fallback
        if isinstance(value, float) and not math.isfinite(value):
            return fallback
        if kind is float:
            return value
        return int(value) if float(value).is_integer() else fallback
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if kind in (dict, list):
        return value if isinstance(value, kind) else fallback
    return value
