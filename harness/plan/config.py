"""The one config object: the command line is parsed once into these frozen dataclasses.

The core (runner, worker, store) only ever sees these, never argparse.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streambench.harness.results.identity import cell_id, cell_key, cell_label
from streambench.workloads.cache import WorkloadSpec

SINKS: tuple[str, ...] = ("null", "file", "tcp", "http", "browser")
# Sinks whose far end is N viewers (the ``clients`` axis): HTTP clients, or browser pages.
VIEWER_SINKS = ("http", "browser")
TRANSFORM_NAMES: tuple[str, ...] = ("none", "gzip", "sha256", "grep", "csv-select")
CACHE_STATES: tuple[str, ...] = ("warm", "cold")
DEST_MODES: tuple[str, ...] = ("existing", "new")
HTTP_ROUTES: tuple[str, ...] = ("file", "export", "upload", "s3-upload", "missing-first")


@dataclass(frozen=True)
class Cell:
    """One point of the matrix: everything that decides what a run measures."""

    strategy: str
    workload: WorkloadSpec
    sink: str
    chunk_bytes: int
    cache: str = "warm"
    # Only a file sink has a destination; other sinks record "-".
    dest: str = "-"
    transform: str = "none"
    # How fast the consumer at the far end reads (null and tcp sinks; http viewers; a browser
    # page's emulated link); 0: as fast as it can.
    consumer_rate_bps: int = 0
    # The writable's high-water mark; 0: one chunk.
    high_water_mark_bytes: int = 0
    # http sink: how many viewers, and how much of the file each reads (0: all); browser sink:
    # how many pages play the video at once.
    clients: int = 0
    view_bytes: int = 0
    # http sink: "file" (GET the workload file) or "export" (a CSV export the server generates
    # on the fly: whole-file builds it all, pipe streams it), "upload", "s3-upload"; browser
    # sink: "file", or "missing-first" (a request for a missing file before the pages play).
    http_route: str = "file"
    # What runs the strategy (harness.runtimes); "": the default runtime of its language.
    runtime: str = ""

    def fields(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "workload": self.workload.name,
            "size_bytes": self.workload.size_bytes,
            "seed": self.workload.seed,
            "sink": self.sink,
            "chunk_bytes": self.chunk_bytes,
            "cache": self.cache,
            "dest": self.dest,
            "transform": self.transform,
            "consumer_rate_bps": self.consumer_rate_bps,
            "high_water_mark_bytes": self.high_water_mark_bytes,
            "clients": self.clients,
            "view_bytes": self.view_bytes,
            "http_route": self.http_route,
            "cell_runtime": self.runtime,
        }

    def key(self) -> dict[str, Any]:
        return cell_key(self.fields())

    @property
    def cell_id(self) -> str:
        """Stable across runs and machines: the same cell always gets the same id."""
        return cell_id(self.key())

    @property
    def label(self) -> str:
        return cell_label(self.fields())


@dataclass(frozen=True)
class MatrixConfig:
    """The axes; cells are their product."""

    strategies: tuple[str, ...]
    workloads: tuple[WorkloadSpec, ...]
    sinks: tuple[str, ...]
    chunk_sizes_bytes: tuple[int, ...]
    cache_states: tuple[str, ...] = ("warm",)
    dest: str = "existing"
    repeat: int = 3
    warmup: int = 1
    # --repeat auto: ``repeat`` first rounds, then rounds only where a question is open, within
    # ``budget_s`` seconds of runs (harness.plan.adaptive).
    adaptive: bool = False
    budget_s: float = 150.0
    transforms: tuple[str, ...] = ("none",)
    consumer_rates_bps: tuple[int, ...] = (0,)
    high_water_mark_bytes: int = 0
    clients: tuple[int, ...] = (1,)
    view_bytes: int = 0
    http_route: str = "file"
    # The runtime axis, per strategy (--runtime node,node@22,bun): the runtimes each strategy runs on
    # ("": its language's default); a strategy not listed runs on its default only.
    strategy_runtimes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # fio-style groups: when present, the matrix is the union of their products
    # (each group carries its own axes) and the axes above are only the first's.
    groups: tuple[MatrixConfig, ...] = ()

    def all_workloads(self) -> list[WorkloadSpec]:
        specs = [w for g in self.groups for w in g.workloads] if self.groups else list(self.workloads)
        return list(dict.fromkeys(specs))

    def cells(self) -> list[Cell]:
        """The product of the axes, without duplicates (a file sink has no consumer rate)."""
        if self.groups:
            return list(dict.fromkeys(c for g in self.groups for c in g.cells()))
        runtimes_of = dict(self.strategy_runtimes)
        subjects = [(s, r) for s in self.strategies for r in runtimes_of.get(s, ("",))]
        axes = itertools.product(
            self.workloads, subjects, self.transforms, self.sinks,
            self.consumer_rates_bps, self.chunk_sizes_bytes, self.cache_states,
        )  # fmt: skip
        out: dict[Cell, None] = {}
        for workload, (strategy, runtime), transform, sink, rate, chunk_bytes, cache in axes:
            viewers = sink in VIEWER_SINKS
            for clients in self.clients if viewers else (0,):
                cell = Cell(
                    strategy,
                    workload,
                    sink,
                    chunk_bytes,
                    cache,
                    dest=self.dest if sink == "file" else "-",
                    transform=transform,
                    consumer_rate_bps=0 if sink == "file" else rate,
                    high_water_mark_bytes=self.high_water_mark_bytes,
                    clients=clients,
                    view_bytes=self.view_bytes if sink == "http" else 0,
                    http_route=self.http_route if viewers else "file",
                    runtime=runtime,
                )
                out[cell] = None
        return list(out)


@dataclass(frozen=True)
class Placement:
    """Which cores the measured process, its far end (consumer) and the harness itself run on."""

    worker: tuple[int, ...]
    far_end: tuple[int, ...]
    parent: tuple[int, ...]

    def as_dict(self) -> dict[str, list[int]]:
        return {"worker": list(self.worker), "far_end": list(self.far_end), "parent": list(self.parent)}


@dataclass(frozen=True)
class EndpointSettings:
    """How a user's own server is reached and checked (``--serve``/``--url`` cells)."""

    # What the viewers GET from a --serve'd server (--url names its own path).
    path: str = "/"
    # The file its bodies must equal (--expect), when it does not serve the workload ($FILE).
    expect: Path | None = None
    # The port it listens on when it does not take $PORT (--port); 0: streambench picks one.
    port: int = 0
    # How long it may take to open its port.
    ready_timeout_s: float = 15.0


@dataclass(frozen=True)
class RunConfig:
    """A whole ``streambench run``: the matrix plus where things live and limits."""

    matrix: MatrixConfig
    out_dir: Path
    data_dir: Path
    timeout_s: float = 600.0
    rss_sample_interval_s: float = 0.01
    verify_workloads: bool = False
    plugins: bool = True
    # Fault injection: the consumer hangs up after this many bytes (0: never).
    consumer_close_after_bytes: int = 0
    # Each run's memory cap (0: none); over it the run is killed and recorded as oom.
    memory_limit_bytes: int = 0
    # The measured process's reads from the workload's device limited to this (0: none): a slow disk.
    disk_read_bps: int = 0
    # Cold runs also drop the whole page cache (root only; recorded either way).
    drop_caches: bool = False
    # CPU placement (--pin); None: wherever the scheduler puts them.
    pin: Placement | None = None
    # py-spy's samples per second in a CPU profiler pass (--profile-rate).
    profile_rate_hz: int = 100
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    extra: dict[str, str] = field(default_factory=dict)
