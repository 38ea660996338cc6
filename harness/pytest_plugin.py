"""pytest plugin (entry point group ``pytest11``): the ``streambench`` and ``streambench_cell`` fixtures.

``streambench`` runs several cells in one test, rounds interleaved (A B A B ...), and compares
them with the rule ``streambench compare`` gates on::

    def test_mine_keeps_up_with_readinto(streambench):
        runs = streambench.run("readinto", "./mine.py:Mine", workload="csv:64MiB", sink="null", rounds=15)
        mine = runs["./mine.py:Mine"]
        assert mine.peak_rss_bytes < 32 << 20
        vs = streambench.compare(runs["readinto"], mine, fail_on="10%")
        assert vs.throughput.judgement != "worse", vs.throughput.interval_text()

``streambench_cell`` measures one cell inside pytest-benchmark's ``benchmark.pedantic``::

    def test_pipe_is_fast(streambench_cell):
        runs = streambench_cell("pipe", workload="video:16MiB", sink="null", chunk="64KiB", rounds=3)
        assert all(r["peak_rss_bytes"] - r["baseline_rss_bytes"] < 8 << 20 for r in runs)

Each round is one ``Runner.run`` (a fresh worker, the sink's own verification, one record
appended to a results.jsonl under the test's tmp_path). A cell's axes are keyword arguments
(:class:`CellAxes`); a strategy is a name or the user's own module (``./copy.mjs``). For
``streambench_cell``, pytest-benchmark's timer would time the whole round trip, so by default its
data are replaced by the worker's own ``wall_s`` (``timing="round-trip"`` keeps pytest-benchmark's);
every record goes into ``benchmark.extra_info["streambench_records"]``, so ``streambench report``
reads a ``--benchmark-json`` file back into a full report.

The plugin does nothing unless a test asks for a fixture: no import of the harness, no hook, no
option. Installed, streambench is the ``streambench.*`` namespace, so a project with its own
``strategies/`` or ``reports/`` package is never shadowed.
"""

from __future__ import annotations

import secrets
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from streambench.harness.cell_session import CellSession
    from streambench.harness.plan.config import Cell
    from streambench.harness.results.record import Record
    from streambench.reports.compare import CellComparison

RECORDS_KEY = "streambench_records"


@dataclass(frozen=True)
class CellAxes:
    """A cell's axes as a test names them (the run flags' words and units)."""

    workload: str = "video:8MiB"
    sink: str = "null"
    chunk: str = "64KiB"
    cache: str = "warm"
    dest: str = "existing"
    transform: str = "none"
    consumer_rate: str = "unlimited"
    high_water_mark: str | None = None
    seed: int = 0

    def cell(self, strategy: str) -> Cell:
        """The cell; a user's module named by strategy or transform is checked first (one clear error)."""
        from streambench.harness.common.units import parse_rate, parse_size
        from streambench.harness.plan.config import Cell
        from streambench.harness.plan.spec import parse_workload
        from streambench.harness.plan.user_code import check_user_module

        check_user_module(strategy, "strategy")
        check_user_module(self.transform, "transform")
        rate = parse_rate(self.consumer_rate)
        return Cell(
            strategy,
            parse_workload(self.workload, self.seed),
            self.sink,
            parse_size(self.chunk),
            self.cache,
            dest=self.dest if self.sink == "file" else "-",
            transform=self.transform,
            consumer_rate_bps=0 if self.sink == "file" else rate,
            high_water_mark_bytes=parse_size(self.high_water_mark) if self.high_water_mark else 0,
        )


def _skip_unless_runnable(cell: Cell) -> None:
    from streambench.harness.plan.applicability import skip_reason
    from streambench.strategies.registry import load_registry

    reason = skip_reason(cell, load_registry(plugins=True))
    if reason is not None:
        pytest.skip(f"{cell.label}: {reason}")


def _fail_unless_good(label: str, records: list[Record]) -> None:
    bad = [r for r in records if r.outcome != "ok" or not r.verified]
    if bad:
        first = bad[0]
        pytest.fail(
            f"{len(bad)} of {len(records)} runs of {label} failed or were not verified: "
            f"{first.outcome}, {first.error or first.verify_detail}"
        )


@dataclass(frozen=True)
class CellRuns:
    """One cell's measured runs in a test (warm-ups left out)."""

    label: str
    records: list[Record]

    @property
    def good(self) -> list[Record]:
        """Runs that ended ok and whose bytes were verified: the only ones a figure comes from."""
        return [r for r in self.records if r.outcome == "ok" and r.verified and r.wall_s]

    @property
    def throughput_gbps(self) -> list[float]:
        return [r.bytes_moved / r.wall_s / 1e9 for r in self.good if r.wall_s]

    @property
    def median_gbps(self) -> float:
        return statistics.median(self.throughput_gbps) if self.good else float("nan")

    @property
    def peak_rss_bytes(self) -> int:
        """The highest peak RSS (VmHWM) of its good runs."""
        peaks = [r.peak_rss_bytes for r in self.good if r.peak_rss_bytes is not None]
        if not peaks:
            raise ValueError(f"{self.label}: no good run measured its peak RSS")
        return max(peaks)

    def __repr__(self) -> str:
        return (
            f"CellRuns({self.label}: {len(self.good)}/{len(self.records)} good, {self.median_gbps:.3f} GB/s)"
        )


class Runs(Mapping[str, CellRuns]):
    """``streambench.run``'s result: each strategy (as named) -> its :class:`CellRuns`."""

    def __init__(self, by_strategy: dict[str, CellRuns]) -> None:
        self._by_strategy = by_strategy

    def __getitem__(self, strategy: str) -> CellRuns:
        return self._by_strategy[strategy]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_strategy)

    def __len__(self) -> int:
        return len(self._by_strategy)


class Streambench:
    """The ``streambench`` fixture: cells run side by side, compared by ``compare``'s rule."""

    def __init__(self, out_dir: Path, data_dir: Path) -> None:
        self.out_dir = out_dir
        self.data_dir = data_dir

    def run(
        self, *strategies: str, rounds: int = 5, warmup_rounds: int = 1, timeout_s: float = 300.0,
        check: bool = True, **axes: Any,
    ) -> Runs:  # fmt: skip
        """Each strategy's cell (same axes, ``CellAxes``' keywords), ``rounds`` interleaved rounds after
        ``warmup_rounds`` each; with ``check``, a run that failed or was not verified fails the test."""
        from streambench.harness.cell_session import CellSession

        if not strategies:
            raise ValueError("name at least one strategy")
        spec = CellAxes(**axes)
        cells = {strategy: spec.cell(strategy) for strategy in dict.fromkeys(strategies)}
        for cell in cells.values():
            _skip_unless_runnable(cell)
        run_id = f"pytest-{secrets.token_hex(3)}"
        sessions = {
            name: CellSession(cell, self.out_dir, self.data_dir, run_id=f"{run_id}-{i}", timeout_s=timeout_s)
            for i, (name, cell) in enumerate(cells.items())
        }
        try:
            for warmup in (True, False):
                for _ in range(warmup_rounds if warmup else rounds):
                    for session in sessions.values():  # A B A B: drift falls on both alike
                        session.run(warmup=warmup)
        finally:
            for session in sessions.values():
                session.close()
        out = {name: _cell_runs(session) for name, session in sessions.items()}
        if check:
            for runs in out.values():
                _fail_unless_good(runs.label, runs.records)
        return Runs(out)

    def compare(self, base: CellRuns, cand: CellRuns, *, fail_on: str = "5%") -> CellComparison:
        """``cand`` against ``base`` by the rule ``streambench compare`` gates on: ``.verdict`` is "same",
        "better", "worse" or "undecided"; ``.throughput`` and ``.memory`` each a judged ratio with its
        interval (``.judgement``, ``.ratio``, ``.interval_text()``)."""
        from streambench.harness.common.units import parse_fraction
        from streambench.reports.compare import compare_samples, samples

        (a,) = samples(base.records).values()
        (b,) = samples(cand.records).values()
        # One key for both sides: two cells compared as the base and candidate of one.
        (cell,) = compare_samples({"cell": a}, {"cell": b}, parse_fraction(fail_on)).cells
        return cell


def _cell_runs(session: CellSession) -> CellRuns:
    return CellRuns(session.cell.label, [r for r in session.records if not r.warmup])


class CellBenchmark:
    """The ``streambench_cell`` fixture: one cell under pytest-benchmark; returns its records (dicts)."""

    def __init__(self, benchmark: Any, out_dir: Path, data_dir: Path) -> None:
        self.benchmark = benchmark
        self.out_dir = out_dir
        self.data_dir = data_dir

    def __call__(
        self, strategy: str, *, rounds: int = 3, warmup_rounds: int = 1, timeout_s: float = 300.0,
        timing: str = "worker", check: bool = True, **axes: Any,
    ) -> list[dict[str, Any]]:  # fmt: skip
        from streambench.harness.cell_session import CellSession

        if timing not in ("worker", "round-trip"):
            raise ValueError(f"timing must be 'worker' or 'round-trip', not {timing!r}")
        cell = CellAxes(**axes).cell(strategy)
        _skip_unless_runnable(cell)
        session = CellSession(
            cell, self.out_dir, self.data_dir, run_id=f"pytest-{secrets.token_hex(3)}", timeout_s=timeout_s
        )
        records: list[dict[str, Any]] = []
        # With --benchmark-disable, pedantic calls the target once, without warm-up.
        warmups = 0 if getattr(self.benchmark, "disabled", False) else warmup_rounds

        def one_round() -> None:
            records.append(asdict(session.run(warmup=len(records) < warmups)))

        try:
            self.benchmark.pedantic(one_round, rounds=rounds, warmup_rounds=warmup_rounds, iterations=1)
        finally:
            session.close()
        measured = [r for r in records if not r["warmup"]]
        self._report(cell, session, records, measured, timing)
        if check:
            _fail_unless_good(cell.label, [r for r in session.records if not r.warmup])
        return measured

    def _report(
        self, cell: Cell, session: CellSession, records: list[dict[str, Any]], measured: list[dict[str, Any]],
        timing: str,
    ) -> None:  # fmt: skip
        ok = [r for r in measured if r["outcome"] == "ok" and r["wall_s"]]
        peaks = [r["peak_rss_bytes"] for r in ok if r["peak_rss_bytes"] is not None]
        self.benchmark.extra_info.update(
            {
                "cell_id": cell.cell_id,
                "label": cell.label,
                "bytes_moved": cell.workload.size_bytes,
                "throughput_gbps_median": (
                    statistics.median(r["bytes_moved"] / r["wall_s"] for r in ok) / 1e9 if ok else None
                ),
                "peak_rss_bytes_median": statistics.median(peaks) if peaks else None,
                "results_dir": str(session.store.run_dir),
                RECORDS_KEY: records,
            }
        )
        stats = getattr(getattr(self.benchmark, "stats", None), "stats", None)
        if timing == "worker" and stats is not None and len(ok) == len(measured) == len(stats.data):
            # Same rounds, the worker's own clock: what streambench itself reports.
            stats.data[:] = [float(r["wall_s"]) for r in measured]


@pytest.fixture
def streambench(tmp_path: Path) -> Streambench:
    """Run cells side by side and compare them (see the module doc)."""
    from streambench.workloads.cache import default_data_dir

    return Streambench(tmp_path, default_data_dir())


@pytest.fixture
def streambench_cell(benchmark: Any, tmp_path: Path) -> CellBenchmark:
    """Run one streambench cell under pytest-benchmark (see the module doc)."""
    from streambench.workloads.cache import default_data_dir

    return CellBenchmark(benchmark, tmp_path, default_data_dir())
