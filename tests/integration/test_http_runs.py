"""The http sink through the runner: a real server per run, N real viewers, one record."""

from __future__ import annotations

import json
from pathlib import Path

from streambench.harness.cli import main
from tests.helpers import records_of


def test_http_cells_record_the_server_and_the_viewers(tmp_path: Path) -> None:
    assert main([
        "run", "--strategy", "sendfile,pipe,readinto", "--workload", "video:8MiB", "--sink", "http",
        "--clients", "1,4", "--view-size", "1MiB", "--consumer-rate", "20MB/s", "--repeat", "1",
        "--warmup", "0", "--out", str(tmp_path),
    ]) == 0  # fmt: skip
    (run_dir,) = list(tmp_path.iterdir())
    records = records_of(run_dir)
    assert sorted((r["strategy"], r["clients"]) for r in records) == [
        ("pipe", 1), ("pipe", 4), ("sendfile", 1), ("sendfile", 4),
    ]  # fmt: skip
    for r in records:
        http = r["http"]
        assert r["outcome"] == "ok" and r["verified"], r["verify_detail"]
        assert http["failed_clients"] == 0 and r["view_bytes"] == 1 << 20
        assert r["bytes_moved"] == r["clients"] * (1 << 20)
        assert 0 < http["ttfb_p50_s"] <= http["ttfb_p99_s"] < 5
        assert r["peak_rss_bytes"] >= r["baseline_rss_bytes"] > 0  # the server's own VmHWM
        assert http["per_client_bytes"] is not None
        assert http["seeking_clients"] == r["clients"] // 2
    skipped = json.loads((run_dir / "run.json").read_text())["skipped_cells"]
    assert {s["strategy"] for s in skipped} == {"readinto"}
    assert all("cannot serve HTTP" in s["reason"] for s in skipped)


def test_uploads_are_stored_byte_exact_and_read_whole_costs_the_body(tmp_path: Path) -> None:
    assert main([
        "run", "--strategy", "whole-file,pipe", "--workload", "video:16MiB", "--sink", "http",
        "--http-route", "upload", "--clients", "2", "--repeat", "1", "--warmup", "0", "--out", str(tmp_path),
    ]) == 0  # fmt: skip
    (run_dir,) = list(tmp_path.iterdir())
    by = {r["strategy"]: r for r in records_of(run_dir)}
    for r in by.values():
        assert r["outcome"] == "ok" and r["verified"], r["verify_detail"]
        assert r["bytes_moved"] == 2 * (16 << 20)  # what the server stored, by its own count
        assert "stored byte-exact" in r["verify_detail"]
    # read() holds each body whole; iter_chunked holds chunks.
    assert by["whole-file"]["http"]["per_client_bytes"] >= 0.9 * (16 << 20)
    assert by["pipe"]["http"]["per_client_bytes"] < 8 << 20  # bounded: aiohttp reads ahead a few MiB
