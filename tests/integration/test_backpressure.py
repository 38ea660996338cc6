"""A slow consumer makes backpressure real: bounded strategies stay bounded, unbounded grows.

The tcp sink's peer reads at 50 MB/s in its own process while the disk (page
cache) delivers GB/s: whatever a strategy does not hold back piles up in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from tests.helpers import records_of

# Real matrices, servers or browsers: minutes in all (pytest -m "not slow" leaves them out).
pytestmark = [pytest.mark.slow, pytest.mark.alone]

MiB = 1 << 20
HWM_BYTES = 1 * MiB
CONSUMER_BPS = 50e6


def _records(tmp_path: Path, strategies: str, workloads: str) -> list[dict[str, Any]]:
    assert main([
        "run", "--no-plugins", "--strategy", strategies, "--workload", workloads,
        "--sink", "tcp", "--consumer-rate", "50MB/s", "--chunk-size", "64KiB",
        "--high-water-mark", "1MiB", "--repeat", "1", "--warmup", "0", "--out", str(tmp_path),
    ]) == 0  # fmt: skip
    (run_dir,) = list(tmp_path.iterdir())
    records = records_of(run_dir)
    for r in records:
        assert r["verified"], (r["strategy"], r["verify_detail"])
    return records


def _growth(r: dict[str, Any]) -> int:
    return int(r["peak_rss_bytes"] - r["baseline_rss_bytes"])


@pytest.fixture(scope="module")
def slow_tcp_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _records(
        tmp_path_factory.mktemp("bp"),
        "unbounded,pause-drain,pipe,async,threaded",
        "video:16MiB,video:48MiB",
    )


def test_unbounded_memory_grows_with_file_size(slow_tcp_records: list[dict[str, Any]]) -> None:
    by_size = {r["size_bytes"]: r for r in slow_tcp_records if r["strategy"] == "unbounded"}
    small, large = by_size[16 * MiB], by_size[48 * MiB]
    # Nearly all of a file the reader outran is held at once; 32 MiB more file
    # means (most of) 32 MiB more memory. Kernel socket buffers absorb a few MiB.
    assert _growth(large) - _growth(small) >= 0.6 * 32 * MiB
    # The timeline shows the pile: at its peak, most of what the reader had outrun (the file less
    # what the consumer had taken by then; a loaded machine's slower reader outruns it by less).
    peak_s, peak_bytes = max(large["buffered_timeline"], key=lambda point: point[1])
    outrun_bytes = 48 * MiB - CONSUMER_BPS * peak_s
    assert peak_bytes >= 0.8 * outrun_bytes >= 0.8 * 16 * MiB, (peak_s, peak_bytes)
    assert large["max_buffered_bytes"] >= peak_bytes


@pytest.mark.parametrize("strategy", ["pause-drain", "pipe", "async", "threaded"])
def test_backpressure_keeps_memory_bounded(strategy: str, slow_tcp_records: list[dict[str, Any]]) -> None:
    by_size = {r["size_bytes"]: r for r in slow_tcp_records if r["strategy"] == strategy}
    for r in by_size.values():
        # A few high-water marks above baseline, whatever the file size.
        assert _growth(r) < 4 * HWM_BYTES, (strategy, r["size_bytes"], _growth(r))
    if by_size[48 * MiB]["max_buffered_bytes"] is not None:
        assert by_size[48 * MiB]["max_buffered_bytes"] <= 2 * HWM_BYTES + 64 * 1024


def test_pause_drain_really_pauses(slow_tcp_records: list[dict[str, Any]]) -> None:
    r = next(r for r in slow_tcp_records if r["strategy"] == "pause-drain" and r["size_bytes"] == 48 * MiB)
    assert r["pauses"] > 0 and r["drains"] > 0
    assert r["buffered_timeline"], "pauses and drains are on the timeline"
    # At 50 MB/s, 48 MiB cannot take much less than a second: the consumer set the pace.
    assert r["wall_s"] >= 0.8 * (48 * MiB) / 50e6 - 0.2
