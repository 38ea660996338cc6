"""The runner (parent): planned runs in order, each through its executor, one record per run.

For each planned run it makes a :class:`RunContext` (the workload, what must
arrive, the run's scratch folder), hands it to ``executor_for(cell)``, turns the
measurement into a record with the pure ``to_record`` and appends it at once.
After a checksum failure it re-checks the workload itself; profiler passes are
summarised into their records. Runs come interleaved from the plan
(A B C A B C ...); warm-ups first, marked, and out of statistics.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from streambench.harness import runtimes
from streambench.harness.common.errors import UsageError
from streambench.harness.common.lifeline import kill_group
from streambench.harness.execute.context import RunContext
from streambench.harness.execute.executors import ExecutorFactory, close_kept, executor_for
from streambench.harness.execute.expected import Expected, expected_for
from streambench.harness.execute.measurement import Measurement
from streambench.harness.execute.recording import RunFacts, to_record
from streambench.harness.execute.user_code import user_code_of
from streambench.harness.machine.info import machine_identity
from streambench.harness.machine.provenance import CpuTicks, noise
from streambench.harness.measure import profilers
from streambench.harness.plan.config import Cell, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.results.record import Record
from streambench.harness.results.store import ResultStore
from streambench.harness.sinks.handles import remove_scratch, scratch_dir
from streambench.workloads import cache
from streambench.workloads.cache import Workload, WorkloadSpec


class WorkloadChanged(UsageError):
    """A user's workload file changed during the session: it stops (exit 2), every record kept."""


@dataclass
class RunEvents:
    """Callbacks the CLI uses for progress; the runner itself prints nothing."""

    on_start: Callable[[PlannedRun, int, int], None] = lambda run, index, total: None
    on_record: Callable[[Record], None] = lambda record: None
    on_message: Callable[[str], None] = lambda text: None


class Runner:
    """The local engine: planned runs one after the other, each through its cell's executor."""

    def __init__(
        self,
        config: RunConfig,
        store: ResultStore,
        workloads: dict[Any, Workload],
        events: RunEvents | None = None,
        executors: ExecutorFactory = executor_for,
    ) -> None:
        self.config = config
        self.store = store
        self.run_id = store.run_dir.name
        self.workloads = workloads
        self.events = events or RunEvents()
        self.executors = executors
        self._current: RunContext | None = None
        # This run's own scratch destinations (never another folder's files).
        self.scratch_dir = scratch_dir(config.data_dir, self.run_id)
        self._expected: dict[tuple[WorkloadSpec, str], Expected] = {}
        # The Dask worker that runs this runner, when one does (its records say so).
        self.cluster: dict[str, Any] = {}
        # Measured (non-warm-up, ok) wall times per cell, for each profiler's overhead.
        self._walls: dict[str, list[float]] = {}

    def run(self, planned: list[PlannedRun]) -> list[Record]:
        records: list[Record] = []
        self.check_user_files()
        for index, run in enumerate(planned):
            self.events.on_start(run, index, len(planned))
            record = self.checked_run(run)
            self.store.append(record)  # appended the moment it exists
            records.append(record)
            self.events.on_record(record)
            self.check_user_files()
        return records

    def check_user_files(self) -> None:
        """A user's workload file that changed stops the session (exit 2); every record so far is kept."""
        for workload in self.workloads.values():
            why = cache.user_file_changed(workload)
            if why is not None:
                raise WorkloadChanged(
                    f"workload {workload.spec.name} changed during the run ({why}): the runs measured "
                    f"before are kept in {self.store.run_dir}, no more were started"
                )

    def lost(self, run: PlannedRun, who: str, why: str, cluster: dict[str, Any]) -> Record:
        """The record of a run that left none where it ran (its cluster worker died): crashed, and why."""
        ctx = self._context(run)
        ctx.close()
        measurement = Measurement(report=None, who=who, returncode=None, stderr_tail=why)
        return to_record(ctx, measurement, RunFacts(self.run_id, 0.0, cluster=cluster))

    def checked_run(self, run: PlannedRun) -> Record:
        """One planned run, its workload re-checked after a checksum failure (not yet appended)."""
        return self._checked(self.run_one(run))

    def finish(self) -> None:
        """Once the session is done: this runner's scratch destinations go, nothing else, and what the
        executors kept for the session (one Chromium for every browser run) is closed."""
        remove_scratch(self.scratch_dir)
        close_kept()

    def _checked(self, record: Record) -> Record:
        """After a checksum failure, re-check the workload itself; a corrupt one is made anew.

        The cache trusts a file by its size; a flipped byte would otherwise fail
        every later run. The failed record stays, saying what was found.
        """
        if record.verified or record.transform != "none" or record.bytes_received != record.size_bytes:
            return record
        spec = next((s for s in self.workloads if s.file_stem() == self._stem(record)), None)
        if spec is None or spec.is_user_file:
            return record  # a user's file is never regenerated (check_user_files says it changed)
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
        return WorkloadSpec.named(record.workload, record.size_bytes, record.seed).file_stem()

    def _context(self, run: PlannedRun) -> RunContext:
        cell = run.cell
        workload, expected = self.workloads[cell.workload], self.expected(cell)
        return RunContext(run, self.config, workload, expected, self.scratch_dir, run_dir=self.store.run_dir)

    def run_one(self, run: PlannedRun) -> Record:
        """One planned run through its executor; the record is made, once, from what it measured."""
        cell = run.cell
        ctx = self._context(run)
        runtime = runtimes.for_cell(cell, self.config.plugins)
        why_not = self._why_not(run, runtime)
        if run.profiler is not None and why_not is None:
            ctx.profile_dir = profilers.profiles_dir(self.store.run_dir, cell.cell_id)
            ctx.profile_dir.mkdir(parents=True, exist_ok=True)
        # The user's code as it is run (its sha256 now, not after a change during the run).
        user_code = user_code_of(cell, ctx.workload, self.config)
        self._current = ctx
        before = CpuTicks.now()
        try:
            measurement = Measurement.not_run(why_not) if why_not else self.executors(cell).run(run, ctx)
        finally:
            self._current = None
            ctx.close()
        facts = RunFacts(
            self.run_id,
            time.monotonic() - ctx.started_at,
            noise=noise(before, CpuTicks.now()),
            machine=machine_identity(),
            cluster=dict(self.cluster),
            user_code=user_code,
        )
        if run.profiler is not None and why_not is None:
            facts = self._profiled(run, measurement, ctx, facts, runtime)
        record = to_record(ctx, measurement, facts)
        if run.profiler is None and not run.warmup and record.outcome == "ok" and record.wall_s is not None:
            self._walls.setdefault(cell.cell_id, []).append(record.wall_s)
        return record

    def _why_not(self, run: PlannedRun, runtime: runtimes.Runtime) -> str | None:
        """Why a profiler pass cannot run here (its runtime's profiler is missing), else None."""
        if run.profiler is None:
            return None
        why = runtime.profiler_unavailable(run.profiler.split("-")[0])
        return None if why is None else f"profiler unavailable: {why}"

    def _profiled(
        self, run: PlannedRun, m: Measurement, ctx: RunContext, facts: RunFacts, runtime: runtimes.Runtime
    ) -> RunFacts:
        """A profiler pass's summary (its runtime's), and its overhead; a profiler's failure is said."""
        assert run.profiler is not None and ctx.profile_dir is not None
        if m.report is None or m.report.outcome != "ok":
            return facts  # to_record says the profiled run failed, and why
        walls = self._walls.get(run.cell.cell_id)
        wall = m.report.wall_s
        overhead = wall / statistics.median(walls) if walls and wall else None
        try:
            summary, artifacts = runtime.summarize_profile(run.profiler, ctx.profile_dir, self.store.run_dir)
        except Exception as exc:  # a broken artifact must not stop the matrix
            return replace(facts, profile_overhead=overhead, profile_error=f"{type(exc).__name__}: {exc}")
        summary_path = ctx.profile_dir / "summary.json"
        merged: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        if run.profiler == "cpu-flamegraph" and "cpu" in merged and summary.get("active_samples"):
            # Same code, same rate: on-CPU samples over all samples is the share not waiting.
            summary["active_share"] = min(1.0, summary["active_samples"] / max(1, merged["cpu"]["samples"]))
        merged[run.profiler] = {**summary, "artifacts": artifacts, "overhead": overhead}
        summary_path.write_text(json.dumps(merged, indent=2))
        return replace(facts, profile=summary, profile_artifacts=artifacts, profile_overhead=overhead)

    def expected(self, cell: Cell) -> Expected:
        key = (cell.workload, cell.transform)
        if key not in self._expected:
            self._expected[key] = expected_for(
                self.workloads[cell.workload], cell.transform, self.config.data_dir
            )
        return self._expected[key]

    def kill_current(self) -> None:
        """On Ctrl-C: stop the running measured process at once, with its whole group."""
        ctx = self._current
        if ctx is not None and ctx.measured_pid is not None:
            kill_group(ctx.measured_pid, timeout_s=0.0)
