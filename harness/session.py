"""A whole run behind plain options and callbacks: plan, start or resume, execute, run.json, report.

The command line (``harness.cli``), the pytest plugin and the benchmarks all drive runs through
here; none of them hands the core an argparse namespace or prints from inside it. What a session
has to tell the user goes through :class:`SessionEvents` (the CLI draws it with rich; tests may
ignore it). What runs each planned run is the options' executor factory (the real executors by
default; a unit test hands in a fake one and runs whole sessions in-process).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol

from streambench.harness import runtimes
from streambench.harness.common.errors import Exit, Terminated, UsageError
from streambench.harness.common.units import format_bytes, parse_rate, parse_seconds, parse_size
from streambench.harness.execute.cluster import ClusterConnection, ClusterSpec
from streambench.harness.execute.executors import ExecutorFactory, executor_for
from streambench.harness.execute.runner import RunEvents, Runner, WorkloadChanged
from streambench.harness.machine.calibrate import ensure_calibrated, load_calibration
from streambench.harness.machine.info import machine_identity, machine_info
from streambench.harness.machine.provenance import provenance
from streambench.harness.measure.limits import default_memory_limit_bytes
from streambench.harness.measure.profilers import PROFILE_KINDS, ProfileSettings
from streambench.harness.plan.applicability import split_runnable
from streambench.harness.plan.config import Cell, RunConfig
from streambench.harness.plan.estimate import Estimate, estimate
from streambench.harness.plan.planning import PlannedRun, plan_runs
from streambench.harness.plan.spec import build_matrix, endpoint_settings, parse_pin
from streambench.harness.results.record import Record
from streambench.harness.results.store import RUN_FILE, ResultStore, load_records, load_run_meta
from streambench.harness.run_report import Written, exit_status, scenario_claims, write_report
from streambench.strategies.registry import load_registry
from streambench.workloads import cache
from streambench.workloads.cache import ProgressFn, WorkloadSpec

# The cap is charged from the moment a worker joins its cgroup (after its imports):
# below this the worker cannot even start its strategy, and every run would end oom.
MIN_MEMORY_LIMIT_BYTES = 8 << 20
# CPU placement when none is asked (--pin). Measured here (pipe and cat into null at 1 GiB, 15
# runs each, pinned and not in alternating blocks): IQR/median 1.3% and 1.2% pinned, 2.1% and 5.5%
# not; the slowest run 2.98 and 3.09 GB/s pinned, 1.18 and 1.63 not (worker and consumer on one
# core); medians within 2%. So the worker and its far end go on different cores by default.
DEFAULT_PIN = "auto"
# A plan beyond either bound is confirmed first (a prompt, or --yes when not interactive).
CONFIRM_RUNS = 2_000
CONFIRM_SECONDS = 4 * 3600
# run.json lists this many skipped cells; the rest are counted.
SKIPPED_LISTED = 200


class SessionRunner(Protocol):
    """What runs a session's planned runs: the local :class:`Runner` or a cluster's."""

    def run(self, planned: list[PlannedRun]) -> list[Record]: ...
    def kill_current(self) -> None: ...
    def finish(self) -> None: ...


@dataclass(frozen=True)
class SessionOptions:
    """Where a run lives and how it behaves; everything else is the matrix spec."""

    out_dir: Path
    data_dir: Path
    plugins: bool = True
    verify_workloads: bool = False
    drop_caches: bool = False
    # Fault injection: the consumer hangs up after this many bytes (0: never).
    consumer_close_after_bytes: int = 0
    dry_run: bool = False
    assume_yes: bool = False
    # None: the local runner; else the Dask cluster the runs go to (harness.execute.cluster).
    cluster: ClusterSpec | None = None
    # What runs each planned run (a test's fake executor; the real ones by default).
    executors: ExecutorFactory = executor_for
    # A first run on a machine measures its limits once (a fake session has no machine to measure).
    calibrate: bool = True


def _no_progress(spec: WorkloadSpec) -> AbstractContextManager[ProgressFn | None]:
    return nullcontext(None)


@dataclass
class SessionEvents:
    """What a session tells its user. Every callback has a silent default."""

    message: Callable[[str, str], None] = lambda text, level: None  # level: info, warn, error
    skipped: Callable[[list[tuple[Cell, str]]], None] = lambda skipped: None
    plan: Callable[[Estimate], None] = lambda plan: None
    # Asked before a plan beyond the bounds; None: nobody can be asked.
    confirm: Callable[[str], bool | None] = lambda question: None
    generating: Callable[[WorkloadSpec], AbstractContextManager[ProgressFn | None]] = _no_progress
    run_started: Callable[[PlannedRun, int, int], None] = lambda run, index, total: None
    record: Callable[[Record], None] = lambda record: None
    # The measured runs' records, once every run is done (the CLI prints a summary).
    finished: Callable[[list[Record]], None] = lambda records: None
    # A scenario run's claims judged: run.json's scenario (name, question) and the verdicts.
    verdicts: Callable[[Mapping[str, Any], list[Any]], None] = lambda scenario, verdicts: None
    # The runner is running: the CLI draws progress inside this.
    executing: Callable[[int], AbstractContextManager[None]] = lambda total: nullcontext()


@dataclass(frozen=True)
class SessionResult:
    exit_code: int
    run_dir: Path | None = None
    report_path: Path | None = None


def profile_settings(kinds: Sequence[str] | str | None, rate: Any) -> ProfileSettings:
    if isinstance(kinds, str):
        kinds = list(PROFILE_KINDS) if kinds == "both" else [k.strip() for k in kinds.split(",") if k.strip()]
    for kind in kinds or ():
        if kind not in PROFILE_KINDS:
            raise UsageError(f"unknown profiler {kind!r}; valid: memory, cpu, both")
    try:
        rate_hz = int(rate) if rate is not None else 100
    except (TypeError, ValueError):
        raise UsageError(
            f"--profile-rate must be a whole number of samples per second, got {rate!r}"
        ) from None
    if not 1 <= rate_hz <= 1000:
        raise UsageError("--profile-rate must be between 1 and 1000 (py-spy slows targets badly above ~100)")
    return ProfileSettings(tuple(kinds or ()), rate_hz)


def build_run_config(spec: Mapping[str, Any], options: SessionOptions, rate_hz: int = 100) -> RunConfig:
    """The one config object of a run: the matrix a spec describes plus where and how it runs."""
    matrix = build_matrix(spec, load_registry(plugins=options.plugins))
    memory_limit = spec.get("memory_limit")
    memory_limit_bytes = (
        parse_size(str(memory_limit)) if memory_limit is not None else default_memory_limit_bytes()
    )
    if 0 < memory_limit_bytes < MIN_MEMORY_LIMIT_BYTES:
        raise UsageError(
            f"memory limit {format_bytes(memory_limit_bytes)} is too small for a worker to start its "
            f"strategy (every run would end oom); give at least {format_bytes(MIN_MEMORY_LIMIT_BYTES)} "
            "(or 0 for no cap)"
        )
    disk_read_bps = parse_rate(str(spec.get("disk_read_rate", "unlimited")))
    if disk_read_bps:  # refused now, in one line, where no throttle can be made: not after runs began
        from streambench.harness.measure.disk_throttle import DiskThrottle

        where = next(p for p in (options.data_dir, *options.data_dir.parents) if p.exists())
        DiskThrottle(disk_read_bps, where, f"streambench-{os.getpid()}").close()
    return RunConfig(
        matrix=matrix,
        out_dir=options.out_dir,
        data_dir=options.data_dir,
        timeout_s=parse_seconds(spec.get("timeout", 600.0), "timeout"),
        verify_workloads=options.verify_workloads,
        plugins=options.plugins,
        drop_caches=options.drop_caches,
        memory_limit_bytes=memory_limit_bytes,
        disk_read_bps=disk_read_bps,
        consumer_close_after_bytes=options.consumer_close_after_bytes,
        pin=parse_pin(spec.get("pin", DEFAULT_PIN)),
        profile_rate_hz=rate_hz,
        endpoint=endpoint_settings(spec),
    )


def writable_dir(path: Path, what: str) -> Path:
    """Make sure results can be written to ``path`` before anything is generated or run."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make {what} {path}: {exc.strerror or exc}") from None

    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {what} {path}: permission denied")
    return path


def ensure_workloads(
    specs: Sequence[WorkloadSpec], data_dir: Path, verify: bool, events: SessionEvents
) -> dict[WorkloadSpec, cache.Workload]:
    out: dict[WorkloadSpec, cache.Workload] = {}
    missing: list[WorkloadSpec] = []
    for spec in specs:
        cached, why = cache.check_cached(spec, data_dir, verify=verify)  # a user's file: opened, checked
        if cached is not None:
            out[spec] = cached
            continue
        path, _ = cache.paths_for(spec, data_dir)
        if path.exists():
            events.message(f"regenerating {path.name}: {why}", "warn")
        missing.append(spec)
    if missing and cache.workload_dir(data_dir).exists():
        cache.remove_stale_temps(data_dir)
    for family in cache.families(missing):
        # Several sizes of one text kind: the largest is made and the others cut from it.
        with events.generating(max(family, key=lambda s: s.size_bytes)) as progress:
            made = cache.generate_family(family, data_dir, progress=progress)
        for spec in family:
            out[spec] = made[spec]
            # A new file's dirty pages would be written back during the first measured
            # runs and slow them; flush them now, before anything is timed.
            cache.flush(made[spec].path)
    return {spec: out[spec] for spec in specs}


def _now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _meta_for(
    config: RunConfig,
    spec: Mapping[str, Any],
    cells: list[Cell],
    skipped: list[tuple[Cell, str]],
    workloads: dict[WorkloadSpec, cache.Workload],
) -> dict[str, Any]:
    """run.json: what a run was asked, where, on what, and with which software."""
    return {
        "started_at_utc": _now_utc(),
        "argv": sys.argv[1:],
        # The merged spec rebuilds exactly this matrix on --resume.
        "matrix_spec": dict(spec),
        "config": {
            "repeat": config.matrix.repeat,
            "warmup": config.matrix.warmup,
            "data_dir": str(config.data_dir),
            "timeout_s": config.timeout_s,
            "memory_limit_bytes": config.memory_limit_bytes,
            "disk_read_bps": config.disk_read_bps,
            "rss_sample_interval_s": config.rss_sample_interval_s,
            "plugins": config.plugins,
        },
        "cells": [{"cell_id": c.cell_id, "label": c.label, **c.key()} for c in cells],
        "skipped_cells": [
            {"cell_id": c.cell_id, "label": c.label, "reason": reason, **c.key()}
            for c, reason in skipped[:SKIPPED_LISTED]
        ],
        "skipped_cells_total": len(skipped),
        "workloads": {w.spec.file_stem(): asdict(w.manifest) for w in workloads.values()},
        "calibration": load_calibration(config.data_dir),
        "machine": machine_info(),
        "provenance": provenance(),
        "runtimes": sorted({runtimes.for_cell(c, config.plugins).name for c in cells}),
    }


def _confirm(runs: int, seconds: float, options: SessionOptions, events: SessionEvents) -> None:
    """A plan beyond the bounds runs only when the user says so."""
    if options.assume_yes or (runs <= CONFIRM_RUNS and seconds <= CONFIRM_SECONDS):
        return
    what = f"{runs:,} runs, about {seconds / 3600:.1f} h"
    answer = events.confirm(f"this plan is {what}; run it?")
    if answer is None:
        raise UsageError(f"this plan is {what} (more than {CONFIRM_RUNS:,} runs or "
                         f"{CONFIRM_SECONDS / 3600:g} h): pass --yes to run it")  # fmt: skip
    if not answer:
        raise UsageError("not started")


def start(
    spec: Mapping[str, Any],
    options: SessionOptions,
    settings: ProfileSettings,
    events: SessionEvents,
    extra_meta: Mapping[str, Any] | None = None,
) -> SessionResult:
    """Plan a matrix, say the plan, generate its workloads, run it, write its report."""
    config = build_run_config(spec, options, settings.rate_hz)
    cells, skipped = split_runnable(config.matrix.cells(), load_registry(plugins=config.plugins))
    events.skipped(skipped)
    if not cells:
        raise UsageError("no cell of this matrix can run (see the skipped cells above)")
    planned = plan_runs(cells, config.matrix.repeat, config.matrix.warmup, settings.kinds)
    budget_s = config.matrix.budget_s if config.matrix.adaptive else None
    scenario = (extra_meta or {}).get("scenario") or {}
    plan = estimate(planned, config.data_dir, load_calibration(config.data_dir), budget_s,
                    scenario.get("min_repeat"), scenario.get("later_budget_s"))  # fmt: skip
    events.plan(plan)
    if options.dry_run:
        return SessionResult(Exit.OK)
    _confirm(len(planned), plan.seconds, options, events)
    # Where results go is checked before minutes of workload generation.
    writable_dir(config.out_dir, "results folder")
    if options.calibrate:
        # A first run on a machine measures its limits once, so no report lacks "% of the limit".
        ensure_calibrated(config.data_dir, lambda text: events.message(text, "info"))
    workloads = ensure_workloads(
        config.matrix.all_workloads(), config.data_dir, config.verify_workloads, events
    )
    preflight(cells, workloads, config)
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    meta = {"run_id": run_id, **_meta_for(config, spec, cells, skipped, workloads)}
    meta["profile"] = {"kinds": list(settings.kinds), "rate_hz": settings.rate_hz}
    meta.update(extra_meta or {})
    # The cluster first: an unreachable scheduler is one line and leaves no run folder behind.
    with _connected(options.cluster) as connection:
        store = ResultStore(config.out_dir / run_id)
        store.acquire()
        try:
            store.begin(meta)
            session = _Session(config, store, meta, workloads, events, options.executors)
            return session.execute(planned, settings, connection)
        finally:
            store.release()


def preflight(
    cells: Sequence[Cell], workloads: Mapping[WorkloadSpec, cache.Workload], config: RunConfig
) -> None:
    """Each cell's runtime checks, once and before any run, that the cell can run at all (a user's server
    that never starts is one line, exit 2, with no run folder made)."""
    seen: set[tuple[str, str]] = set()
    for cell in cells:
        if (cell.strategy, cell.runtime) in seen:
            continue
        seen.add((cell.strategy, cell.runtime))
        runtimes.for_cell(cell, config.plugins).preflight(cell, workloads[cell.workload], config)


@contextmanager
def _connected(cluster: ClusterSpec | None) -> Iterator[ClusterConnection | None]:
    if cluster is None:
        yield None
        return
    connection = ClusterConnection(cluster)
    try:
        yield connection
    finally:
        connection.close()


def resume(
    run_dir: Path,
    events: SessionEvents,
    *,
    data_dir: Path | None = None,
    cluster: ClusterSpec | None = None,
    executors: ExecutorFactory = executor_for,
) -> SessionResult:
    """Run only the (cell, repeat, profiler) pairs an interrupted run is missing."""
    if not (run_dir / RUN_FILE).exists():
        raise UsageError(f"cannot resume {run_dir}: no {RUN_FILE} there")
    meta = load_run_meta(run_dir)
    if not isinstance(meta.get("matrix_spec"), dict) or not isinstance(meta.get("config", {}), dict):
        raise UsageError(f"cannot resume {run_dir}: its {RUN_FILE} has no matrix_spec and config objects")
    stored = meta.get("config", {})
    options = SessionOptions(
        out_dir=run_dir.parent,
        data_dir=data_dir or Path(stored.get("data_dir") or cache.default_data_dir()),
        plugins=bool(stored.get("plugins", True)),
        executors=executors,
    )
    stored_profile = meta.get("profile")
    profile: dict[str, Any] = stored_profile if isinstance(stored_profile, dict) else {}
    settings = profile_settings(profile.get("kinds", []), profile.get("rate_hz"))
    spec = dict(meta["matrix_spec"])
    spec.setdefault("memory_limit", str(stored.get("memory_limit_bytes", "")) or None)
    config = build_run_config({k: v for k, v in spec.items() if v is not None}, options, settings.rate_hz)
    if cluster is None and meta.get("cluster"):
        events.message(
            "this run was measured on a Dask cluster; its missing runs now run on this machine "
            "(give --cluster or --scheduler to resume it on a cluster)",
            "warn",
        )
    with _connected(cluster) as connection:
        store = ResultStore(run_dir)
        store.acquire()  # a second --resume of this run stops here, before it plans anything
        try:
            session = _Session(config, store, meta, {}, events, executors)
            planned = session.missing(settings)
            return session.execute(planned, settings, connection)
        finally:
            store.release()


@dataclass
class _Session:
    """One owned run folder being filled: its config, store, run.json, workloads and listeners."""

    config: RunConfig
    store: ResultStore
    meta: dict[str, Any]
    workloads: dict[WorkloadSpec, cache.Workload]
    events: SessionEvents
    executors: ExecutorFactory

    def missing(self, settings: ProfileSettings) -> list[PlannedRun]:
        """A resumed run's planned runs that left no record (a torn last line set aside first)."""
        torn = self.store.repair_torn_tail()
        if torn:
            self.events.message(
                f"set aside a half-written last line ({torn} bytes) in {self.store.torn_path}", "warn"
            )
        done = {(r.cell_id, r.repeat, r.warmup, r.profiler) for r in load_records(self.store.run_dir)}
        matrix = self.config.matrix
        cells, _ = split_runnable(matrix.cells(), load_registry(plugins=self.config.plugins))
        planned = [
            p for p in plan_runs(cells, matrix.repeat, matrix.warmup, settings.kinds) if p.key not in done
        ]
        more = "; --repeat auto then adds rounds while a question is open" if matrix.adaptive else ""
        run_id = self.meta.get("run_id", self.store.run_dir.name)
        self.events.message(
            f"resuming {run_id}: {len(done)} runs done, {len(planned)} planned to go{more}", "info"
        )
        self.workloads = ensure_workloads(
            matrix.all_workloads(), self.config.data_dir, self.config.verify_workloads, self.events
        )
        self.meta.setdefault("resumed_at_utc", []).append(_now_utc())
        self.store.write_run_meta(self.meta)
        return planned

    def execute(
        self, planned: list[PlannedRun], settings: ProfileSettings, connection: ClusterConnection | None
    ) -> SessionResult:
        """The planned runs (and --repeat auto's rounds), run.json kept true, then the report."""
        self._say_profilers(planned)
        more = (
            " first (--repeat auto adds rounds while a question is open)"
            if self.config.matrix.adaptive
            else ""
        )
        self.events.message(
            f"run {self.store.run_dir.name}: {len({p.cell for p in planned})} cells, {len(planned)} "
            f"runs{more} -> {self.store.run_dir}",
            "info",
        )
        runner = self._runner(connection)
        timed = [p for p in planned if p.profiler is None]
        stopped: WorkloadChanged | None = None
        with self.events.executing(len(planned)):
            try:
                min_repeat = (self.meta.get("scenario") or {}).get("min_repeat")
                if min_repeat is None:
                    runner.run(timed)
                else:
                    self.meta["claim_rounds"] = self._until_claims_decided(runner, timed, int(min_repeat))
                if self.config.matrix.adaptive:
                    self.meta["adaptive"] = self._adapt(runner, timed)
                runner.run([p for p in planned if p.profiler is not None])  # after every timed round
            except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (Terminated)
                runner.kill_current()
                what = "terminated" if isinstance(stop, Terminated) else "interrupted"
                self.events.message(
                    f"{what}: every finished record is kept in {self.store.results_path}; "
                    f"continue with: streambench run --resume {self.store.run_dir}",
                    "error",
                )
                return SessionResult(Exit.TERMINATED if what == "terminated" else Exit.INTERRUPTED,
                                     self.store.run_dir)  # fmt: skip
            except WorkloadChanged as changed:
                # The user's file changed under the run: what was measured before is reported, then
                # the change is the one line (exit 2).
                stopped = changed
            finally:
                runner.finish()
        self.meta["finished_at_utc"] = _now_utc()
        self.store.write_run_meta(self.meta)
        result = self._report()
        if stopped is not None:
            raise WorkloadChanged(f"{stopped}; their report: {result.report_path}")
        return result

    def _say_profilers(self, planned: list[PlannedRun]) -> None:
        """A profiler a runtime lacks here is said once; its passes' records say it too."""
        missing: dict[str, str] = {}
        for p in planned:
            if p.profiler is not None:
                kind = p.profiler.split("-")[0]
                why = runtimes.for_cell(p.cell, self.config.plugins).profiler_unavailable(kind)
                if why is not None:
                    missing.setdefault(kind, why)
        for kind, why in missing.items():
            self.events.message(
                f"{kind} profiling cannot run here: {why}; the rest of the matrix runs", "warn"
            )

    def _runner(self, connection: ClusterConnection | None) -> SessionRunner:
        run_events = RunEvents(
            on_start=self.events.run_started,
            on_record=self.events.record,
            on_message=lambda t: self.events.message(t, "warn"),
        )
        runner: SessionRunner
        if connection is None:
            runner = Runner(self.config, self.store, self.workloads, run_events, self.executors)
            machines = [machine_identity()]
        else:
            from streambench.harness.execute.cluster import ClusterRunner

            cluster = ClusterRunner(connection, self.config, self.store, self.workloads, run_events)
            machines = cluster.machines_meta()
            slots = (
                "one slot per worker" if connection.spec.share_machines else "one run per machine at a time"
            )
            self.events.message(
                f"cluster: {len(cluster.machines)} workers on {len(machines)} machines ({slots})", "info"
            )
            self.meta.setdefault("cluster", []).append({**connection.spec.describe(), "at_utc": _now_utc()})
            runner = cluster
        # Appended, not replaced: a run resumed on other workers lists every machine it used.
        known = {m.get("machine_id") for m in self.meta.get("machines", []) if isinstance(m, dict)}
        self.meta.setdefault("machines", []).extend(m for m in machines if m.get("machine_id") not in known)
        self.store.write_run_meta(self.meta)
        return runner

    def _until_claims_decided(
        self, runner: SessionRunner, timed: list[PlannedRun], min_repeat: int
    ) -> dict[str, Any]:
        """A scenario's rounds: ``min_repeat`` of every cell, then each later round only of the cells
        that feed a claim still inconclusive (judged as its page judges it), up to ``repeat``. A split
        claim (its cells, judged alone, disagree) is left inconclusive: no round can decide it; so is
        one that the rounds left could not decide even if every run of them agreed.

        With the scenario's ``later_budget_s``, as ``--repeat auto`` within its budget: a later round
        runs only what still fits (each cell's last run says what its next costs), the cheapest cells
        first, so the budget buys the most runs."""
        from streambench.reports.claims import evaluate, undecided_cells

        _, claims = scenario_claims(self.meta["scenario"])
        budget_s = self.meta["scenario"].get("later_budget_s")
        runner.run([p for p in timed if p.warmup or p.repeat < min_repeat])
        later = [p for p in timed if not p.warmup and p.repeat >= min_repeat]
        ran, spent_s, over_budget = 0, 0.0, False
        rounds = sorted({p.repeat for p in later})
        for i, round_index in enumerate(rounds):
            records = load_records(self.store.run_dir)
            # A claim no number of the rounds left could decide holds no cell back.
            cells, _ = undecided_cells(claims, records, len(rounds) - i)
            todo = [p for p in later if p.repeat == round_index and p.cell.cell_id in cells]
            if not todo:
                break
            if budget_s is None:
                runner.run(todo)
                ran += len(todo)
                continue
            # One batch (a cluster runs it on every machine at once): the cheapest runs whose
            # expected time still fits.
            cost_s = {r.cell_id: r.run_total_s or 0.0 for r in records if not r.warmup and not r.profiler}
            todo.sort(key=lambda p: cost_s.get(p.cell.cell_id, 0.0))
            expected_s = list(accumulate(cost_s.get(p.cell.cell_id, 0.0) for p in todo))
            fits = bisect_right(expected_s, budget_s - spent_s)
            over_budget = fits < len(todo)
            if fits:
                spent_s += sum(r.run_total_s or 0.0 for r in runner.run(todo[:fits]))
                ran += fits
            if over_budget:
                break
        records = load_records(self.store.run_dir)
        _, open_claims = undecided_cells(claims, records)
        split = [c.says for c in claims if "split" in evaluate(c, records).numbers]
        skipped = len(later) - ran
        decided = len(claims) - len(open_claims) - len(split)
        budget_note = (
            f" ({spent_s:.0f} s of runs; the next would have passed the later rounds' budget of "
            f"{budget_s:g} s)"
            if over_budget
            else ""
        )
        self.events.message(
            f"claims: {decided} of {len(claims)} decided, {len(split)} split (their cells disagree), "
            f"{len(open_claims)} open; {skipped} of the {len(later)} runs after round {min_repeat} were "
            f"not needed{' or not bought' if over_budget else ''}{budget_note}",
            "info",
        )
        return {"min_repeat": min_repeat, "later_runs": len(later), "later_runs_skipped": skipped,
                "open_claims": open_claims, "split_claims": split, "later_budget_s": budget_s,
                "later_spent_s": round(spent_s, 1), "stopped_by_budget": over_budget}  # fmt: skip

    def _adapt(self, runner: SessionRunner, timed: list[PlannedRun]) -> dict[str, Any]:
        """``--repeat auto``: more interleaved rounds of the cells whose questions are open."""
        from streambench.harness.plan.adaptive import AdaptiveRule, adapt

        matrix, run_dir = self.config.matrix, self.store.run_dir
        rule = AdaptiveRule(first_rounds=matrix.repeat, budget_s=matrix.budget_s)
        cells = list(dict.fromkeys(p.cell for p in timed)) or list(dict.fromkeys(matrix.cells()))
        records = load_records(run_dir)
        done = max((r.repeat for r in records if not r.warmup), default=-1) + 1

        def run_round(cell_ids: set[str], round_index: int) -> None:
            runner.run([PlannedRun(c, round_index, False) for c in cells if c.cell_id in cell_ids])

        outcome = adapt(rule, lambda: load_records(run_dir), run_round, max(done, rule.first_rounds))
        decided = sum(q.status != "open" for q in outcome.questions)
        self.events.message(
            f"auto repeat: {decided} of {len(outcome.questions)} questions answered after "
            f"{outcome.rounds} rounds, {outcome.spent_s:.0f} s of runs ({outcome.stopped})",
            "info",
        )
        for q in outcome.questions:
            self.events.message(f"  {q.status}: {q.answer} [{q.setting}]", "info")
        return outcome.as_dict()

    def _report(self) -> SessionResult:
        """The summary, the report (and a scenario's page), and the exit status they say."""
        run_dir = self.store.run_dir
        records = load_records(run_dir)
        self.events.finished(records)
        try:
            written: Written = write_report(run_dir, self.meta, records)
        except Exception as exc:  # a reporting bug must not look like lost measurements
            self.events.message(
                f"the report could not be written ({type(exc).__name__}: {exc}); every record is in "
                f"{self.store.results_path}; retry with: streambench report {run_dir}",
                "error",
            )
            return SessionResult(Exit.INTERNAL, run_dir)
        if written.verdicts:
            self.events.verdicts(self.meta.get("scenario") or {}, written.verdicts)
        code, said = exit_status(records, written.verdicts)
        for line in said:
            self.events.message(line, "error" if code == Exit.RUNS_FAILED else "info")
        return SessionResult(code, run_dir, written.path)
