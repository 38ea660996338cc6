"""What runs inside a Dask worker: one planned run, through the local runner's own code.

The client sends a :class:`ClusterJob` (the planned run, the run's config, the workload's
checksum from the client's manifest); the worker makes or reuses the workload from (kind, size,
seed) in its own cache, checks it against that checksum (bytes are never shipped), runs the
planned run with :class:`harness.execute.runner.Runner` (the same executors, probes and
verification as a local run) and returns the record as a plain dict.

While the run lasts, a watcher thread asks the worker whether the task is still wanted: when
the client is gone (the harness killed), the scheduler releases the task and the watcher kills
the measured process group, so no cell outlives the harness on any worker. The measured
children also die with the worker process (parent-death signals), so a killed worker leaves no
orphan either.

Nothing here imports Dask at module level: the local runner never needs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from streambench.harness.execute.runner import Runner
from streambench.harness.machine.info import machine_identity
from streambench.harness.plan.config import RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.results.store import ResultStore
from streambench.workloads import cache

WATCH_INTERVAL_S = 0.25


@dataclass(frozen=True)
class ClusterJob:
    planned: PlannedRun
    config: RunConfig
    run_id: str
    # The client's manifest checksum of the workload: the worker's copy must match it.
    workload_xxh3_64: str
    # Where profiles go: the client's run folder when the worker shares its disk (a local
    # cluster), else None (the worker's own folder under its data dir).
    run_dir: str | None


_RUNNERS: dict[str, Runner] = {}  # run id -> this worker process's runner (its expected checksums kept)


def fingerprint() -> dict[str, Any]:
    """This worker's machine: its bench slot, its records' ``machine``, run.json's list."""
    return machine_identity()


def finish(run_id: str | None = None) -> None:
    """The session is over (or another began): this worker's runners remove their scratch files."""
    for key in [k for k in _RUNNERS if run_id is None or k == run_id]:
        _RUNNERS.pop(key).finish()


def _runner(job: ClusterJob) -> Runner:
    runner = _RUNNERS.get(job.run_id)
    if runner is None:
        # A local cluster shares the client's disk; a worker elsewhere keeps workloads and
        # scratch in its own cache ($STREAMBENCH_DATA_DIR on that host), profiles beside them.
        config = job.config if job.run_dir else replace(job.config, data_dir=cache.default_data_dir())
        run_dir = Path(job.run_dir) if job.run_dir else config.data_dir / "cluster-runs" / job.run_id
        runner = Runner(config, ResultStore(run_dir), {})
        finish()  # one run at a time per worker: an older run's runner is done
        _RUNNERS[job.run_id] = runner
    spec = job.planned.cell.workload
    if spec not in runner.workloads:
        workload = cache.generate(spec, runner.config.data_dir)
        if workload.manifest.xxh3_64 != job.workload_xxh3_64:
            raise RuntimeError(
                f"workload {spec.file_stem()} on {machine_identity()['hostname']} has xxh3 "
                f"{workload.manifest.xxh3_64}, the client's manifest says {job.workload_xxh3_64}: "
                "a different generator version here"
            )
        runner.workloads[spec] = workload
    return runner


def run_planned(job: ClusterJob) -> dict[str, Any]:
    """One planned run on this worker; the record as a dict, tagged with the worker's address."""
    from distributed import get_worker

    runner = _runner(job)
    worker = get_worker()
    runner.cluster = {"dask_worker": worker.address}
    key = worker.get_current_task()
    stop = threading.Event()

    def wanted() -> bool:
        # The scheduler lets a task go when its client leaves: the worker then marks it cancelled.
        task = worker.state.tasks.get(key)
        return task is not None and task.state in ("executing", "long-running")

    def watch() -> None:
        while not stop.wait(WATCH_INTERVAL_S):
            try:
                alive = wanted()
            except Exception:  # the worker's state is being torn down: the run goes with it
                alive = False
            if not alive:
                runner.kill_current()

    watcher = threading.Thread(target=watch, name="streambench-watch", daemon=True)
    watcher.start()
    try:
        record = runner.checked_run(job.planned)
    finally:
        stop.set()
        watcher.join()
    return record.to_dict()
