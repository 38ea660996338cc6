"""The stream doctor on HTTP runs: the server is the subject and its viewers the consumer; browser runs
and uploads say why they are not read."""

from __future__ import annotations

from typing import Any

from streambench.harness.results.diagnosis import diagnose
from streambench.harness.results.record import SCHEMA_VERSION
from tests.helpers import as_records

MiB = 1 << 20


def _record(**fields: Any) -> Any:
    base: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "strategy": "pipe", "workload": "video", "size_bytes": 256 * MiB,
        "sink": "http", "http_route": "file", "clients": 16, "chunk_bytes": 65536, "repeat": 0,
        "warmup": False, "outcome": "ok", "verified": True, "wall_s": 2.0, "bytes_moved": 256 * MiB,
        "strategy_user_s": 0.2, "strategy_sys_s": 0.3, "peak_rss_bytes": 30 * MiB,
        "baseline_rss_bytes": 20 * MiB, "peak_rss_anon_bytes": 12 * MiB,
        "baseline_rss_anon_bytes": 10 * MiB, "consumer_rate_bps": 0,
    }  # fmt: skip
    base.update(fields)
    (record,) = as_records([base])
    return record


def test_a_server_that_waits_for_its_viewers_is_bound_by_them() -> None:
    reading = diagnose(_record())
    assert reading.bound == "consumer" and not reading.fault
    assert (
        reading.sentence.startswith("The viewers set the pace") and "16 viewers over HTTP" in reading.sentence
    )


def test_a_whole_file_server_holding_the_file_per_viewer_is_memory_o_n() -> None:
    grown = 20 * MiB + 16 * 256 * MiB
    reading = diagnose(_record(strategy="whole-file", peak_rss_bytes=grown, peak_rss_anon_bytes=grown))
    assert reading.bound == "memory-O(n)" and reading.fault


def test_a_busy_server_is_cpu_bound() -> None:
    reading = diagnose(_record(strategy_user_s=1.2, strategy_sys_s=0.6))
    assert reading.bound == "cpu" and not reading.fault


def test_browser_runs_and_uploads_say_why_they_are_not_read() -> None:
    assert "plays the video in real time" in diagnose(_record(sink="browser", http_route="file")).sentence
    upload = diagnose(_record(http_route="upload"))
    assert upload.bound == "-" and "from the clients to the server" in upload.sentence
