"""A session's runs on a Dask ``distributed`` cluster: one measured run per machine at a time.

``--cluster local:N`` starts a LocalCluster of N worker processes on 127.0.0.1; ``--scheduler
tcp://HOST:PORT`` joins a running one (workers started on each host with ``--nthreads 1
--resources bench=1``). The :class:`ClusterRunner` has the local runner's shape (``run``,
``kill_current``, ``finish``), so the session, ``--repeat auto`` and the profiler passes
use it unchanged.

Rules (each a trap measured in ``shared/research/scale-out-and-node.md``):

- **One run per machine.** Workers that report the same machine id share one bench slot: two
  runs on one 2-core host measure each other. ``--share-machines`` gives every worker its own
  slot (recorded in run.json).
- **One run in flight per slot, submitted by the client**: Dask assigns resource-restricted
  tasks to workers up front, so queued runs would fail with a crashed worker's running one. The
  planned order (warm-ups, rounds A B C A B C, profiler passes) is kept: each machine takes the
  next run of the one queue, so it runs its share of the rounds in the local order.
- **Gathered at once.** A result left on a worker dies with it and would be silently recomputed:
  each is fetched, appended to results.jsonl and released as soon as it exists.
- **No retries.** ``allowed-failures`` is 0: a worker killed mid-run gives that run outcome
  ``crashed`` with the reason, never a silent second measurement; ``--resume`` runs what is
  missing on whichever workers exist.
- **Nothing outlives the harness.** The measured children die with their worker process
  (parent-death signals); a local cluster's workers die with the harness; a worker of a remote
  cluster kills its run when the scheduler lets the task go (:mod:`harness.execute.dask_task`).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streambench.harness.common.errors import UsageError
from streambench.harness.execute import dask_task
from streambench.harness.execute.dask_task import ClusterJob
from streambench.harness.execute.runner import RunEvents, Runner
from streambench.harness.plan.config import RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.results.record import Record
from streambench.harness.results.store import ResultStore
from streambench.workloads.cache import Workload, WorkloadSpec

MAX_LOCAL_WORKERS = 64
WORKER_WAIT_S = 60.0
# After a worker died: how long a slot waits for its machine's worker to come back (a nanny restarts it).
RESTART_WAIT_S = 15.0
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z)({_LABEL}\.)*{_LABEL}\Z", re.ASCII)


def parse_scheduler(text: str) -> str:
    """``tcp://HOST:PORT`` with a real host (a name, an IPv4 or a bracketed IPv6 address) and a port
    from 1 to 65535; anything else is one line. TLS needs certificates this command does not take."""
    bad = f"bad --scheduler {text!r}: expected tcp://HOST:PORT"
    value = text.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{bad} ({exc})") from None
    if parts.scheme == "tls":
        raise UsageError(f"{bad}: tls:// needs certificates, which streambench does not take; use tcp://")
    host = parts.hostname
    if parts.scheme != "tcp" or not host or port is None or parts.path or parts.query or parts.fragment:
        raise UsageError(bad)
    if not 1 <= port <= 65535:
        raise UsageError(f"{bad} (port {port} is not from 1 to 65535)")
    if ":" in host or re.fullmatch(r"[0-9.]+", host, re.ASCII):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise UsageError(f"{bad} ({host} is not an IP address)") from None
    elif not _HOSTNAME.match(host):
        raise UsageError(f"{bad} ({host!r} is not a host name)")
    return value


DASK_DIR_PREFIX = "streambench-dask-"


def _sweep_dask_dirs() -> None:
    """Folders of local clusters whose harness died (kill -9) are removed by the next one."""
    for path in Path(tempfile.gettempdir()).glob(f"{DASK_DIR_PREFIX}*-*"):
        pid = path.name[len(DASK_DIR_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class ClusterSpec:
    local_workers: int = 0  # --cluster local:N
    scheduler: str | None = None  # --scheduler tcp://HOST:PORT
    share_machines: bool = False  # --share-machines: every worker its own bench slot

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "dask.distributed",
            "cluster": f"local:{self.local_workers}" if self.local_workers else None,
            "scheduler": self.scheduler,
            "share_machines": self.share_machines,
            "slots": "one per worker" if self.share_machines else "one per machine id",
        }


def parse_cluster(
    cluster: str | None, scheduler: str | None, share_machines: bool = False
) -> ClusterSpec | None:
    """``--cluster local:N`` / ``--scheduler tcp://HOST:PORT`` -> a spec (None: the local runner)."""
    if cluster and scheduler:
        raise UsageError("give --cluster local:N or --scheduler tcp://HOST:PORT, not both")
    if (cluster or scheduler) and importlib.util.find_spec("distributed") is None:
        # said before anything is planned or made, not after the run folder exists
        _distributed()
    if cluster:
        match = re.fullmatch(r"local:(\d+)", cluster.strip())
        if not match or not 1 <= int(match.group(1)) <= MAX_LOCAL_WORKERS:
            raise UsageError(f"bad --cluster {cluster!r}: expected local:N, N from 1 to {MAX_LOCAL_WORKERS}")
        return ClusterSpec(local_workers=int(match.group(1)), share_machines=share_machines)
    if scheduler:
        return ClusterSpec(scheduler=parse_scheduler(scheduler), share_machines=share_machines)
    if share_machines:
        raise UsageError("--share-machines needs --cluster or --scheduler")
    return None


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--cluster and --scheduler need Dask distributed: pip install 'streambench[cluster]'"
        ) from None
    return distributed


@dataclass
class _Slot:
    """One machine (or, with --share-machines, one worker): the workers that may take its next run."""

    machine_id: str
    workers: list[str] = field(default_factory=list)


class ClusterConnection:
    """A client of a Dask cluster (and the local cluster it started), made before the run folder is:
    an unreachable scheduler is one line, and leaves nothing behind."""

    def __init__(self, spec: ClusterSpec) -> None:
        distributed = _distributed()
        import dask

        self.spec = spec
        self._cluster: Any = None
        self.client: Any = None
        # The local cluster's own files (worker dirs, locks) in a folder of this run, removed on close
        # (Dask's default, $TMPDIR/dask-scratch-space, would outlive every run).
        self._dask_dir: str | None = None
        settings = {
            "distributed.scheduler.allowed-failures": 0,  # the harness owns retries: none
            "distributed.worker.profile.enabled": False,  # less noise inside the workers
            "distributed.admin.system-monitor.interval": "1s",
        }
        if spec.local_workers:
            _sweep_dask_dirs()
            self._dask_dir = tempfile.mkdtemp(prefix=f"{DASK_DIR_PREFIX}{os.getpid()}-")
            settings["temporary-directory"] = self._dask_dir  # its locks too, not only its workers
        # Set for the client's life, and given back on close: the harness's other code sees Dask's own.
        self._config = dask.config.set(settings)
        try:
            if spec.local_workers:
                self._cluster = distributed.LocalCluster(
                    local_directory=self._dask_dir,
                    n_workers=spec.local_workers,
                    threads_per_worker=1,
                    processes=True,
                    resources={"bench": 1},
                    host="127.0.0.1",
                    scheduler_port=0,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self.client = distributed.Client(self._cluster, set_as_default=False)
            else:
                self.client = distributed.Client(spec.scheduler, timeout="5s", set_as_default=False)
            self.client.wait_for_workers(spec.local_workers or 1, timeout=WORKER_WAIT_S)
        except Exception as exc:  # OSError, TimeoutError, and whatever distributed raises for an address
            self.close()
            where = spec.scheduler or f"a local cluster of {spec.local_workers}"
            text = str(exc).splitlines()[0] if str(exc) else ""
            raise UsageError(f"cannot reach {where}: {type(exc).__name__}: {text}".rstrip(": ")) from None

    def close(self) -> None:
        for thing in (self.client, self._cluster):
            if thing is not None:
                with suppress(Exception):  # closing a broken cluster must not hide the run's result
                    thing.close()
        self.client = None
        self._cluster = None
        if self._dask_dir is not None:
            shutil.rmtree(self._dask_dir, ignore_errors=True)
            self._dask_dir = None
        with suppress(Exception):  # dask's config object is untyped
            self._config.__exit__(None, None, None)  # type: ignore[no-untyped-call]


class ClusterRunner:
    """The session's runs on Dask workers, records appended as each run ends."""

    def __init__(
        self,
        connection: ClusterConnection,
        config: RunConfig,
        store: ResultStore,
        workloads: dict[WorkloadSpec, Workload],
        events: RunEvents | None = None,
    ) -> None:
        self.connection = connection
        self.spec = connection.spec
        self.client = connection.client
        self.events = events or RunEvents()
        # The client's own runner holds the run's config, workloads and profiler settings, its
        # scratch folder and store, and makes the records of runs lost with a worker.
        self._local = Runner(config, store, workloads, self.events)
        self.machines: dict[str, dict[str, Any]] = {}
        self._in_flight: dict[str, Any] = {}
        self._refresh()

    # --- workers and slots ---------------------------------------------------

    def _refresh(self) -> None:
        """The workers alive now, and which machine each is on (asked once per new worker)."""
        alive = set(self.client.scheduler_info()["workers"])
        new = sorted(alive - set(self.machines))
        if new:
            self.machines.update(self.client.run(dask_task.fingerprint, workers=new))
        self.machines = {addr: info for addr, info in self.machines.items() if addr in alive}

    def _slots(self) -> list[_Slot]:
        slots: dict[str, _Slot] = {}
        for addr, info in sorted(self.machines.items()):
            key = addr if self.spec.share_machines else str(info.get("machine_id"))
            slots.setdefault(key, _Slot(key)).workers.append(addr)
        return list(slots.values())

    def machines_meta(self) -> list[dict[str, Any]]:
        """run.json's machines: each machine once, with its workers' addresses."""
        out: dict[str, dict[str, Any]] = {}
        for addr, info in sorted(self.machines.items()):
            entry = out.setdefault(str(info.get("machine_id")), {**info, "workers": []})
            entry["workers"].append(addr)
        return list(out.values())

    def _wait_for(self, slot: _Slot) -> None:
        """A slot whose worker died waits a little for its machine to have one again."""
        deadline = time.monotonic() + RESTART_WAIT_S
        while time.monotonic() < deadline:
            self._refresh()
            fresh = next((s for s in self._slots() if s.machine_id == slot.machine_id), None)
            if fresh is not None and fresh.workers:
                slot.workers = fresh.workers
                return
            if self.spec.share_machines:
                break  # a worker's own slot does not come back under another address
            time.sleep(0.5)
        slot.workers = []

    # --- runs ---------------------------------------------------------------

    def _job(self, run: PlannedRun) -> ClusterJob:
        local = self._local
        return ClusterJob(
            planned=run,
            config=local.config,
            run_id=local.run_id,
            workload_xxh3_64=local.workloads[run.cell.workload].manifest.xxh3_64,
            # a local cluster shares this disk: profiles land in the run's own folder
            run_dir=str(local.store.run_dir) if self.spec.local_workers else None,
        )

    def run(self, planned: list[PlannedRun]) -> list[Record]:
        distributed = _distributed()
        pending = deque(enumerate(planned))
        total = len(planned)
        records: list[Record] = []
        done = distributed.as_completed(loop=self.client.loop)
        flights: dict[str, tuple[_Slot, PlannedRun, str]] = {}

        def submit(slot: _Slot) -> None:
            index, run = pending.popleft()
            worker = slot.workers[0]
            self.events.on_start(run, index, total)
            future = self.client.submit(
                dask_task.run_planned,
                self._job(run),
                key=f"streambench-{self._local.run_id}-{uuid.uuid4().hex}",
                workers=[worker],
                allow_other_workers=False,
                resources={"bench": 1},
                pure=False,
            )
            flights[future.key] = (slot, run, worker)
            self._in_flight[future.key] = future
            done.add(future)

        slots = self._slots()
        for slot in slots:
            if pending:
                submit(slot)
        for future in done:
            slot, run, worker = flights.pop(future.key)
            self._in_flight.pop(future.key, None)
            record = self._gathered(future, run, worker)
            future.release()
            self._local.store.append(record)  # the moment it exists
            records.append(record)
            self.events.on_record(record)
            if record.outcome == "crashed":
                self._wait_for(slot)  # its worker may be gone: the machine's next one, if any
            if pending and slot.workers:
                submit(slot)
            elif pending and not flights and not any(s.workers for s in slots):
                self.events.on_message(
                    f"no worker is left on any machine: {len(pending)} runs not run; "
                    "--resume runs them when workers are back"
                )
                break
        return records

    def _gathered(self, future: Any, run: PlannedRun, worker: str) -> Record:
        """The record a worker returned, or a crashed one saying why there is none."""
        try:
            return Record.from_json(future.result())
        except Exception as exc:  # KilledWorker, a lost connection, a worker-side error
            name = type(exc).__name__
            text = str(exc).splitlines()[0] if str(exc) else ""
            if name == "KilledWorker":
                why = f"dask worker {worker} died mid-run (KilledWorker, no retry)"
            else:
                why = f"on dask worker {worker}: {name}: {text}"
            record = self._local.lost(run, "cluster worker", why, {"dask_worker": worker})
            return replace(record, machine=dict(self.machines.get(worker) or {}))

    # --- the session's other calls -------------------------------------------

    def kill_current(self) -> None:
        """Ctrl-C: let go of the runs in flight; each worker's watcher kills its measured process."""
        futures = list(self._in_flight.values())
        if futures:
            self.client.cancel(futures, force=True)
        self._in_flight.clear()

    def finish(self) -> None:
        """Each worker's scratch files of this run go, then the client (and a local cluster) close."""
        with suppress(Exception):  # a worker gone took its runner (not its files) with it
            self.client.run(dask_task.finish, self._local.run_id)
        self._local.finish()
        self.close()

    def close(self) -> None:
        self.connection.close()
