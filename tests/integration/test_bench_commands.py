"""``bench-gate --real`` (real A/A and planted pairs, judged three ways) and ``bench-signals``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from streambench.harness.cli import main

PLANTS = (
    "A/A (nothing planted)",
    "2% slower (busy CPU)",
    "5% slower (busy CPU)",
    "10% slower (busy CPU)",
    "30% slower (busy CPU)",
    "an extra copy per chunk",
    "twice the write() calls",
)


@pytest.mark.slow  # real pairs of runs for every plant
def test_real_pairs_print_every_plant_and_the_counters_catch_twice_the_writes(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scratch = set(Path(tempfile.gettempdir()).glob("streambench-gate-*"))
    argv = ["bench-gate", "--real", "--pairs", "1", "--runs", "3", "--size", "16MiB"]
    argv += ["--data-dir", str(data_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows = {line[:30].strip(): line[30:].split() for line in out.splitlines() if line[:30].strip() in PLANTS}
    assert set(rows) == set(PLANTS)
    # columns: time change, then time, time vs reference, counters, gate as worse/same/undecided shares
    counters = {plant: cells[3].split("/") for plant, cells in rows.items()}
    assert counters["twice the write() calls"][0] == "100%"  # at 3 runs a side: counters decide
    assert counters["A/A (nothing planted)"][0] == "0%"  # and raise no alarm on an A/A pair
    # 3 runs a side give time no 95% interval: it never says "no change" on that evidence
    assert all(cells[1].split("/")[1] == "0%" for cells in rows.values())
    # what the benchmark wrote (its runs' records) is gone; the workload stays in the data folder
    assert set(Path(tempfile.gettempdir()).glob("streambench-gate-*")) == scratch


def test_bench_signals_prints_the_busy_and_idle_cost_on_node(capsys: pytest.CaptureFixture[str]) -> None:
    """The doctor's JS signals measured on and off in one process (harness/node/signals_cost.mjs)."""
    assert main(["bench-signals", "--runtime", "node", "--rounds", "3"]) == 0
    out = capsys.readouterr().out
    assert "node: the stream doctor's signals on vs off, 3 rounds A B B A" in out
    assert "overhead on a busy section" in out and "idle loop CPU, signals on / off" in out
    assert main(["bench-signals", "--runtime", "python"]) == 2  # no event-loop signals: one line
    assert "only the JS runtimes' workers record them" in capsys.readouterr().err
