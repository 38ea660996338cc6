"""The receiver's own log of delivered bytes, on real runs: null and tcp consumers, HTTP clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.results.record import SCHEMA_VERSION
from tests.helpers import records_of


def _check_log(record: dict[str, Any], total_bytes: int) -> None:
    log = record["delivered_timeline"]
    width = record["delivered_slice_s"]
    assert width == 0.01 and log, record["cell_id"]
    ends = [t for t, _ in log]
    assert ends == sorted(ends) and len(set(ends)) == len(ends), "slices in time order, one per slice"
    assert sum(n for _, n in log) == total_bytes, "the slices sum to the bytes moved"
    # On the run's clock: the first slice ends after the run started, the last one no later than
    # one slice after the receiver's last byte.
    assert ends[0] > 0
    assert ends[-1] <= (record["sink_last_byte_s"] or record["wall_s"]) + width + 1e-6


@pytest.mark.alone  # a pace assertion: beside the other worker a stalled consumer catches up in a burst
def test_consumers_log_what_they_read_in_10ms_slices(tmp_path: Path) -> None:
    # 100 MB/s over 16 MiB: about 17 slices of about 1 MB each, paced by the consumer.
    assert main([
        "run", "--strategy", "pipe,sendfile", "--workload", "video:16MiB", "--sink", "null,tcp",
        "--consumer-rate", "100MB/s", "--repeat", "1", "--warmup", "0", "--pin", "none",
        "--out", str(tmp_path),
    ]) == 0  # fmt: skip
    (run_dir,) = list(tmp_path.iterdir())
    records = records_of(run_dir)
    assert len(records) == 4
    for r in records:
        assert r["schema_version"] == SCHEMA_VERSION and r["verified"], r["verify_detail"]
        _check_log(r, r["bytes_received"])
        assert r["bytes_received"] == r["size_bytes"] == 16 << 20
        assert len(r["delivered_timeline"]) >= 10
        # paced: no 10 ms slice holds more than a few slices' worth of the rate
        assert max(n for _, n in r["delivered_timeline"]) <= 4 * 100e6 * 0.01
        assert r["workload_records"] == 0  # video: a binary kind has no records


def test_http_clients_log_their_bodies_summed_across_clients(tmp_path: Path) -> None:
    assert main([
        "run", "--strategy", "pipe", "--workload", "csv:4MiB", "--sink", "http", "--clients", "3",
        "--view-size", "1MiB", "--consumer-rate", "20MB/s", "--repeat", "1", "--warmup", "0",
        "--out", str(tmp_path),
    ]) == 0  # fmt: skip
    (run_dir,) = list(tmp_path.iterdir())
    (record,) = records_of(run_dir)
    assert record["verified"], record["verify_detail"]
    _check_log(record, 3 * (1 << 20))
    ttfbs = record["http"]["ttfb_clients_s"]
    assert len(ttfbs) == 3 and ttfbs == sorted(ttfbs) and all(t > 0 for t in ttfbs)
    assert record["workload_records"] > 0  # csv rows, for records per second
    page = (run_dir / "report.html").read_text()
    assert "TTFB across clients: file route, csv 4 MiB" in page  # the clients' TTFB as a CDF
    assert 'aria-label="delivered: throughput at the receiver' in page
