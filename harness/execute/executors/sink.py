"""The sink executor: null, tcp and file cells, one fresh measured worker per run, in any runtime.

The sink is set up first, the cache state last (nothing may disturb it), then the cell's runtime
starts its worker (``python -m harness.worker JOB``, ``node harness/node/worker.mjs JOB``, ...) in
its own process group with the sink's fd and a result pipe; the parent watches it (RSS samples,
deadline, cap), reaps it, empties its process group, and collects what the far end received.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from typing import IO, Any

from streambench.harness.common.forkserver import Reap, forkserver
from streambench.harness.common.lifeline import PARENT_PID_ENV, kill_group
from streambench.harness.execute.context import RunContext
from streambench.harness.execute.expected import Expected
from streambench.harness.execute.measurement import MeasuredReport, Measurement
from streambench.harness.measure.disk_throttle import DiskThrottle
from streambench.harness.measure.limits import MemoryCap
from streambench.harness.measure.watch import Watch, watch
from streambench.harness.plan.config import Placement
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.runtimes import Runtime, WorkerCommand
from streambench.harness.sinks.handles import Received, Sink, SinkFactory

STDERR_TAIL_BYTES = 2000


def place(pin: Placement | None, worker_pid: int, far_end_pid: int | None) -> dict[str, list[int]]:
    """Pin the worker (what it starts later inherits it) and its far end; say where each runs."""
    if pin is None:
        return {}
    with contextlib.suppress(OSError):  # it may already have ended
        os.sched_setaffinity(worker_pid, pin.worker)
    placed = {"worker": list(pin.worker), "parent": sorted(os.sched_getaffinity(0))}
    if far_end_pid is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(far_end_pid, pin.far_end)
            placed["far_end"] = list(pin.far_end)
    return placed


class SinkExecutor:
    """A fresh measured worker of the cell's runtime per run, writing into the cell's sink."""

    def __init__(self, runtime: Runtime, open_sink: SinkFactory) -> None:
        self.runtime = runtime
        self.open_sink = open_sink

    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        pin = ctx.config.pin
        if pin is None:
            return self._run(planned, ctx)
        # The harness (its watcher samples the worker) sits on the parent's cores for this run
        # only: an HTTP or browser run's processes, which inherit our affinity, stay unpinned.
        affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, pin.parent)
        try:
            return self._run(planned, ctx)
        finally:
            os.sched_setaffinity(0, affinity)

    def _run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        cell, workload = planned.cell, ctx.workload
        decode = self.runtime.far_end_decodes(cell)
        if decode is not None:
            # What arrives is decoded at the far end: it must be the workload itself.
            method = f"the far end's {decode}-decoded bytes against the workload's own xxh3-64"
            ctx.expected = Expected(workload.manifest.size_bytes, workload.manifest.xxh3_64, method=method)
        try:
            # An existing destination has the size the run will write (a transform's
            # output is smaller or larger than the workload), so no stale tail stays.
            sink = self.open_sink(
                cell, ctx.scratch_dir, ctx.expected.size_bytes, ctx.config.consumer_close_after_bytes, decode
            )
        except OSError as exc:  # a full disk, a planted symlink: this run cannot happen, the next may
            why = f"sink set-up failed: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}"
            return Measurement.not_run(why.rstrip(": "))
        # Cache state last, right before the worker starts: nothing may disturb it.
        ctx.make_cache_state()
        cap = ctx.memory_cap()
        with tempfile.TemporaryFile() as stderr_file:
            seen, returncode, leftovers, received = self._watched(planned, ctx, sink, cap, stderr_file)
            stderr_file.seek(max(0, stderr_file.seek(0, os.SEEK_END) - STDERR_TAIL_BYTES))
            stderr_tail = stderr_file.read().decode(errors="replace").strip()
        ru = seen.rusage
        report = MeasuredReport.from_json(seen.result_bytes)
        notes = report.strategy_notes if report is not None else {}
        return Measurement(
            report=report,
            runtime=self.runtime.name,
            runtime_version=self.runtime.reported_version(notes) or self.runtime.version(),
            who="worker",
            samples=seen.samples,
            user_s=ru.ru_utime if ru is not None else None,
            sys_s=ru.ru_stime if ru is not None else None,
            returncode=returncode,
            stderr_tail=stderr_tail,
            timed_out=seen.timed_out,
            over_cap=seen.over_cap or (cap is not None and cap.oom_killed()),
            received=received,
            sink_detail=dict(sink.detail),
            leftover_processes=leftovers,
        )

    def _job(self, planned: PlannedRun, ctx: RunContext, sink_fd: int, result_fd: int) -> dict[str, Any]:
        """What the worker is told (its runtime's command may add to it)."""
        cell = planned.cell
        return {
            "strategy": cell.strategy,
            "source_path": str(ctx.workload.path),
            "size_bytes": ctx.workload.manifest.size_bytes,
            "sink": cell.sink,
            "sink_fd": sink_fd,
            "result_fd": result_fd,
            "chunk_bytes": cell.chunk_bytes,
            "high_water_mark_bytes": cell.high_water_mark_bytes,
            "transform": cell.transform,
            "plugins": ctx.config.plugins,
            "cgroup_procs": _procs(ctx.memory_cap()),
            # A key of its own (a runtime of one's own reads cgroup_procs as one path); the harness also
            # puts the worker in at start, for a runtime that does not know this key.
            "disk_read_procs": _procs(ctx.disk_throttle()),
        }

    def _watched(
        self, planned: PlannedRun, ctx: RunContext, sink: Sink, cap: MemoryCap | None, stderr: IO[bytes]
    ) -> tuple[Watch, int | None, int, Received]:
        """The worker started, watched, reaped and its group emptied; what the far end received."""
        config = ctx.config
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        command = self.runtime.worker_command(self._job(planned, ctx, sink.child_fd, result_w), planned,
                                              ctx.profile_dir, ctx.profile_rate_hz)  # fmt: skip
        env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid())}, **command.env)
        if command.through:
            # Under py-spy (or setpriv) the worker's parent is that program: the worker dies with
            # it, and it is what kill_current and the timeout kill.
            env[PARENT_PID_ENV] = ""
        reap: Reap | None = None
        try:
            pid, reap = _start_worker(command, env, (sink.child_fd, result_w), stderr)
            ctx.measured_pid = pid
            if ctx.throttle is not None:
                ctx.throttle.join(pid)
            ctx.placement = place(config.pin, pid, sink.far_end_pid)
            os.close(result_w)
            result_w = -1
            sink.release_child_fd()
            seen = watch(pid, config.timeout_s, config.rss_sample_interval_s, cap, result_r, reap=reap)
            # Nothing of this run may still run when the next one starts.
            leftovers = kill_group(pid)
            ctx.measured_pid = None
            try:
                received = sink.collect(timeout_s=60.0)
            except Exception as exc:  # the sink failed: the record says so
                sink.abort()
                received = Received(0, f"sink failed: {type(exc).__name__}: {exc}", None, None)
        except BaseException:
            sink.abort()
            if ctx.measured_pid is not None:
                kill_group(ctx.measured_pid)
                if reap is not None:  # the forkserver's child: reaped there, or it stays a zombie
                    with contextlib.suppress(Exception):
                        reap(ctx.measured_pid)
                ctx.measured_pid = None
            raise
        finally:
            os.close(result_r)
            if result_w >= 0:
                os.close(result_w)
        return seen, seen.returncode, leftovers, received


def _start_worker(
    command: WorkerCommand, env: dict[str, str], fds: tuple[int, int], stderr: IO[bytes]
) -> tuple[int, Reap | None]:
    """The worker started in its own process group with ``fds`` inherited: forked by the forkserver
    when it is a module of ours (then reaped there), else from argv (reaped with ``wait4``).

    Its own process group: whatever the worker starts (cat, dd) is killed with it and found if it
    outlives it."""
    if command.fork_module is not None and not command.through:
        server = forkserver()
        pid = server.spawn_quiet(
            command.fork_module, command.argv[3:], fds, stderr.fileno(), env, new_group=True
        )
        return pid, server.reap
    worker = subprocess.Popen(
        command.argv,
        pass_fds=fds,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
        process_group=0,
    )
    return worker.pid, None


def _procs(group: MemoryCap | DiskThrottle | None) -> str | None:
    """The ``cgroup.procs`` a worker writes its pid to, to be under ``group``."""
    return str(group.procs_path) if group is not None and group.procs_path is not None else None
