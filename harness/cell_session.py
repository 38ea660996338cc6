"""One cell run round by round outside a matrix: the pytest plugin's and ``bench-overhead``'s runs.

The same runner, worker, probes and verification as a matrix run; records go to
``out_dir/<run_id>/results.jsonl`` as they exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streambench.harness.execute.runner import Runner
from streambench.harness.plan.config import Cell, MatrixConfig, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.results.record import Record
from streambench.harness.results.store import ResultStore
from streambench.workloads import cache


@dataclass
class CellSession:
    """Rounds of one cell; ``run`` appends each record the moment it exists."""

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
        self.runner = Runner(config, self.store, {self.cell.workload: workload})

    def run(self, *, warmup: bool = False) -> Record:
        """One more round of this cell, appended to the store the moment it exists."""
        repeat = sum(1 for r in self.records if r.warmup == warmup)
        (record,) = self.runner.run([PlannedRun(self.cell, repeat, warmup)])
        self.records.append(record)
        return record

    def close(self) -> None:
        self.runner.finish()


@contextmanager
def cell_session(cell: Cell, out_dir: Path, data_dir: Path, **kwargs: Any) -> Iterator[CellSession]:
    session = CellSession(cell, out_dir, data_dir, **kwargs)
    try:
        yield session
    finally:
        session.close()
