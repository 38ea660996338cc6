"""pytest plugin (entry point group ``pytest11``): the ``streambench_cell`` fixture.

One cell of streambench, measured through the harness's own worker processes inside
pytest-benchmark's ``benchmark.pedantic``::

    def test_pipe_is_fast(streambench_cell):
        runs = streambench_cell("pipe", workload="video:16MiB", sink="null", chunk="64KiB", rounds=3)
        assert all(r["peak_rss_bytes"] - r["baseline_rss_bytes"] < 8 << 20 for r in runs)

Each round is one ``Runner.run_one`` (a fresh worker, the sink's own verification, one
record appended to a results.jsonl under the test's tmp_path). pytest-benchmark's timer
would time the whole round trip (spawning the worker, preparing the cache state, collecting
the sink), so by default the benchmark's data are replaced by the worker's own ``wall_s``
(the time around ``strategy.run``, the figure streambench reports); ``timing="round-trip"``
keeps pytest-benchmark's. Every record goes into ``benchmark.extra_info["streambench_records"]``,
so ``streambench report`` reads a ``--benchmark-json`` file back into a full report.

The plugin does nothing unless a test asks for the fixture: no import of the harness, no
hook, no option.
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

RECORDS_KEY = "streambench_records"


class CellBenchmark:
    """Callable handed to a test: runs one cell, returns the measured records (dicts)."""

    def __init__(self, benchmark: Any, out_dir: Path, data_dir: Path) -> None:
        self.benchmark = benchmark
        self.out_dir = out_dir
        self.data_dir = data_dir

    def __call__(
        self,
        strategy: str,
        *,
        workload: str = "video:8MiB",
        sink: str = "null",
        chunk: str = "64KiB",
        cache: str = "warm",
        dest: str = "existing",
        transform: str = "none",
        consumer_rate: str = "unlimited",
        high_water_mark: str | None = None,
        seed: int = 0,
        rounds: int = 3,
        warmup_rounds: int = 1,
        timeout_s: float = 300.0,
        timing: str = "worker",
        check: bool = True,
    ) -> list[dict[str, Any]]:
        from streambench.harness.cell_session import CellSession
        from streambench.harness.common.errors import UsageError
        from streambench.harness.common.units import parse_rate, parse_size
        from streambench.harness.plan.applicability import skip_reason
        from streambench.harness.plan.config import Cell
        from streambench.strategies.registry import load_registry
        from streambench.workloads.cache import WorkloadSpec

        if timing not in ("worker", "round-trip"):
            raise ValueError(f"timing must be 'worker' or 'round-trip', not {timing!r}")
        kind, sep, size_text = workload.partition(":")
        if not sep:
            raise UsageError(f"bad workload {workload!r}: expected KIND:SIZE, e.g. video:8MiB")
        spec = WorkloadSpec(kind, parse_size(size_text), seed)
        rate = parse_rate(consumer_rate)
        cell = Cell(
            strategy,
            spec,
            sink,
            parse_size(chunk),
            cache,
            dest=dest if sink == "file" else "-",
            transform=transform,
            consumer_rate_bps=0 if sink == "file" else rate,
            high_water_mark_bytes=parse_size(high_water_mark) if high_water_mark else 0,
        )
        reason = skip_reason(cell, load_registry(plugins=True))
        if reason is not None:
            pytest.skip(f"{cell.label}: {reason}")
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
        ok = [r for r in measured if r["outcome"] == "ok" and r["wall_s"]]
        self.benchmark.extra_info.update(
            {
                "cell_id": cell.cell_id,
                "label": cell.label,
                "bytes_moved": spec.size_bytes,
                "throughput_gbps_median": (
                    statistics.median(r["bytes_moved"] / r["wall_s"] for r in ok) / 1e9 if ok else None
                ),
                "peak_rss_bytes_median": (
                    statistics.median(r["peak_rss_bytes"] for r in ok if r["peak_rss_bytes"] is not None)
                    if any(r["peak_rss_bytes"] is not None for r in ok)
                    else None
                ),
                "results_dir": str(session.store.run_dir),
                RECORDS_KEY: records,
            }
        )
        stats = getattr(getattr(self.benchmark, "stats", None), "stats", None)
        if timing == "worker" and stats is not None and len(ok) == len(measured) == len(stats.data):
            # Same rounds, the worker's own clock: what streambench itself reports.
            stats.data[:] = [float(r["wall_s"]) for r in measured]
        if check:
            bad = [r for r in measured if r["outcome"] != "ok" or not r["verified"]]
            if bad:
                first = bad[0]
                pytest.fail(
                    f"{len(bad)} of {len(measured)} runs of {cell.label} failed or were not verified: "
                    f"{first['outcome']}, {first['error'] or first['verify_detail']}"
                )
        return measured


@pytest.fixture
def streambench_cell(benchmark: Any, tmp_path: Path) -> CellBenchmark:
    """Run one streambench cell under pytest-benchmark (see the module doc)."""
    from streambench.workloads.cache import default_data_dir

    return CellBenchmark(benchmark, tmp_path, default_data_dir())
