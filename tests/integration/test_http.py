"""The HTTP scenario's server and clients, through real processes on 127.0.0.1.

One server process (module fixture) serves an 8 MiB video workload; client processes
from ``harness.http.clients_child`` ask it things. Byte-exactness is always checked against
the file (xxh3-64 of the exact range). The server's SO_SNDBUF is 64 KiB so a slow or
silent client's bytes stay on the server's side instead of filling megabytes of
kernel buffers: otherwise the server's part of a small body ends at once and "a
slow client beside a fast one" tests nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash

from streambench.harness.http.clients_child import LOOPBACK, ClientResult, ClientSpec
from streambench.harness.http.clients_handle import expected_xxh3, fetch, run_clients, start_clients
from streambench.harness.http.ranges import RangeAnswer, parse_range
from streambench.harness.http.server_child import ActiveBody, HttpServer, check_loopback_listener
from streambench.harness.http.server_config import ServerConfig
from streambench.harness.http.server_handle import ServerProcess
from streambench.strategies.http_serving import HTTP_STRATEGIES, BodyProgress, skip_reason
from streambench.workloads.cache import WorkloadSpec, ensure
from streambench.workloads.registry import GENERATORS
from tests.helpers import socket_inodes

MiB = 1 << 20
SIZE = 8 * MiB
IDLE_S = 1.0
CSV_BYTES = 96 * MiB
STRATEGIES = list(HTTP_STRATEGIES)
FAST_TTFB_LIMIT_S = 0.5


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure(WorkloadSpec("video", SIZE), tmp_path_factory.mktemp("http-data")).path


def _config(path: Path, **overrides: Any) -> ServerConfig:
    settings: dict[str, Any] = {
        "idle_timeout_s": IDLE_S,
        "chunk_bytes": 64 << 10,
        "sndbuf_bytes": 64 << 10,
        "csv_size_bytes": CSV_BYTES,
    }
    settings.update(overrides)
    return ServerConfig(path, **settings)


@pytest.fixture(scope="module")
def server(video: Path) -> Iterator[ServerProcess]:
    with ServerProcess.start(_config(video)) as srv:
        yield srv


def _settled_stats(srv: ServerProcess, baseline: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    """/stats once no body is active and tasks and connections are back to ``baseline``."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = srv.stats()
        settled = (
            stats["active_bodies"] == 0
            and stats["tasks"] == baseline["tasks"]
            and stats["connections"] == baseline["connections"]
        )
        if settled or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def _end_at(result: ClientResult) -> float:
    r = result.response
    assert r.request_sent_at is not None and r.last_byte_s is not None
    return r.request_sent_at + r.last_byte_s


# --- Range parsing, pure ------------------------------------------------------------

RANGE_TABLE: list[tuple[str | None, str, int, int]] = [
    # header, kind, start, length   (size 1000)
    (None, "full", 0, 1000),
    ("bytes=0-99", "partial", 0, 100),
    ("bytes=100-", "partial", 100, 900),
    ("bytes=-100", "partial", 900, 100),
    ("bytes=-5000", "partial", 0, 1000),  # suffix longer than the file: all of it
    ("bytes=990-5000", "partial", 990, 10),  # end clamped
    ("bytes=999-999", "partial", 999, 1),
    ("BYTES=0-0", "partial", 0, 1),  # the unit is case-insensitive
    ("bytes= 0-99", "partial", 0, 100),  # OWS around list elements
    ("bytes=0-0,", "partial", 0, 1),  # empty list elements are skipped
    ("bytes=1000-", "unsatisfiable", 0, 0),
    ("bytes=5000-6000", "unsatisfiable", 0, 0),
    ("bytes=-0", "unsatisfiable", 0, 0),
    ("bytes=" + "9" * 5000 + "-", "unsatisfiable", 0, 0),  # int() would refuse it
    ("bytes=abc", "full", 0, 1000),
    ("bytes=10-5", "full", 0, 1000),
    ("items=0-10", "full", 0, 1000),
    ("bytes=", "full", 0, 1000),
    ("bytes=1-2-3", "full", 0, 1000),
    ("bytes=+1-2", "full", 0, 1000),
    ("bytes 0-10", "full", 0, 1000),
    ("bytes=0-1,5-6", "full", 0, 1000),  # multi-range: ignored
    ("bytes=0-1,2000-3000", "full", 0, 1000),
]


@pytest.mark.parametrize(("header", "kind", "start", "length"), RANGE_TABLE)
def test_parse_range(header: str | None, kind: str, start: int, length: int) -> None:
    answer = parse_range(header, 1000)
    assert (answer.kind, answer.start, answer.length) == (kind, start, length), answer.reason


def test_parse_range_empty_file() -> None:
    assert parse_range("bytes=0-", 0).kind == "unsatisfiable"
    assert parse_range("bytes=-5", 0).kind == "unsatisfiable"
    assert parse_range(None, 0) == RangeAnswer("full", 0, 0, 0, "no Range")


# --- Range over HTTP ----------------------------------------------------------------

HTTP_RANGE_TABLE: list[tuple[str, int, tuple[int, int] | None]] = [
    # header, status, (start, length) of the body (None: no body check, 416)
    ("bytes=0-99", 206, (0, 100)),
    ("bytes=-100", 206, (SIZE - 100, 100)),
    ("bytes=8388000-", 206, (8388000, SIZE - 8388000)),
    ("bytes=12345-99999999", 206, (12345, SIZE - 12345)),
    ("bytes=4095-4096", 206, (4095, 2)),
    ("bytes=abc", 200, (0, SIZE)),
    ("bytes=10-5", 200, (0, SIZE)),
    ("items=0-10", 200, (0, SIZE)),
    ("bytes=0-1,5-6", 200, (0, SIZE)),
    ("bytes=0-0,", 206, (0, 1)),
    ("bytes=-0", 416, None),
    (f"bytes={SIZE}-", 416, None),
    ("bytes=99999999-", 416, None),
]


def test_range_table_over_http(server: ServerProcess, video: Path) -> None:
    specs = [
        ClientSpec(target=f"/file?strategy={STRATEGIES[i % len(STRATEGIES)]}", range=header)
        for i, (header, _, _) in enumerate(HTTP_RANGE_TABLE)
    ]
    results = run_clients(server.port, specs, processes=2)
    for (header, status, window), result in zip(HTTP_RANGE_TABLE, results, strict=True):
        r = result.response
        assert result.error is None, (header, result.error)
        assert r.status == status, header
        assert r.headers["accept-ranges"] == "bytes"
        if window is None:
            assert r.headers["content-range"] == f"bytes */{SIZE}", header
            continue
        start, length = window
        assert r.complete and r.body_bytes == length, header
        assert int(r.headers["content-length"]) == length
        assert r.xxh3_64 == expected_xxh3(video, start, length), header
        if status == 206:
            assert r.headers["content-range"] == f"bytes {start}-{start + length - 1}/{SIZE}"
        else:
            assert "content-range" not in r.headers


def test_head_and_content_type(server: ServerProcess) -> None:
    for headers in ((), (("Range", "bytes=0-9"),)):
        status, got, body = fetch(server.port, "/file?strategy=pipe", method="HEAD", headers=headers)
        # Range is defined for GET only (RFC 9110 §14.2): HEAD answers as for the whole file.
        assert (status, body) == (200, b"")
        assert got["content-length"] == str(SIZE)
        assert got["content-type"] == "video/mp4"
        assert got["accept-ranges"] == "bytes"


def test_if_range_is_answered_with_the_whole_file(server: ServerProcess) -> None:
    headers = (("Range", "bytes=0-9"), ("If-Range", '"some-etag"'))
    status, got, body = fetch(server.port, "/file?strategy=pipe", headers=headers)
    assert status == 200 and len(body) == SIZE and "content-range" not in got


def test_keep_alive_serves_several_requests_on_one_connection(server: ServerProcess, video: Path) -> None:
    specs = [
        ClientSpec(target="/file?strategy=sendfile", range="bytes=100-199", repeat=3),
        ClientSpec(target="/file?strategy=pipe", repeat=2),
    ]
    ranged, full = run_clients(server.port, specs)
    assert ranged.error is None and full.error is None
    assert [r.status for r in ranged.responses] == [206, 206, 206]
    assert {r.xxh3_64 for r in ranged.responses} == {expected_xxh3(video, 100, 100)}
    assert [r.status for r in full.responses] == [200, 200]
    assert {r.xxh3_64 for r in full.responses} == {expected_xxh3(video)}
    # All but the last asked for keep-alive, and the server kept the connection.
    assert ranged.responses[0].headers.get("connection", "keep-alive").lower() != "close"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_serves_byte_exact(server: ServerProcess, video: Path, strategy: str) -> None:
    windows = [None, (12345, 3_000_000), (SIZE - 777, 777), (4096, 65536)]
    specs = [
        ClientSpec(
            target=f"/file?strategy={strategy}",
            range=None if w is None else f"bytes={w[0]}-{w[0] + w[1] - 1}",
        )
        for w in windows
    ]
    for window, result in zip(windows, run_clients(server.port, specs), strict=True):
        start, length = window or (0, SIZE)
        assert result.error is None
        assert result.status == (200 if window is None else 206)
        assert result.response.complete and result.body_bytes == length
        assert result.xxh3_64 == expected_xxh3(video, start, length), (strategy, window)


def test_non_http_strategies_have_reasons() -> None:
    for name in ("readinto", "async", "threaded", "unbounded", "lines", "cat", "dd"):
        assert name not in HTTP_STRATEGIES
        assert skip_reason(name)
    for name in STRATEGIES:
        assert skip_reason(name) is None


# --- slow, silent and vanishing clients ---------------------------------------------


@pytest.mark.alone
def test_fast_clients_unharmed_beside_slow_ones(server: ServerProcess, video: Path) -> None:
    slow_range = (1_000_000, 2_000_000)
    slow = [
        ClientSpec(
            target=f"/file?strategy={s}",
            range=f"bytes={slow_range[0]}-{sum(slow_range) - 1}",
            rate_bps=1_000_000,
            rcvbuf_bytes=64 << 10,
            label=f"slow {s}",
        )
        for s in STRATEGIES
    ]
    fast = [
        ClientSpec(target=f"/file?strategy={s}", start_delay_s=0.5, label=f"fast {s}") for s in STRATEGIES
    ]
    run = start_clients(server.port, [*slow, *fast])
    # Mid-run: the slow bodies are still being written by the server, not parked in the kernel.
    time.sleep(max(0.0, run.start_at + 0.3 - time.monotonic()))
    deadline = run.start_at + 1.5
    while (active := server.stats()["active_bodies"]) < len(slow) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert active >= len(slow)
    results = run.wait()
    slow_results, fast_results = results[: len(slow)], results[len(slow) :]
    for r in fast_results:
        assert r.error is None and r.status == 200, r.label
        assert r.xxh3_64 == expected_xxh3(video), r.label
        assert r.ttfb_s is not None and r.ttfb_s < FAST_TTFB_LIMIT_S, (r.label, r.ttfb_s)
        rate = r.response.body_rate_bps
        assert rate is not None and rate > 20e6, (r.label, rate)
    slowest_fast_end = max(_end_at(r) for r in fast_results)
    for r in slow_results:
        assert r.error is None and r.status == 206, r.label
        assert r.xxh3_64 == expected_xxh3(video, *slow_range), r.label
        # The fast ones came and went while every slow one was still mid-body.
        assert _end_at(r) > slowest_fast_end, r.label


@pytest.mark.alone
def test_fast_clients_unharmed_beside_a_cpu_bound_csv_stream(server: ServerProcess) -> None:
    specs = [ClientSpec(target="/export.csv?mode=stream", label="csv")]
    specs += [
        ClientSpec(target=f"/file?strategy={s}", start_delay_s=0.1, label=f"fast {s}") for s in STRATEGIES
    ]
    csv, *fast = run_clients(server.port, specs)
    expected = xxhash.xxh3_64()
    expected_bytes = 0
    for block in GENERATORS["csv"].blocks(CSV_BYTES, 0):
        expected.update(block.data)
        expected_bytes += len(block.data)
    assert csv.error is None and csv.status == 200
    assert csv.response.headers["transfer-encoding"] == "chunked"
    assert (csv.body_bytes, csv.xxh3_64) == (expected_bytes, expected.hexdigest())
    for r in fast:
        assert r.error is None and r.status == 200 and r.response.complete, r.label
        # Sent while the export was being generated, answered at once all the same.
        assert r.request_sent_at is not None and r.request_sent_at < _end_at(csv), r.label
        assert r.ttfb_s is not None and r.ttfb_s < FAST_TTFB_LIMIT_S, (r.label, r.ttfb_s)


def test_silent_clients_are_cut_after_the_idle_timeout(server: ServerProcess, video: Path) -> None:
    baseline = server.stats()
    silent = [
        ClientSpec(target=f"/file?strategy={s}", stall_s=5.0, rcvbuf_bytes=64 << 10, label=f"silent {s}")
        for s in STRATEGIES
    ]
    # Connections that never finish (or never start) their request: aiohttp's keep-alive timeout.
    idle = [
        ClientSpec(stall_s=5.0, stall_send="partial", label="partial headers"),
        ClientSpec(stall_s=5.0, stall_send="nothing", label="connect only"),
    ]
    fast = [
        ClientSpec(target=f"/file?strategy={s}", start_delay_s=0.3, label=f"fast {s}") for s in STRATEGIES
    ]
    results = run_clients(server.port, [*silent, *idle, *fast])
    for r in results[: len(silent) + len(idle)]:
        assert r.error is None, r.label
        closed = r.closed_by_server_after_s
        assert closed is not None and IDLE_S * 0.9 <= closed <= IDLE_S * 3, (r.label, closed)
    # When the server first cut a silent client (each cut is timed from that client's request).
    first_cut_at = min(float(r.request_sent_at or 0) + float(r.closed_by_server_after_s or 0)
                       for r in results[: len(silent)])  # fmt: skip
    for r in results[len(silent) + len(idle) :]:
        assert r.error is None and r.status == 200, r.label
        assert r.xxh3_64 == expected_xxh3(video), r.label
        assert r.ttfb_s is not None and r.request_sent_at is not None, r.label
        # Not held back by the silent ones: answered at once, or (a loaded machine, once a CI run's
        # 1.1 s) at least before the server cut any of them.
        answered_at = r.request_sent_at + r.ttfb_s
        assert r.ttfb_s < FAST_TTFB_LIMIT_S or answered_at < first_cut_at, (r.label, r.ttfb_s)
    after = _settled_stats(server, baseline)
    assert after["idle_timeouts"] - baseline["idle_timeouts"] == len(silent)
    assert after["errors"] == baseline["errors"]
    assert (after["active_bodies"], after["tasks"], after["connections"]) == (
        0,
        baseline["tasks"],
        baseline["connections"],
    )


def test_clients_hanging_up_mid_body_leave_nothing_behind(server: ServerProcess, video: Path) -> None:
    baseline = server.stats()
    quitters = [
        ClientSpec(
            target=f"/file?strategy={s}",
            disconnect_after_bytes=MiB,
            rcvbuf_bytes=64 << 10,
            label=f"quits {s}",
        )
        for s in STRATEGIES
    ]
    fast = [
        ClientSpec(target=f"/file?strategy={s}", start_delay_s=0.3, label=f"fast {s}") for s in STRATEGIES
    ]
    results = run_clients(server.port, [*quitters, *fast])
    for r in results[: len(quitters)]:
        assert r.error is None and r.status == 200 and r.body_bytes == MiB, r.label
        assert not r.response.complete
        assert r.xxh3_64 == expected_xxh3(video, 0, MiB), r.label
    for r in results[len(quitters) :]:
        assert r.error is None and r.xxh3_64 == expected_xxh3(video), r.label
    after = _settled_stats(server, baseline)
    assert after["client_disconnects"] - baseline["client_disconnects"] == len(quitters)
    assert after["errors"] == baseline["errors"], after["error_messages"]
    assert (after["active_bodies"], after["tasks"], after["connections"]) == (
        0,
        baseline["tasks"],
        baseline["connections"],
    )


# --- what the server will and will not serve ----------------------------------------


@pytest.mark.parametrize(
    "target",
    ["/etc/passwd", "/file/", "/../file", "/%2e%2e/file", "/file/../file", "//file", "/FILE", "/"],
)
def test_only_file_is_served(server: ServerProcess, target: str) -> None:
    status, _, body = fetch(server.port, target)
    assert status == 404, (target, body[:100])


def test_the_url_never_names_what_is_opened(server: ServerProcess, video: Path) -> None:
    status, _, body = fetch(server.port, "/file?strategy=pipe&path=/etc/passwd&file=/etc/hostname")
    assert status == 200 and xxhash.xxh3_64(body).hexdigest() == expected_xxh3(video)
    assert fetch(server.port, "/file?strategy=readinto")[0] == 400
    assert fetch(server.port, "/file?strategy=../../etc/passwd")[0] == 400
    assert fetch(server.port, "/export.csv?mode=nope")[0] == 400
    assert fetch(server.port, "/file", method="POST")[0] == 405


def _proc_net(kind: str) -> dict[str, tuple[str, str]]:
    """inode -> (local, remote) hex addresses from /proc/net/<kind>."""
    out = {}
    with open(f"/proc/net/{kind}") as f:
        next(f)
        for line in f:
            fields = line.split()
            out[fields[9]] = (fields[1], fields[2])
    return out


def test_no_traffic_off_loopback(server: ServerProcess) -> None:
    slow = ClientSpec(
        target="/file?strategy=pipe", rate_bps=4_000_000, range="bytes=0-1999999", label="viewer"
    )
    run = start_clients(server.port, [slow, ClientSpec(target="/file?strategy=sendfile")])
    time.sleep(max(0.0, run.start_at + 0.2 - time.monotonic()))
    before = socket_inodes(server.pid)
    tcp = _proc_net("tcp")
    with open("/proc/net/unix") as f:
        next(f)
        unix_inodes = {line.split()[6] for line in f}
    # Only sockets held throughout: one closed meanwhile (the sendfile viewer done) is in no table.
    inodes = before & socket_inodes(server.pid)
    loopback_hex = "0100007F"  # 127.0.0.1, little-endian
    seen_tcp = 0
    for inode in inodes:
        for kind in ("tcp6", "udp", "udp6", "raw", "raw6"):
            assert inode not in _proc_net(kind), (kind, inode)
        if inode in tcp:
            local, remote = tcp[inode]
            assert local.startswith(loopback_hex), local
            assert remote.split(":")[0] in (loopback_hex, "00000000"), remote  # the listener has none
            seen_tcp += 1
        else:
            assert inode in unix_inodes, inode  # asyncio's self-pipe
    results = run.wait()
    assert seen_tcp >= 2  # the listener and at least the viewer's connection
    for r in results:
        assert r.error is None
        assert r.peer == f"{LOOPBACK}:{server.port}" and r.local.startswith(f"{LOOPBACK}:")
    unbound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with unbound, pytest.raises(ValueError, match=r"not 127\.0\.0\.1"):
        check_loopback_listener(unbound)


# --- the server process itself -------------------------------------------------------


@pytest.mark.parametrize("signal_stop", [False, True], ids=["control-fd", "SIGTERM"])
def test_server_reports_itself_when_stopped(video: Path, signal_stop: bool) -> None:
    with ServerProcess.start(_config(video)) as srv:
        results = run_clients(
            srv.port,
            [ClientSpec(target="/file?strategy=whole-file"), ClientSpec(target="/file", range="bytes=0-9")],
        )
        assert [r.status for r in results] == [200, 206]
        report = srv.stop(signal_stop=signal_stop)
        assert srv.proc.returncode == 0
    json.dumps(report)
    assert report["event"] == "report"
    assert report["stopped_by"] == ("SIGTERM" if signal_stop else "control-fd")
    section = report["section"]  # the contract's keys (harness.measure.report)
    assert section["peak_rss_reset"] is True
    assert report["requests"] == 2 and report["errors"] == 0
    assert report["bytes_sent"] == SIZE + 10
    assert report["by_status"] == {"200": 1, "206": 1}
    assert report["by_strategy"]["whole-file"] == {"requests": 1, "bytes_sent": SIZE}
    # whole-file held the 8 MiB body: the server's own peak shows it.
    assert section["peak_rss_bytes"] >= section["baseline_rss_bytes"] + SIZE
    assert section["sampled_peak_rss_anon_bytes"] is not None and report["rss_samples"] > 0


def test_idle_watchdog_cuts_a_stalled_body_but_not_a_busy_one(video: Path) -> None:
    # In-process: the watchdog's rule alone, with a deadline as the server sets one.
    async def scenario() -> tuple[str, str]:
        srv = HttpServer(_config(video, idle_timeout_s=0.1))
        watcher = asyncio.create_task(srv.watch_idle())

        async def hold(busy: bool) -> str:
            progress = BodyProgress()
            body = ActiveBody(None, progress, asyncio.get_running_loop().time())
            srv.active[id(body)] = body
            try:
                async with asyncio.timeout(None) as deadline:
                    body.deadline = deadline
                    with progress.producing() if busy else contextlib.nullcontext():
                        await asyncio.sleep(0.5)  # a long read, or a client that never reads
                return "finished"
            except TimeoutError:
                return "cut"
            finally:
                del srv.active[id(body)]

        try:
            stalled, busy = await asyncio.gather(hold(False), hold(True))
        finally:
            watcher.cancel()
        return stalled, busy

    assert asyncio.run(scenario()) == ("cut", "finished")


def test_http_capability_matches_the_serving_table() -> None:
    from streambench.strategies.base import Capability
    from streambench.strategies.http_serving import HTTP_STRATEGIES
    from streambench.strategies.registry import load_registry

    registry = load_registry(plugins=False)
    with_http = {n for n in registry.names() if Capability.HTTP in registry.get(n).capabilities}
    assert with_http == set(HTTP_STRATEGIES)


def test_a_server_killed_mid_upload_leaves_no_upload_folder(video: Path) -> None:
    """Uploads are stored under $TMPDIR/streambench-uploads-<pid>-*: a server killed while storing
    one (at the cap, by a crash) cannot remove it, so its handle does once the server is gone."""
    import tempfile

    from streambench.harness.http.server_child import upload_dir_prefix

    with ServerProcess.start(_config(video)) as srv:
        pid = srv.proc.pid
        with socket.create_connection((LOOPBACK, srv.port)) as sock:
            # Half a body: the server has made its folder and is storing the upload.
            sock.sendall(
                b"POST /upload?mode=stream HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                + b"x" * 500_000
            )
            folders = f"{upload_dir_prefix(pid)}*"
            deadline = time.monotonic() + 5
            while not list(Path(tempfile.gettempdir()).glob(folders)) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert list(Path(tempfile.gettempdir()).glob(folders)), (
                "the server stores the upload in its folder"
            )
            srv.kill()
        srv.close()
    assert not list(Path(tempfile.gettempdir()).glob(folders))
