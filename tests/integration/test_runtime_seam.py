"""The runtime seam (issue 24): a runtime of the tests' own, in one file, runs a cell end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streambench.harness import runtimes
from streambench.harness.cli import main
from streambench.strategies import registry
from tests.fixtures.runtimes.mini import MINI, MiniCopy
from tests.helpers import records_of


@pytest.fixture
def mini() -> Iterator[None]:
    runtimes.register(MINI)
    registry.register(MiniCopy)
    try:
        yield
    finally:
        runtimes.unregister(MINI.name)
        registry.unregister(MiniCopy.name)


def test_a_runtime_of_ones_own_runs_a_cell_through_session_runner_store_and_report(
    mini: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["run", "--strategy", "mini-copy,pipe", "--workload", "video:2MiB", "--sink", "null,file",
                 "--repeat", "2", "--warmup", "0", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (run_dir,) = out.iterdir()
    records = records_of(run_dir)
    mini_runs = [r for r in records if r["strategy"] == "mini-copy"]
    assert len(mini_runs) == 4 and all(
        r["runtime"] == "mini" and r["runtime_version"] == "1.0" for r in mini_runs
    )
    assert all(r["outcome"] == "ok" and r["verified"] for r in records)
    assert all(r["peak_rss_bytes"] and r["wall_s"] for r in mini_runs)
    page = (run_dir / "report.html").read_text()
    assert "mini-copy" in page
    # It has no profiler: none is planned for it (nor borrowed from another runtime).
    assert main(["run", "--strategy", "mini-copy", "--workload", "video:2MiB", "--sink", "null",
                 "--repeat", "1", "--warmup", "0", "--profile", "cpu", "--dry-run"]) == 0  # fmt: skip
    assert "plan: 1 runs" in capsys.readouterr().err


def test_a_strategy_whose_runtime_is_unknown_is_skipped_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.register(MiniCopy)
    try:
        assert main(["run", "--strategy", "mini-copy", "--workload", "video:1MiB", "--sink", "null",
                     "--dry-run"]) == 2  # fmt: skip
    finally:
        registry.unregister(MiniCopy.name)
    assert "no runtime runs 'mini' strategies" in capsys.readouterr().err
