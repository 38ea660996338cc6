"""A whole run behind plain options and callbacks: plan, start or resume, execute, run.json, report.

The command line (``harness.cli``), the pytest plugin and the benchmarks all
drive runs through here; none of them hands the core an argparse namespace or
prints from inside it. What a session has to tell the user goes through
:class:`SessionEvents` (the CLI draws it with rich; tests may ignore it).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.common.errors import Exit, Terminated, UsageError
from harness.common.units import format_bytes, parse_count, parse_seconds, parse_size
from harness.execute.cluster import ClusterConnection, ClusterSpec
from harness.execute.runner import RunEvents, Runner
from harness.machine.calibrate import ensure_calibrated, load_calibration
from harness.machine.info import machine_identity, machine_info
from harness.machine.provenance import provenance
from harness.measure.limits import default_memory_limit_bytes
from harness.measure.profilers import PROFILE_KINDS, ProfileSettings, unavailable_reason
from harness.plan.applicability import split_runnable
from harness.plan.config import Cell, MatrixConfig, RunConfig
from harness.plan.estimate import Estimate, estimate
from harness.plan.planning import PlannedRun, plan_runs
from harness.plan.spec import build_matrix, parse_pin
from harness.results.record import Record
from harness.results.store import (
    REPORT_FILE,
    RUN_FILE,
    ResultStore,
    finite,
    load_records,
    load_run_meta,
    write_atomic,
)
from strategies.registry import load_registry
from workloads import cache
from workloads.cache import ProgressFn, WorkloadSpec

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
    def remove_scratch(self) -> None: ...


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
    finished: Callable[[list[dict[str, Any]]], None] = lambda records: None
    verdicts: Callable[[Any, list[Any]], None] = lambda scenario, verdicts: None
    # The runner is running: the CLI draws progress inside this.
    executing: Callable[[int], AbstractContextManager[None]] = lambda total: nullcontext()


@dataclass(frozen=True)
class SessionResult:
    exit_code: int
    run_dir: Path | None = None
    report_path: Path | None = None
    failures: int = 0


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


def build_run_config(spec: Mapping[str, Any], options: SessionOptions) -> RunConfig:
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
    return RunConfig(
        matrix=matrix,
        out_dir=options.out_dir,
        data_dir=options.data_dir,
        timeout_s=parse_seconds(spec.get("timeout", 600.0), "timeout"),
        verify_workloads=options.verify_workloads,
        plugins=options.plugins,
        drop_caches=options.drop_caches,
        memory_limit_bytes=memory_limit_bytes,
        consumer_close_after_bytes=options.consumer_close_after_bytes,
        pin=parse_pin(spec.get("pin", DEFAULT_PIN)),
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
    for spec in specs:
        cached, _ = cache.check_cached(spec, data_dir, verify=verify)
        if cached is not None:
            out[spec] = cached
            continue
        with events.generating(spec) as progress:
            out[spec] = cache.ensure(
                spec, data_dir, verify=verify, progress=progress, message=lambda t: events.message(t, "warn")
            )
        # A new file's dirty pages would be written back during the first measured
        # runs and slow them; flush them now, before anything is timed.
        cache.flush(out[spec].path)
    return out


def _now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _meta_for(
    run_id: str,
    config: RunConfig,
    spec: Mapping[str, Any],
    cells: list[Cell],
    skipped: list[tuple[Cell, str]],
    workloads: dict[WorkloadSpec, cache.Workload],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
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
    config = build_run_config(spec, options)
    cells, skipped = split_runnable(config.matrix.cells(), load_registry(plugins=config.plugins))
    events.skipped(skipped)
    if not cells:
        raise UsageError("no cell of this matrix can run (see the skipped cells above)")
    planned = plan_runs(cells, config.matrix.repeat, config.matrix.warmup, settings.kinds)
    plan = estimate(planned, config.data_dir, load_calibration(config.data_dir))
    events.plan(plan)
    if options.dry_run:
        return SessionResult(0)
    _confirm(len(planned), plan.seconds, options, events)
    # Where results go is checked before minutes of workload generation.
    writable_dir(config.out_dir, "results folder")
    # A first run on a machine measures its limits once, so no report lacks "% of the limit".
    ensure_calibrated(config.data_dir, lambda text: events.message(text, "info"))
    workloads = ensure_workloads(
        config.matrix.all_workloads(), config.data_dir, config.verify_workloads, events
    )
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    meta = _meta_for(run_id, config, spec, cells, skipped, workloads)
    meta["profile"] = {"kinds": list(settings.kinds), "rate_hz": settings.rate_hz}
    meta.update(extra_meta or {})
    # The cluster first: an unreachable scheduler is one line and leaves no run folder behind.
    with _connected(options.cluster) as connection:
        store = ResultStore(config.out_dir / run_id)
        store.acquire()
        try:
            store.begin(meta)
            return _execute(config, store, meta, planned, workloads, settings, events, connection)
        finally:
            store.release()


@contextmanager
def _connected(cluster: ClusterSpec | None) -> Iterator[ClusterConnection | None]:
    if cluster is None:
        yield None
        return
    from harness.execute.cluster import ClusterConnection

    connection = ClusterConnection(cluster)
    try:
        yield connection
    finally:
        connection.close()


def resume(
    run_dir: Path, data_dir: Path | None, events: SessionEvents, cluster: ClusterSpec | None = None
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
    )
    spec = dict(meta["matrix_spec"])
    spec.setdefault("memory_limit", str(stored.get("memory_limit_bytes", "")) or None)
    config = build_run_config({k: v for k, v in spec.items() if v is not None}, options)
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
            return _resume_owned(run_dir, meta, config, store, events, connection)
        finally:
            store.release()


def _resume_owned(
    run_dir: Path,
    meta: dict[str, Any],
    config: RunConfig,
    store: ResultStore,
    events: SessionEvents,
    connection: ClusterConnection | None,
) -> SessionResult:
    torn = store.repair_torn_tail()
    if torn:
        events.message(f"set aside a half-written last line ({torn} bytes) in {store.torn_path}", "warn")
    done = {
        (r["cell_id"], int(r["repeat"]), bool(r["warmup"]), r.get("profiler")) for r in load_records(run_dir)
    }
    cells, _ = split_runnable(config.matrix.cells(), load_registry(plugins=config.plugins))
    stored_profile = meta.get("profile")
    profile: dict[str, Any] = stored_profile if isinstance(stored_profile, dict) else {}
    settings = profile_settings(profile.get("kinds", []), profile.get("rate_hz"))
    plan = plan_runs(cells, config.matrix.repeat, config.matrix.warmup, settings.kinds)
    planned = [p for p in plan if p.key not in done]
    run_id = meta.get("run_id", run_dir.name)
    more = "; --repeat auto then adds rounds while a question is open" if config.matrix.adaptive else ""
    events.message(f"resuming {run_id}: {len(done)} runs done, {len(planned)} planned to go{more}", "info")
    workloads = ensure_workloads(
        config.matrix.all_workloads(), config.data_dir, config.verify_workloads, events
    )
    meta.setdefault("resumed_at_utc", []).append(_now_utc())
    store.write_run_meta(meta)
    return _execute(config, store, meta, planned, workloads, settings, events, connection)


def _adapt(
    config: RunConfig, runner: SessionRunner, timed: list[PlannedRun], run_dir: Path, events: SessionEvents
) -> dict[str, Any]:
    """``--repeat auto``: more interleaved rounds of the cells whose questions are open."""
    from harness.plan.adaptive import AdaptiveRule, adapt

    rule = AdaptiveRule(first_rounds=config.matrix.repeat, budget_s=config.matrix.budget_s)
    cells = list(dict.fromkeys(p.cell for p in timed)) or list(dict.fromkeys(config.matrix.cells()))
    records = load_records(run_dir)
    done = max((int(r.get("repeat", 0)) for r in records if not r.get("warmup")), default=-1) + 1

    def run_round(cell_ids: set[str], round_index: int) -> None:
        runner.run([PlannedRun(c, round_index, False) for c in cells if c.cell_id in cell_ids])

    outcome = adapt(rule, lambda: load_records(run_dir), run_round, max(done, rule.first_rounds))
    decided = sum(q.status != "open" for q in outcome.questions)
    events.message(
        f"auto repeat: {decided} of {len(outcome.questions)} questions answered after "
        f"{outcome.rounds} rounds, {outcome.spent_s:.0f} s of runs ({outcome.stopped})",
        "info",
    )
    for q in outcome.questions:
        events.message(f"  {q.status}: {q.answer} [{q.setting}]", "info")
    return outcome.as_dict()


def _execute(
    config: RunConfig,
    store: ResultStore,
    meta: dict[str, Any],
    planned: list[PlannedRun],
    workloads: dict[WorkloadSpec, cache.Workload],
    settings: ProfileSettings,
    events: SessionEvents,
    connection: ClusterConnection | None = None,
) -> SessionResult:
    run_dir = store.run_dir
    run_id = str(meta["run_id"])
    unavailable = {k: why for k in settings.kinds if (why := unavailable_reason(k)) is not None}
    for kind, why in unavailable.items():
        events.message(f"{kind} profiling cannot run here: {why}; the rest of the matrix runs", "warn")
    n_cells = len({p.cell for p in planned})
    more = " first (--repeat auto adds rounds while a question is open)" if config.matrix.adaptive else ""
    events.message(f"run {run_id}: {n_cells} cells, {len(planned)} runs{more} -> {run_dir}", "info")
    failures = 0

    def on_record(record: Record) -> None:
        nonlocal failures
        if record.outcome != "ok" or not record.verified:
            failures += 1
        events.record(record)

    run_events = RunEvents(
        on_start=events.run_started, on_record=on_record, on_message=lambda t: events.message(t, "warn")
    )
    runner: SessionRunner
    if connection is None:
        runner = Runner(config, store, run_id, workloads, run_events, unavailable, settings.rate_hz)
        machines = [machine_identity()]
    else:
        from harness.execute.cluster import ClusterRunner

        cluster = connection.spec
        runner = ClusterRunner(
            connection, config, store, run_id, workloads, run_events, unavailable, settings.rate_hz
        )
        machines = runner.machines_meta()
        events.message(
            f"cluster: {len(runner.machines)} workers on {len(machines)} machines "
            f"({'one slot per worker' if cluster.share_machines else 'one run per machine at a time'})",
            "info",
        )
    # Appended, not replaced: a run resumed on other workers lists every machine it used.
    known = {m.get("machine_id") for m in meta.get("machines", []) if isinstance(m, dict)}
    meta.setdefault("machines", []).extend(m for m in machines if m.get("machine_id") not in known)
    if connection is not None:
        meta.setdefault("cluster", []).append({**connection.spec.describe(), "at_utc": _now_utc()})
    store.write_run_meta(meta)
    timed = [p for p in planned if p.profiler is None]
    passes = [p for p in planned if p.profiler is not None]
    with events.executing(len(planned)):
        try:
            runner.run(timed)
            if config.matrix.adaptive:
                meta["adaptive"] = _adapt(config, runner, timed, run_dir, events)
            runner.run(passes)  # profiles last: after every timed round, extra ones too
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (Terminated)
            runner.kill_current()
            what = "terminated" if isinstance(stop, Terminated) else "interrupted"
            events.message(
                f"{what}: every finished record is kept in {store.results_path}; "
                f"continue with: streambench run --resume {run_dir}",
                "error",
            )
            return SessionResult(
                Exit.TERMINATED if isinstance(stop, Terminated) else Exit.INTERRUPTED, run_dir
            )
        finally:
            runner.remove_scratch()
    meta["finished_at_utc"] = _now_utc()
    store.write_run_meta(meta)
    records = load_records(run_dir)
    events.finished(records)
    try:
        written = write_report(run_dir, meta, records, None, events)
    except Exception as exc:  # a reporting bug must not look like lost measurements
        events.message(
            f"the report could not be written ({type(exc).__name__}: {exc}); every record is in "
            f"{store.results_path}; retry with: streambench report {run_dir}",
            "error",
        )
        return SessionResult(Exit.INTERNAL, run_dir, failures=failures)
    return SessionResult(_exit_status(records, written, events), run_dir, written.path, failures)


def _exit_status(records: list[dict[str, Any]], written: Written, events: SessionEvents) -> Exit:
    """RUNS_FAILED when a measured run failed or was not verified, and no claim of the scenario
    expected it (readFile oom-killed at the cap is the answer, not a failure), or a claim fails;
    UNDECIDED when a claim is inconclusive; else OK."""
    from reports.claims import expects

    # Timed runs and warm-ups; a profiler pass that could not run says so in its record, not here.
    failed = [
        r for r in records if not r.get("profiler") and (r.get("outcome") != "ok" or not r.get("verified"))
    ]
    claims = [v.claim for v in written.verdicts]
    expected = [r for r in failed if any(expects(c, r) for c in claims)]
    unexpected = len(failed) - len(expected)
    if expected:
        events.message(
            f"{len(expected)} runs ended as the scenario's claims expect (e.g. oom at the cap)", "info"
        )
    if unexpected:
        events.message(f"{unexpected} runs failed or were not verified; see the report", "error")
    verdicts = [v.verdict for v in written.verdicts]
    if unexpected or "fails" in verdicts:
        return Exit.RUNS_FAILED
    return Exit.UNDECIDED if "inconclusive" in verdicts else Exit.OK


@dataclass(frozen=True)
class Written:
    """A written report: its path, and a scenario run's claim verdicts (none for other runs)."""

    path: Path
    verdicts: list[Any] = field(default_factory=list)


def write_report(
    run_dir: Path,
    meta: Mapping[str, Any],
    records: list[dict[str, Any]],
    output: Path | None = None,
    events: SessionEvents | None = None,
) -> Written:
    """The run's report.html (or ``output``); a scenario run's page leads with its verdicts."""
    from reports.html import render_report

    html = render_report(dict(meta), records, _flame_graphs(run_dir, records))
    path = output or run_dir / REPORT_FILE
    write_atomic(path, html.encode())
    if isinstance(meta.get("scenario"), dict) and output is None:
        return _write_scenario_report(run_dir, meta, records, html, events or SessionEvents())
    return Written(path.resolve())


MAX_EMBEDDED_SVG_BYTES = 8 << 20  # a flame graph larger than this is linked, not embedded


def _run_files(run_dir: Path, names: Iterable[str], max_bytes: int | None = None) -> dict[str, bytes]:
    """The files the records name, read from the run's own folder (never from outside it)."""
    out: dict[str, bytes] = {}
    root = run_dir.resolve()
    for name in names:
        path = (run_dir / name).resolve()
        if name in out or not (path.is_relative_to(root) and path.is_file()):
            continue
        if max_bytes is None or path.stat().st_size <= max_bytes:
            out[name] = path.read_bytes()
    return out


def _flame_graphs(run_dir: Path, records: list[dict[str, Any]]) -> dict[str, str]:
    """The SVG flame graphs of the profiler passes, for the report to draw in place."""
    names = [
        str(name)
        for r in records
        if isinstance(r.get("profile_artifacts"), dict)
        for name in r["profile_artifacts"].values()
        if str(name).endswith(".svg")
    ]
    files = _run_files(run_dir, names, MAX_EMBEDDED_SVG_BYTES)
    return {name: data.decode(errors="replace") for name, data in files.items()}


def _screenshots(run_dir: Path, records: list[dict[str, Any]]) -> dict[str, bytes]:
    """The browser runs' screenshots, for the scenario page to show."""
    names = [
        str(name)
        for r in records
        if isinstance(r.get("http"), dict)
        for name in r["http"].get("screenshots") or []
    ]
    return _run_files(run_dir, names)


def _write_scenario_report(
    run_dir: Path,
    meta: Mapping[str, Any],
    records: list[dict[str, Any]],
    full_report_html: str,
    events: SessionEvents,
) -> Written:
    from harness.plan.scenario import get_scenario
    from reports.claims import evaluate, parse_claims
    from reports.scenario_html import render_scenario

    info = meta["scenario"]
    try:
        scenario = get_scenario(str(info["name"]))
        size_bytes = parse_count(info["size_bytes"], "run.json's scenario size_bytes", 1, 1 << 50)
    except (KeyError, TypeError) as exc:
        raise UsageError(f"run.json's scenario is not one streambench wrote ({exc!r})") from None
    _, raw_claims = scenario.expand(size_bytes)
    claims = parse_claims(raw_claims, f"scenario {scenario.name}")
    verdicts = [evaluate(c, records) for c in claims]
    events.verdicts(scenario, verdicts)
    path = run_dir / "scenario.html"
    page = render_scenario(
        scenario, info, verdicts, records, full_report_html, _screenshots(run_dir, records)
    )
    write_atomic(path, page.encode())
    verdicts_json = json.dumps(
        finite([{"says": v.claim.says, "verdict": v.verdict, "about": v.about, "detail": v.detail,
                 "numbers": v.numbers} for v in verdicts]),
        indent=2, default=str,
    )  # fmt: skip
    write_atomic(run_dir / "verdicts.json", verdicts_json.encode())
    return Written(path.resolve(), verdicts)


@dataclass
class CellSession:
    """One cell run round by round outside a matrix: the pytest plugin's and bench-overhead's runs.

    The same runner, worker, probes and verification as a matrix run; records go
    to ``out_dir/<run_id>/results.jsonl`` as they exist.
    """

    cell: Cell
    out_dir: Path
    data_dir: Path
    run_id: str = field(default_factory=lambda: f"cell-{secrets.token_hex(3)}")
    timeout_s: float = 600.0
    memory_limit_bytes: int = 0
    plugins: bool = True
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        workload = cache.ensure(self.cell.workload, self.data_dir)
        config = RunConfig(
            matrix=MatrixConfig(
                (self.cell.strategy,), (self.cell.workload,), (self.cell.sink,), (self.cell.chunk_bytes,),
                repeat=1, warmup=0,
            ),
            out_dir=self.out_dir,
            data_dir=self.data_dir,
            timeout_s=self.timeout_s,
            memory_limit_bytes=self.memory_limit_bytes,
            plugins=self.plugins,
        )  # fmt: skip
        self.workload = workload
        self.store = ResultStore(self.out_dir / self.run_id)
        self.runner = Runner(config, self.store, self.run_id, {self.cell.workload: workload})

    def run(self, *, warmup: bool = False) -> Record:
        """One more round of this cell, appended to the store the moment it exists."""
        repeat = sum(1 for r in self.records if r.warmup == warmup)
        (record,) = self.runner.run([PlannedRun(self.cell, repeat, warmup)])
        self.records.append(record)
        return record

    def close(self) -> None:
        self.runner.remove_scratch()


@contextmanager
def cell_session(cell: Cell, out_dir: Path, data_dir: Path, **kwargs: Any) -> Iterator[CellSession]:
    session = CellSession(cell, out_dir, data_dir, **kwargs)
    try:
        yield session
    finally:
        session.close()
