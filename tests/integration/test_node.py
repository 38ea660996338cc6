"""Node.js in the harness: the seeds' own stream code through the same sinks, probes and checks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.machine.calibrate import ensure_calibrated
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec
from tests.helpers import ours, records_of, truncated_after

MiB = 1 << 20
NODE_STRATEGIES = ("node-readfile", "node-pipe", "node-pause-drain", "node-pipeline", "node-async-iter")
STREAMING = NODE_STRATEGIES[1:]

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None and os.environ.get("CI") != "true",
    reason="node is not installed (.ci/run installs Debian's nodejs)",
)


def _run(out: Path, *argv: str, status: int = 0) -> list[dict[str, Any]]:
    assert main(["run", "--no-plugins", "--repeat", "1", "--warmup", "0", "--out", str(out), *argv]) == status
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return records_of(run_dir)


def _growth(r: dict[str, Any]) -> int:
    return int(r["peak_rss_bytes"] - r["baseline_rss_bytes"])


def _running(script: bytes) -> list[int]:
    """Live processes running one of harness/node's scripts."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and ours(int(entry.name)):
            try:
                argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(a.endswith(b"harness/node/" + script) for a in argv):
                found.append(int(entry.name))
    return found


def _node_processes() -> list[int]:
    return _running(b"worker.mjs") + _running(b"server.mjs")


def test_every_node_strategy_is_byte_exact_into_every_sink(tmp_path: Path) -> None:
    records = _run(tmp_path, "--strategy", ",".join(NODE_STRATEGIES), "--workload", "video:4MiB",
                   "--sink", "null,tcp,file")  # fmt: skip
    assert len(records) == len(NODE_STRATEGIES) * 3
    for r in records:
        assert r["outcome"] == "ok" and r["verified"], (
            r["strategy"],
            r["sink"],
            r["error"],
            r["verify_detail"],
        )
        assert r["runtime"] == "node" and r["runtime_version"][0].isdigit()
        notes = r["strategy_notes"]
        # What Node really used, read back from the streams: one chunk each unless told.
        assert notes["writable_high_water_mark_bytes"] == 64 << 10
        if r["strategy"] != "node-readfile":
            assert notes["readable_high_water_mark_bytes"] == 64 << 10
        assert set(notes["memory_at_peak"]) >= {"rss", "heapUsed", "external", "arrayBuffers"}
        assert r["peak_rss_method"] == "VmHWM after clear_refs"


def test_node_transforms_are_byte_exact(tmp_path: Path) -> None:
    records = _run(tmp_path, "--strategy", ",".join(STREAMING), "--workload", "log:4MiB",
                   "--transform", "gzip,sha256,grep", "--sink", "null,file")  # fmt: skip
    assert len(records) == len(STREAMING) * 3 * 2
    for r in records:
        assert r["outcome"] == "ok" and r["verified"], (r["strategy"], r["transform"], r["verify_detail"])
        if r["transform"] == "gzip":
            # Node's zlib writes other bytes than Python's: the far end decodes and checks the workload.
            assert r["sink_detail"]["decoded"] == "gzip" and 0 < r["sink_detail"]["wire_bytes"] < 4 * MiB
            assert r["strategy_notes"]["gzip_level"] == 1
        if r["transform"] == "grep":
            assert r["strategy_notes"]["lines_kept"] > 0


def test_csv_select_is_skipped_for_node_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--strategy", "node-pipe,pipe", "--workload", "csv:1MiB", "--transform", "csv-select",
                 "--sink", "null", "--out", str(tmp_path), "--dry-run"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    # One cell left, at the default's two first rounds.
    assert "skipped 1 cell(s): csv-select has no JS transform" in err and "plan: 2 runs" in err


@pytest.mark.alone  # memory that grows with a lag: beside the other worker a stream's garbage piles up
def test_node_readfile_holds_the_file_and_streams_do_not(tmp_path: Path) -> None:
    # Past ~40 MiB of garbage Buffers V8 collects them: below that a stream's peak still
    # follows the file, so the sizes are 64 and 256 MiB.
    records = _run(tmp_path, "--strategy", ",".join(NODE_STRATEGIES),
                   "--workload", "video:64MiB,video:256MiB", "--sink", "null")  # fmt: skip
    by = {(r["strategy"], r["size_bytes"]): r for r in records}
    for size in (64 * MiB, 256 * MiB):
        readfile = by["node-readfile", size]
        assert _growth(readfile) >= 0.95 * size
        # Where the bytes lived: one Buffer outside V8's heap.
        assert readfile["strategy_notes"]["memory_at_peak"]["arrayBuffers"] >= 0.95 * size
    for name in STREAMING:
        small, large = _growth(by[name, 64 * MiB]), _growth(by[name, 256 * MiB])
        # O(1): four times the file, not four times the memory (V8's heap and Buffer pool, not the
        # file): 192 MiB more file, at most 15% of it more memory (readFile: 95% and more). V8's
        # garbage lags: a loaded CI run's async iterator grew 27 then 43 MiB.
        assert large < 64 * MiB and large - small <= 0.15 * 192 * MiB, (name, small, large)


def test_a_slow_tcp_consumer_makes_node_pause_and_stay_bounded(tmp_path: Path) -> None:
    records = _run(tmp_path, "--strategy", "node-pause-drain,node-async-iter", "--workload", "video:24MiB",
                   "--sink", "tcp", "--consumer-rate", "50MB/s", "--high-water-mark", "1MiB")  # fmt: skip
    for r in records:
        assert r["verified"], r["verify_detail"]
        assert r["pauses"] > 0 and r["drains"] == r["pauses"]
        assert r["max_buffered_bytes"] <= 2 * MiB  # the writable HWM plus one chunk
        assert _growth(r) < 32 * MiB


def test_a_peer_that_hangs_up_is_an_error_with_nodes_words(tmp_path: Path) -> None:
    records = _run(tmp_path, "--strategy", ",".join(NODE_STRATEGIES), "--workload", "video:8MiB",
                   "--sink", "null,tcp", "--consumer-close-after", "1MiB", status=4)  # fmt: skip
    for r in records:
        assert r["outcome"] == "error" and not r["verified"], (r["strategy"], r["sink"], r["outcome"])
        assert any(w in str(r["error"]) for w in ("EPIPE", "ECONNRESET")), r["error"]
    assert _node_processes() == []


def test_a_truncated_source_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("STREAMBENCH_DATA_DIR", str(data_dir))
    workload = cache.ensure(WorkloadSpec("video", 16 * MiB, seed=8), data_dir)
    ensure_calibrated(data_dir)  # before the timer: a first run would calibrate the machine first

    # 1 s in, the run (4 MB/s consumer, 16 MiB) is well under way.
    with truncated_after(workload.path, 1.0, 1 * MiB):
        (r,) = _run(tmp_path / "out", "--strategy", "node-pipe", "--workload", "video:16MiB", "--seed", "8",
                    "--sink", "null", "--consumer-rate", "4MB/s", status=4)  # fmt: skip
    assert r["outcome"] == "error" and "the source changed size" in str(r["error"])
    assert _node_processes() == []


def test_the_cpu_pass_writes_a_cpuprofile_with_samples_in_the_strategy(tmp_path: Path) -> None:
    records = _run(tmp_path, "--strategy", "node-pause-drain", "--workload", "video:128MiB",
                   "--sink", "null", "--profile", "cpu")  # fmt: skip
    (timed,) = [r for r in records if r["profiler"] is None]
    (cpu,) = [r for r in records if r["profiler"] == "cpu"]  # one pass: V8's profile holds idle time too
    assert timed["verified"] and cpu["verified"], cpu["verify_detail"]
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    profile = json.loads((run_dir / cpu["profile_artifacts"]["cpu_profile"]).read_text())
    assert profile["samples"] and profile["nodes"]
    assert cpu["profile"]["samples"] > 0 and cpu["profile"]["strategy_share"] > 0
    assert cpu["profile_overhead"] is not None


def test_node_cells_are_skipped_with_the_reason_where_node_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streambench.harness.runtimes import js

    real_which = shutil.which
    monkeypatch.setattr(js.shutil, "which", lambda n: None if n == "node" else real_which(n))
    assert main(["run", "--strategy", "node-pipe,pipe", "--workload", "video:1MiB", "--sink", "null",
                 "--out", str(tmp_path), "--dry-run"]) == 0  # fmt: skip
    assert "node is not installed" in capsys.readouterr().err


def test_node_servers_serve_the_viewers_and_the_seeds_ignores_range(tmp_path: Path) -> None:
    records = _run(tmp_path, "--strategy", "node-pipe,node-pipeline", "--workload", "video:8MiB",
                   "--sink", "http", "--clients", "2", "--view-size", "1MiB", status=4)  # fmt: skip
    by = {r["strategy"]: r for r in records}
    ranged = by["node-pipeline"]
    assert ranged["outcome"] == "ok" and ranged["verified"], ranged["verify_detail"]
    assert ranged["runtime"] == "node" and ranged["http"]["seeking_clients"] == 1
    assert ranged["peak_rss_bytes"] > 0 and ranged["peak_rss_method"] == "VmHWM after clear_refs"
    seed = by["node-pipe"]
    # Asked for 1 MiB windows, the seed's endpoint answered 200 with the whole file (no Range).
    assert seed["outcome"] == "error" and "got 200: Range not honoured" in seed["error"]
    assert _node_processes() == []
