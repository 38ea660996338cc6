"""The stream doctor's rules on records of known shape: HTTP runs (the server is the subject, its viewers
the consumer; uploads and S3 uploads), the main thread's scheduling (blocked vs waiting for a CPU),
what it does not read (browser runs)."""

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


def test_browser_runs_say_why_they_are_not_read() -> None:
    reading = diagnose(_record(sink="browser", http_route="file"))
    assert reading.bound == "-" and "plays the video in real time" in reading.sentence


def test_uploads_are_read_with_the_receiver_or_the_uploader_as_the_subject() -> None:
    upload = diagnose(_record(http_route="upload", clients=4))
    assert upload.bound == "consumer"
    assert (
        upload.sentence.startswith("The uploading clients set the pace")
        and "from 4 clients" in upload.sentence
    )
    s3 = diagnose(_record(http_route="s3-upload", clients=1))
    assert s3.sentence.startswith("The S3 server set the pace") and "waited for the S3 server" in s3.sentence


def test_waiting_for_a_cpu_another_process_had_is_cpu_bound_and_said() -> None:
    """On a CPU 45% and runnable-but-waiting 45%: the CPU (this machine's) set the pace, not the sink."""
    scheduled = {"main_thread_on_cpu_s": 0.45, "main_thread_runqueue_s": 0.45}
    reading = diagnose(_record(sink="null", clients=0, wall_s=1.0, strategy_user_s=0.2, strategy_sys_s=0.25,
                               **scheduled))  # fmt: skip
    assert reading.bound == "cpu"
    assert "it waited 45% of the run for a CPU other processes had" in reading.sentence


def test_a_blocked_main_thread_is_the_consumers_pace_and_says_how_long() -> None:
    reading = diagnose(_record(sink="tcp", clients=0, wall_s=1.0, strategy_user_s=0.1, strategy_sys_s=0.2,
                               main_thread_on_cpu_s=0.3, main_thread_runqueue_s=0.02))  # fmt: skip
    assert reading.bound == "consumer" and "its main thread blocked 68% of the run" in reading.sentence
    evidence = reading.findings[-1].evidence
    assert abs(float(evidence["main_thread_blocked_share"]) - 0.68) < 1e-9


def test_small_chunks_are_a_fault_whoever_waits_unless_a_consumer_limit_sets_the_pace() -> None:
    calls = {"syscr": 1024 * 64, "syscw": 1024 * 64, "rchar": 64 * MiB, "wchar": 64 * MiB}
    small = _record(sink="null", clients=0, size_bytes=64 * MiB, bytes_moved=64 * MiB, chunk_bytes=1024,
                    io=calls, main_thread_on_cpu_s=0.8, main_thread_runqueue_s=0.0)  # fmt: skip
    assert diagnose(small).bound == "small-chunks"
    paced = _record(sink="tcp", clients=0, size_bytes=64 * MiB, bytes_moved=64 * MiB, chunk_bytes=1024,
                    io=calls, wall_s=6.4, consumer_rate_bps=10_000_000)  # fmt: skip
    assert diagnose(paced).bound == "consumer"


def test_a_cold_run_not_cpu_bound_is_the_disk_and_names_what_it_read() -> None:
    reading = diagnose(_record(sink="null", clients=0, cache="cold", wall_s=1.0, strategy_user_s=0.05,
                               strategy_sys_s=0.6, main_thread_on_cpu_s=0.65, main_thread_runqueue_s=0.0,
                               io={"read_bytes": 256 * MiB}))  # fmt: skip
    assert reading.bound == "disk"
    assert "256 MiB read from the device" in reading.sentence and "blocked 35%" in reading.sentence
