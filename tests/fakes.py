"""Fakes that stand in for processes, so whole sessions run in-process (hyperfine's mock executor).

``FakeExecutor`` is an executor factory: for each cell it gives an executor whose ``run`` makes a
deterministic measurement (no process, no clock, no byte moved): each strategy's throughput from a
table, times seeded noise per (cell, round), the far end's count and checksum the run's expected
ones (or a planted wrong one), a peak RSS per strategy. The session, the runner, the store, the
adaptive rounds, the report and compare all run as they do for real.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from streambench.harness.execute.context import RunContext
from streambench.harness.execute.executors import Executor
from streambench.harness.execute.measurement import MeasuredReport, Measurement
from streambench.harness.plan.config import Cell
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.sinks.handles import Received

GB = 1e9
MiB = 1 << 20


@dataclass
class FakeExecutor:
    """``executors=FakeExecutor({...})``: throughput (GB/s) per strategy; everything else made up."""

    gbps: Mapping[str, float]
    noise: float = 0.02  # uniform +-share per run
    peak_rss_bytes: Mapping[str, int] = field(default_factory=dict)
    corrupt: frozenset[str] = frozenset()  # strategies whose far end gets other bytes
    runs: list[PlannedRun] = field(default_factory=list)

    def __call__(self, cell: Cell) -> Executor:
        return _FakeRun(self)


@dataclass
class _FakeRun:
    fake: FakeExecutor

    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        self.fake.runs.append(planned)
        cell = planned.cell
        name = cell.strategy.split(":")[0]
        seed = zlib.crc32(f"{cell.cell_id}/{planned.repeat}/{planned.warmup}".encode())
        rng = random.Random(seed)
        gbps = self.fake.gbps.get(name, 1.0) * (1 + rng.uniform(-self.fake.noise, self.fake.noise))
        size = ctx.workload.manifest.size_bytes
        wall_s = size / (gbps * GB)
        started_at = 1000.0 + planned.repeat * 10
        base = 20 * MiB
        report = MeasuredReport(
            outcome="ok",
            bytes_moved=size,
            started_at=started_at,
            ended_at=started_at + wall_s,
            wall_s=wall_s,
            strategy_user_s=wall_s * 0.3,
            strategy_sys_s=wall_s * 0.6,
            peak_rss_bytes=base + self.fake.peak_rss_bytes.get(name, MiB),
            peak_rss_reset=True,
            baseline_rss_bytes=base,
            io={"rchar": size, "wchar": size, "syscr": size // 65536 + 1, "syscw": size // 65536 + 1},
        )
        checksum = "0" * 16 if name in self.fake.corrupt else ctx.expected.xxh3_64
        return Measurement(
            report=report,
            runtime="python",
            runtime_version="3.fake",
            user_s=wall_s,
            sys_s=wall_s,
            received=Received(ctx.expected.size_bytes, checksum, started_at + 0.001, started_at + wall_s),
        )
