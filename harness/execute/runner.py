"""The runner (parent): one worker process per measured run, one record per run.

For each planned run it prepares the cache state and the sink, starts a fresh
worker, samples the worker's RSS from /proc while it runs, reaps it with
``os.wait4`` (that child's CPU alone), collects what the sink received, checks
it against the workload's manifest and appends the record at once.
Runs are interleaved across cells (A B C A B C ...) so machine drift spreads
evenly over them; warm-up runs go first, are marked, and stay out of statistics.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.common.lifeline import PARENT_PID_ENV, kill_group
from harness.common.units import format_bytes
from harness.execute.expected import Expected, expected_for
from harness.measure import profilers
from harness.measure.limits import MemoryCap
from harness.measure.probes import drop_all_caches, make_cold, make_warm, read_status, resident_bytes
from harness.plan.config import Cell, RunConfig
from harness.results.record import Record
from harness.results.store import ResultStore
from harness.sinks.handles import ConsumerSink, FileSink, Received, dest_path_for, remove_scratch, scratch_dir
from workloads import cache
from workloads.cache import Workload, WorkloadSpec

# Residency that contradicts the asked cache state by more than this share
# flags the record (cache_state_ok = False).
RESIDENCY_TOLERANCE = 0.02
# At most this many points of RSS timeline are kept per record.
TIMELINE_MAX_POINTS = 600
STDERR_TAIL_BYTES = 2000


@dataclass(frozen=True)
class PlannedRun:
    cell: Cell
    repeat: int
    warmup: bool
    # A profiler pass ("memory", "cpu", "cpu-flamegraph"), never a timed run.
    profiler: str | None = None

    @property
    def key(self) -> tuple[str, int, bool, str | None]:
        return (self.cell.cell_id, self.repeat, self.warmup, self.profiler)


def plan_runs(
    cells: list[Cell], repeat: int, warmup: int, profile_kinds: tuple[str, ...] = ()
) -> list[PlannedRun]:
    """Warm-up rounds first, then measured rounds (each visits every cell once), then profiler passes."""
    planned = [PlannedRun(c, w, True) for w in range(warmup) for c in cells]
    planned += [PlannedRun(c, r, False) for r in range(repeat) for c in cells]
    for kind in profile_kinds:
        planned += [PlannedRun(c, 0, False, p) for p in profilers.PASSES[kind] for c in cells]
    return planned


@dataclass
class RunEvents:
    """Callbacks the CLI uses for progress; the runner itself prints nothing."""

    on_start: Callable[[PlannedRun, int, int], None] = lambda run, index, total: None
    on_record: Callable[[Record], None] = lambda record: None
    on_message: Callable[[str], None] = lambda text: None


@dataclass
class _Watch:
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    result_bytes: bytes = b""
    timed_out: bool = False
    over_cap: bool = False  # the watchdog killed it (where no cgroup could be made)
    wait_status: int = 0
    rusage: Any = None


def _watch_worker(
    pid: int, result_fd: int, timeout_s: float, interval_s: float, cap: MemoryCap | None = None
) -> _Watch:
    """Sample RSS every ``interval_s`` until the worker exits (or times out), then reap it."""
    watch = _Watch()
    pidfd = os.pidfd_open(pid)
    os.set_blocking(result_fd, False)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(result_fd, select.POLLIN)
    result_open = True
    deadline = time.monotonic() + timeout_s
    exited = False
    try:
        while not exited:
            now = time.monotonic()
            status = read_status(pid)
            if "RssAnon" in status:
                watch.samples.append((now, status["RssAnon"], status.get("RssFile", 0)))
                if cap is not None and cap.exceeded(status.get("VmRSS", 0)):
                    watch.over_cap = True
                    os.killpg(pid, signal.SIGKILL)  # the worker and whatever it started
                    break
            if now > deadline:
                watch.timed_out = True
                os.killpg(pid, signal.SIGKILL)
                break
            for fd, _ in poller.poll(interval_s * 1000):
                if fd == pidfd:
                    exited = True
                elif fd == result_fd and result_open:
                    chunk = os.read(result_fd, 1 << 16)
                    if chunk:
                        watch.result_bytes += chunk
                    else:
                        poller.unregister(result_fd)
                        result_open = False
        _, watch.wait_status, watch.rusage = os.wait4(pid, 0)
        if result_open:
            os.set_blocking(result_fd, True)
            while chunk := os.read(result_fd, 1 << 16):
                watch.result_bytes += chunk
    finally:
        os.close(pidfd)
    return watch


def _timeline(samples: list[tuple[float, int, int]], started_at: float, ended_at: float) -> list[list[float]]:
    margin_s = 0.05
    window = [s for s in samples if started_at - margin_s <= s[0] <= ended_at + margin_s]
    stride = max(1, -(-len(window) // TIMELINE_MAX_POINTS))
    return [[round(t - started_at, 4), float(a), float(f)] for t, a, f in window[::stride]]


class Runner:
    def __init__(
        self,
        config: RunConfig,
        store: ResultStore,
        run_id: str,
        workloads: dict[Any, Workload],
        events: RunEvents | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.run_id = run_id
        self.workloads = workloads
        self.events = events or RunEvents()
        self._worker: subprocess.Popen[bytes] | None = None
        # This run's own scratch destinations (never another folder's files).
        self.scratch_dir = scratch_dir(config.data_dir, run_id)
        self._expected: dict[tuple[WorkloadSpec, str], Expected] = {}
        self._cap_method = "none"
        self._cache_method = "not made"
        self.unavailable_profilers: dict[str, str] = {}
        self.profile_rate_hz = 100
        # Measured (non-warm-up, ok) wall times per cell, for each profiler's overhead.
        self._walls: dict[str, list[float]] = {}

    def run(self, planned: list[PlannedRun]) -> list[Record]:
        records: list[Record] = []
        for index, run in enumerate(planned):
            self.events.on_start(run, index, len(planned))
            record = self._checked(self.run_one(run))
            self.store.append(record)  # appended the moment it exists
            records.append(record)
            self.events.on_record(record)
        return records

    def remove_scratch(self) -> None:
        """Once the session is done: this runner's scratch destinations go, nothing else."""
        remove_scratch(self.scratch_dir)

    def _checked(self, record: Record) -> Record:
        """After a checksum failure, re-check the workload itself; a corrupt one is made anew.

        The cache trusts a file by its size; a flipped byte would otherwise fail
        every later run. The failed record stays, saying what was found.
        """
        if record.verified or record.transform != "none" or record.bytes_received != record.size_bytes:
            return record
        spec = next((s for s in self.workloads if s.file_stem() == self._stem(record)), None)
        if spec is None:
            return record
        workload = self.workloads[spec]
        digest = cache.file_checksum(workload.path)
        if digest == workload.manifest.xxh3_64:
            return record
        self.events.on_message(
            f"workload {workload.path.name} no longer matches its manifest (xxh3 {digest}, manifest "
            f"{workload.manifest.xxh3_64}): regenerating it before the next run"
        )
        self.workloads[spec] = cache.generate(spec, self.config.data_dir)
        cache.flush(self.workloads[spec].path)
        self._expected = {k: v for k, v in self._expected.items() if k[0] != spec}
        return replace(
            record, verify_detail=record.verify_detail + "; the workload file was corrupt and was regenerated"
        )

    def _stem(self, record: Record) -> str:
        return WorkloadSpec(record.workload, record.size_bytes, record.seed).file_stem()

    def _prepare_cache(self, cell: Cell, path: Path) -> tuple[int | None, str, bool | None]:
        """Make the asked cache state, then measure it; the record gets both, and how."""
        if cell.cache == "cold":
            make_cold(path)
            self._cache_method = "fdatasync + FADV_DONTNEED"
            if self.config.drop_caches:
                allowed = drop_all_caches()
                self._cache_method += " + drop_caches" if allowed else " (drop_caches not permitted)"
        elif resident_bytes(path)[0] < cell.workload.size_bytes:
            make_warm(path)  # read it only when some of it is not in the page cache yet
            self._cache_method = "read the file"
        else:
            self._cache_method = "already resident"
        resident, method = resident_bytes(path)
        size = cell.workload.size_bytes
        tolerance = RESIDENCY_TOLERANCE * max(size, 1)
        ok = resident >= size - tolerance if cell.cache == "warm" else resident <= tolerance
        return resident, method, ok

    def run_one(self, run: PlannedRun) -> Record:
        cell = run.cell
        run_started_at = time.monotonic()
        workload = self.workloads[cell.workload]
        started_at_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        expected = self.expected(cell)
        if cell.sink == "http":
            return self._run_http(run, workload, expected, started_at_utc, run_started_at)
        profile_dir: Path | None = None
        if run.profiler is not None:
            kind = run.profiler.split("-")[0]
            if kind in self.unavailable_profilers:
                return self._not_run(
                    run,
                    workload,
                    expected,
                    started_at_utc,
                    run_started_at,
                    f"profiler unavailable: {self.unavailable_profilers[kind]}",
                )
            profile_dir = profilers.profiles_dir(self.store.run_dir, cell.cell_id)
            profile_dir.mkdir(parents=True, exist_ok=True)
        sink: ConsumerSink | FileSink
        try:
            if cell.sink in ("null", "tcp"):
                sink = ConsumerSink(cell.sink, cell.consumer_rate_bps, self.config.consumer_close_after_bytes)
            else:
                dest = dest_path_for(self.scratch_dir, workload.manifest.size_bytes)
                sink = FileSink(dest, workload.manifest.size_bytes, cell.dest)
        except OSError as exc:  # a full disk, a planted symlink: this run cannot happen, the next may
            why = f"sink set-up failed: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}"
            return self._error_record(
                run, workload, expected, why.rstrip(": "), started_at_utc, run_started_at
            )
        # Cache state last, right before the worker starts: nothing may disturb it.
        resident, method, cache_ok = self._prepare_cache(cell, workload.path)
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        job = {
            "strategy": cell.strategy,
            "source_path": str(workload.path),
            "size_bytes": workload.manifest.size_bytes,
            "sink": cell.sink,
            "sink_fd": sink.child_fd,
            "result_fd": result_w,
            "chunk_bytes": cell.chunk_bytes,
            "high_water_mark_bytes": cell.high_water_mark_bytes,
            "transform": cell.transform,
            "plugins": self.config.plugins,
        }
        env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid())})
        cap = (
            MemoryCap(self.config.memory_limit_bytes, f"streambench-{os.getpid()}")
            if (self.config.memory_limit_bytes)
            else None
        )
        job["cgroup_procs"] = str(cap.procs_path) if cap and cap.procs_path else None
        argv = [sys.executable, "-m", "harness.worker"]
        if run.profiler == "memory" and profile_dir is not None:
            capture = profilers.memray_capture_path(profile_dir)
            capture.unlink(missing_ok=True)  # memray never overwrites a capture
            job["memray_path"] = str(capture)
        argv.append(json.dumps(job))
        if run.profiler is not None and profile_dir is not None:
            argv = profilers.worker_argv(run.profiler, argv, profile_dir, cell.strategy, self.profile_rate_hz)
            if argv[0] != sys.executable:
                # Under py-spy the worker's parent is py-spy: it dies with py-spy,
                # and py-spy is what kill_current and the timeout kill.
                env[PARENT_PID_ENV] = ""
        with tempfile.TemporaryFile() as stderr_file:
            try:
                # Its own process group: whatever the worker starts (cat, dd)
                # is killed with it and found if it outlives it.
                worker = subprocess.Popen(
                    argv,
                    pass_fds=(sink.child_fd, result_w),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr_file,
                    env=env,
                    process_group=0,
                )
                self._worker = worker
                self._cap_method = cap.method if cap is not None else "none"
                os.close(result_w)
                result_w = -1
                sink.release_child_fd()
                watch = _watch_worker(
                    worker.pid, result_r, self.config.timeout_s, self.config.rss_sample_interval_s, cap
                )
                watch.over_cap = watch.over_cap or (cap is not None and cap.oom_killed())
                worker.returncode = os.waitstatus_to_exitcode(watch.wait_status)
                # Nothing of this run may still run when the next one starts.
                leftovers = kill_group(worker.pid)
                self._worker = None
                try:
                    received = sink.collect(timeout_s=60.0)
                except Exception as exc:  # the sink failed: the record says so
                    sink.abort()
                    received = Received(0, f"sink failed: {type(exc).__name__}: {exc}", None, None)
            except BaseException:
                sink.abort()
                if self._worker is not None:
                    kill_group(self._worker.pid)
                    self._worker = None
                raise
            finally:
                os.close(result_r)
                if result_w >= 0:
                    os.close(result_w)
                if cap is not None:
                    cap.close()
            stderr_file.seek(max(0, stderr_file.seek(0, os.SEEK_END) - STDERR_TAIL_BYTES))
            stderr_tail = stderr_file.read().decode(errors="replace").strip()
        record = self._make_record(
            run,
            workload,
            expected,
            dict(sink.detail),
            watch,
            worker.returncode,
            stderr_tail,
            received,
            resident,
            method,
            cache_ok,
            started_at_utc,
            run_started_at,
        )
        record = replace(record, leftover_processes=leftovers)
        if run.profiler is None:
            if not run.warmup and record.outcome == "ok" and record.wall_s is not None:
                self._walls.setdefault(cell.cell_id, []).append(record.wall_s)
            return record
        assert profile_dir is not None
        return self._with_profile(run, record, profile_dir)

    def _with_profile(self, run: PlannedRun, record: Record, profile_dir: Path) -> Record:
        """Summarise a profiler pass into its record; a profiler's failure is said, not raised."""
        assert run.profiler is not None
        walls = self._walls.get(run.cell.cell_id)
        overhead = (
            record.wall_s / statistics.median(walls)
            if walls and record.wall_s and record.outcome == "ok"
            else None
        )
        if record.outcome != "ok":
            return replace(record, profile_error=f"the profiled run failed: {record.error}")
        try:
            summary, artifacts = profilers.summarize(run.profiler, profile_dir, self.store.run_dir)
        except Exception as exc:  # a broken artifact must not stop the matrix
            return replace(record, profile_overhead=overhead, profile_error=f"{type(exc).__name__}: {exc}")
        summary_path = profile_dir / "summary.json"
        merged: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        if run.profiler == "cpu-flamegraph" and "cpu" in merged and summary.get("active_samples"):
            # Same code, same rate: on-CPU samples over all samples is the share not waiting.
            summary["active_share"] = min(1.0, summary["active_samples"] / max(1, merged["cpu"]["samples"]))
        merged[run.profiler] = {**summary, "artifacts": artifacts, "overhead": overhead}
        summary_path.write_text(json.dumps(merged, indent=2))
        return replace(record, profile=summary, profile_artifacts=artifacts, profile_overhead=overhead)

    def _run_http(
        self,
        run: PlannedRun,
        workload: Workload,
        expected: Expected,
        started_at_utc: str,
        run_started_at: float,
    ) -> Record:
        """A real server and N real clients; the record's memory and CPU are the server's."""
        from harness.execute.executors.http import run_http_cell

        cell = run.cell
        resident, method, cache_ok = self._prepare_cache(cell, workload.path)
        cap = (
            MemoryCap(self.config.memory_limit_bytes, f"streambench-{os.getpid()}")
            if self.config.memory_limit_bytes
            else None
        )
        self._cap_method = cap.method if cap is not None else "none"
        if cell.http_route == "s3-upload":
            return self._run_s3(
                run, workload, expected, cap, resident, method, cache_ok, started_at_utc, run_started_at
            )
        try:
            result = run_http_cell(cell, workload, self.config, cap)
        except Exception as exc:  # the server would not start: say so, go on
            why = f"http run: {type(exc).__name__}: {exc}"
            return self._error_record(run, workload, expected, why, started_at_utc, run_started_at,
                                      resident, method, cache_ok)  # fmt: skip
        finally:
            if cap is not None:
                cap.close()
        server = result.server
        started_at = time.monotonic() - (result.wall_s or 0.0)
        report = {
            "outcome": result.outcome,
            "error": result.error,
            "bytes_moved": result.bytes_received,
            "wall_s": result.wall_s,
            "started_at": started_at,
            "ended_at": started_at + (result.wall_s or 0.0),
            "strategy_user_s": server.get("user_s"),
            "strategy_sys_s": server.get("sys_s"),
            "peak_rss_bytes": server.get("peak_rss_bytes"),
            "peak_rss_reset": server.get("peak_rss_reset"),
            "baseline_rss_bytes": server.get("baseline_rss_bytes"),
            "baseline_rss_anon_bytes": server.get("baseline_rss_anon_bytes"),
            "final_rss_anon_bytes": server.get("peak_rss_anon_bytes"),
            "final_rss_file_bytes": server.get("peak_rss_file_bytes"),
            "max_buffered_bytes": result.http.get("server_max_buffered_bytes"),
            "pauses": result.http.get("server_pauses"),
        }
        record = self._make_record(
            run, workload, expected, {"sndbuf_bytes": result.http.get("sndbuf_bytes")},
            _Watch(result_bytes=json.dumps(report).encode()), 0, "",
            Received(result.bytes_received, "", None, None), resident, method, cache_ok, started_at_utc,
            run_started_at,
        )  # fmt: skip
        return replace(
            record,
            verified=result.verified,
            verify_detail=result.verify_detail,
            ttfb_s=server.get("ttfb_s"),
            http=result.http,
        )

    def _run_s3(
        self,
        run: PlannedRun,
        workload: Workload,
        expected: Expected,
        cap: MemoryCap | None,
        resident: int | None,
        method: str,
        cache_ok: bool | None,
        started_at_utc: str,
        run_started_at: float,
    ) -> Record:
        """An upload to a real S3-compatible server on loopback; the record's memory is the client's."""
        from harness.plan.applicability import S3_METHODS
        from harness.s3.server import run_s3_cell
        from strategies.registry import split_spec

        try:
            r = run_s3_cell(
                S3_METHODS[split_spec(run.cell.strategy)[0]], workload, self.config.timeout_s, cap
            )
        except Exception as exc:  # rclone missing or would not start: say so, go on
            why = f"s3 run: {type(exc).__name__}: {exc}"
            return self._error_record(run, workload, expected, why, started_at_utc, run_started_at,
                                      resident, method, cache_ok)  # fmt: skip
        finally:
            if cap is not None:
                cap.close()
        started_at = time.monotonic() - (r["wall_s"] or 0.0)
        report = {
            **{k: v for k, v in r.items() if k not in ("server", "s3", "verified", "verify_detail")},
            "started_at": started_at,
            "ended_at": started_at + (r["wall_s"] or 0.0),
        }
        record = self._make_record(
            run, workload, expected, {}, _Watch(result_bytes=json.dumps(report).encode()), 0, "",
            Received(int(r["bytes_moved"] or 0), "", None, None), resident, method, cache_ok,
            started_at_utc, run_started_at,
        )  # fmt: skip
        return replace(
            record, verified=bool(r["verified"]), verify_detail=str(r["verify_detail"]),
            http={**r["s3"], "server": r["server"], "route": "s3-upload"},
        )  # fmt: skip

    def _not_run(
        self,
        run: PlannedRun,
        workload: Workload,
        expected: Expected,
        started_at_utc: str,
        run_started_at: float,
        why: str,
    ) -> Record:
        record = self._error_record(run, workload, expected, why, started_at_utc, run_started_at)
        return replace(record, profile_error=why)

    def _error_record(
        self,
        run: PlannedRun,
        workload: Workload,
        expected: Expected,
        why: str,
        started_at_utc: str,
        run_started_at: float,
        resident: int | None = None,
        resident_method: str = "not measured",
        cache_ok: bool | None = None,
    ) -> Record:
        """A record for a run that could not happen (a profiler or a server missing): outcome error, why."""
        report = json.dumps({"outcome": "error", "error": why}).encode()
        return self._make_record(
            run, workload, expected, {}, _Watch(result_bytes=report), 0, "",
            Received(0, "", None, None), resident, resident_method, cache_ok, started_at_utc, run_started_at,
        )  # fmt: skip

    def expected(self, cell: Cell) -> Expected:
        key = (cell.workload, cell.transform)
        if key not in self._expected:
            self._expected[key] = expected_for(
                self.workloads[cell.workload], cell.transform, self.config.data_dir
            )
        return self._expected[key]

    def kill_current(self) -> None:
        """On Ctrl-C: stop the running worker at once (its consumer follows on EOF)."""
        worker = self._worker
        if worker is not None and worker.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)

    def _make_record(
        self,
        run: PlannedRun,
        workload: Workload,
        expected: Expected,
        sink_detail: dict[str, Any],
        watch: _Watch,
        returncode: int,
        stderr_tail: str,
        received: Received,
        resident: int | None,
        resident_method: str,
        cache_ok: bool | None,
        started_at_utc: str,
        run_started_at: float,
    ) -> Record:
        cell = run.cell
        report: dict[str, Any] = {}
        if watch.result_bytes:
            try:
                report = json.loads(watch.result_bytes)
            except json.JSONDecodeError:
                report = {}
        error: str | None
        limit = format_bytes(self.config.memory_limit_bytes)
        cap_method = self._cap_method
        if watch.over_cap:
            outcome, error = "oom", f"killed at the memory cap of {limit} ({cap_method})"
        elif watch.timed_out:
            outcome, error = "timeout", f"killed after {self.config.timeout_s:g} s"
        elif not report:
            outcome = "crashed"
            how = f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
            error = f"worker died ({how}) without a report: {stderr_tail[-500:]}"
        else:
            outcome = str(report["outcome"])
            error = None if report.get("error") is None else str(report["error"])
            if error is not None and error.startswith("MemoryError"):
                outcome = "oom"  # the allocation failed under the cap instead of a kill

        started_at = report.get("started_at")
        ended_at = report.get("ended_at")
        anon_peak = file_peak = None
        timeline: list[list[float]] = []
        if started_at is not None and ended_at is not None:
            window = [s for s in watch.samples if started_at <= s[0] <= ended_at]
            anon_values = [s[1] for s in window] + [
                v for v in (report.get("baseline_rss_anon_bytes"), report.get("final_rss_anon_bytes")) if v
            ]
            file_values = [s[2] for s in window] + [
                v for v in (report.get("baseline_rss_file_bytes"), report.get("final_rss_file_bytes")) if v
            ]
            anon_peak = max(anon_values) if anon_values else None
            file_peak = max(file_values) if file_values else None
            timeline = _timeline(watch.samples, started_at, ended_at)

        size_bytes = workload.manifest.size_bytes
        moved = int(report.get("bytes_moved") or 0)
        notes = dict(report.get("strategy_notes") or {})
        what = "the workload's" if cell.transform == "none" else f"the {cell.transform} reference's"
        # Each check: (passed, what to say when it did not).
        checks = [
            (outcome == "ok", f"outcome {outcome}"),
            (
                received.bytes_received == expected.size_bytes,
                f"sink received {received.bytes_received} of {expected.size_bytes} bytes",
            ),
            (
                received.xxh3_64 == expected.xxh3_64,
                f"sink checksum {received.xxh3_64} differs from {what} {expected.xxh3_64}",
            ),
            (moved == size_bytes, f"strategy reports {moved} of {size_bytes} bytes moved"),
        ]
        if expected.sha256 is not None:
            checks.append((notes.get("sha256") == expected.sha256, f"sha256 {notes.get('sha256')} is wrong"))
        failed = [why for ok, why in checks if not ok]
        verified = not failed
        verify_detail = "size and xxh3-64 match" if verified else "; ".join(failed)

        def since_start(t: float | None) -> float | None:
            return None if t is None or started_at is None else t - started_at

        ru = watch.rusage
        return Record(
            run_id=self.run_id,
            cell_id=cell.cell_id,
            repeat=run.repeat,
            warmup=run.warmup,
            strategy=cell.strategy,
            workload=cell.workload.kind,
            size_bytes=size_bytes,
            seed=cell.workload.seed,
            sink=cell.sink,
            chunk_bytes=cell.chunk_bytes,
            cache=cell.cache,
            dest=cell.dest,
            transform=cell.transform,
            consumer_rate_bps=cell.consumer_rate_bps,
            high_water_mark_bytes=cell.high_water_mark_bytes,
            outcome=outcome,
            error=error,
            wall_s=report.get("wall_s"),
            user_s=ru.ru_utime if ru is not None else None,
            sys_s=ru.ru_stime if ru is not None else None,
            strategy_user_s=report.get("strategy_user_s"),
            strategy_sys_s=report.get("strategy_sys_s"),
            strategy_major_faults=report.get("strategy_major_faults"),
            strategy_minor_faults=report.get("strategy_minor_faults"),
            strategy_inblock=report.get("strategy_inblock"),
            strategy_oublock=report.get("strategy_oublock"),
            strategy_voluntary_ctx_switches=report.get("strategy_voluntary_ctx_switches"),
            strategy_involuntary_ctx_switches=report.get("strategy_involuntary_ctx_switches"),
            ttfb_s=since_start(received.first_byte_at),
            sink_last_byte_s=since_start(received.last_byte_at),
            peak_rss_bytes=report.get("peak_rss_bytes"),
            baseline_rss_bytes=report.get("baseline_rss_bytes"),
            peak_rss_anon_bytes=anon_peak,
            peak_rss_file_bytes=file_peak,
            baseline_rss_anon_bytes=report.get("baseline_rss_anon_bytes"),
            baseline_rss_file_bytes=report.get("baseline_rss_file_bytes"),
            peak_rss_method=(
                "VmHWM after clear_refs" if report.get("peak_rss_reset") else "VmHWM (no reset!)"
            ),
            rss_sample_interval_s=self.config.rss_sample_interval_s,
            memory_limit_bytes=self.config.memory_limit_bytes,
            memory_limit_method=cap_method,
            rss_timeline=timeline,
            bytes_moved=moved,
            bytes_received=received.bytes_received,
            verified=verified,
            verify_detail=verify_detail,
            io=dict(report.get("io") or {}),
            chunks=int(report.get("chunks") or 0),
            largest_chunk_bytes=int(report.get("largest_chunk_bytes") or 0),
            observed_read_chunk_bytes=report.get("observed_read_chunk_bytes"),
            observed_write_chunk_bytes=report.get("observed_write_chunk_bytes"),
            pauses=report.get("pauses"),
            drains=report.get("drains"),
            max_buffered_bytes=report.get("max_buffered_bytes"),
            buffered_timeline=list(report.get("buffered_timeline") or []),
            sink_detail=sink_detail,
            resident_bytes_before=resident,
            resident_method=resident_method,
            cache_method=self._cache_method,
            cache_state_ok=cache_ok,
            started_at_utc=started_at_utc,
            run_total_s=time.monotonic() - run_started_at,
            strategy_notes=notes,
            profiler=run.profiler,
        )
