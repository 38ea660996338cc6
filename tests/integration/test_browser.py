"""A real mp4 in a real headless Chromium, from each kind of server, at a few MiB.

The mp4 kinds (ffmpeg) and the browser cells run through the runner as a matrix
would: the video plays; moov at the end makes a Range server see a tail request
before the first frame and makes the seed's server (no Range) send the whole
body first; the seed's seek is not honoured and a Range server's is; a missing
file kills the seed's server (recorded, the next run goes on) and is a 404 from
pipeline(); no request leaves 127.0.0.1 and no browser or server outlives its run.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.browser.player import PlayerSettings
from streambench.harness.common.errors import UsageError
from streambench.harness.execute.runner import Runner
from streambench.harness.plan.config import Cell, MatrixConfig, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.plan.spec import parse_workload
from streambench.harness.results.record import Record
from streambench.harness.results.store import ResultStore
from streambench.reports.claims import METRICS
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec
from tests.helpers import chromium_or_skip, ours

pytestmark = pytest.mark.slow

MiB = 1 << 20
SIZE = 8 * MiB  # five 2 s clips: a 10 s video
CHUNK = 256 << 10


def _needs_tools() -> None:
    chromium_or_skip()
    for tool in ("ffmpeg", "node"):
        if shutil.which(tool) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(
                    f"{tool} is not installed, and CI must run the browser tests (.ci/run installs it)"
                )
            pytest.skip(f"{tool} is not installed")


def _boxes(path: Path) -> list[str]:
    """The top-level ISO-BMFF boxes of a file, in order."""
    data, out, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        out.append(kind.decode())
        offset += size
    return out


def test_the_mp4_kinds_are_real_videos_with_their_moov_where_asked(tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    start = cache.ensure(parse_workload("mp4:4MiB", 3), tmp_path)
    end = cache.ensure(parse_workload("mp4:4MiB:moov=end", 3), tmp_path)
    assert (start.spec.kind, end.spec.kind) == ("mp4", "mp4-moov-end")
    assert _boxes(start.path)[:2] == ["ftyp", "moov"]
    assert _boxes(end.path)[-1] == "moov" and "mdat" in _boxes(end.path)
    for workload in (start, end):
        details = workload.manifest.details
        assert details["duration_s"] > 0
        assert details["duration_s"] == pytest.approx(details["loops"] * details["clip_s"])
        assert details["ffmpeg_version"] and details["moov"] in ("start", "end")
        # About the asked size: the clip's multiple nearest it.
        assert abs(workload.manifest.size_bytes - 4 * MiB) <= details["clip_bytes"]
    # The same spec gives the same bytes (x264 on one thread, bit-exact muxing).
    again = cache.generate(WorkloadSpec("mp4", 4 * MiB, 3), tmp_path / "again")
    assert again.manifest.xxh3_64 == start.manifest.xxh3_64
    other_seed = cache.ensure(WorkloadSpec("mp4", 4 * MiB, 4), tmp_path)
    assert other_seed.manifest.xxh3_64 != start.manifest.xxh3_64
    # Nothing of the generation is left beside the files.
    assert not list((tmp_path / "workloads").glob("*.sb-tmp"))


def test_mp4_options_and_leftovers() -> None:
    with pytest.raises(UsageError, match="moov=start or moov=end"):
        parse_workload("mp4:4MiB:moov=middle", 0)
    with pytest.raises(UsageError, match="takes no options"):
        parse_workload("video:4MiB:moov=end", 0)


def test_a_dead_generations_clip_folder_is_removed(tmp_path: Path) -> None:
    folder = cache.workload_dir(tmp_path)
    (folder / "mp4-clip.abc.999999999.sb-tmp").mkdir(parents=True)
    (folder / "mp4-clip.abc.999999999.sb-tmp" / "clip.mp4").write_bytes(b"x")
    live = folder / f"mp4-clip.def.{os.getpid()}.sb-tmp"
    live.mkdir()
    assert cache.remove_stale_temps(tmp_path) == 1
    assert live.exists() and not (folder / "mp4-clip.abc.999999999.sb-tmp").exists()


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runner, dict[str, Any]]]:
    _needs_tools()
    data_dir = Path(os.environ["STREAMBENCH_DATA_DIR"])
    specs = [WorkloadSpec("mp4", SIZE, 1), WorkloadSpec("mp4-moov-end", SIZE, 1)]
    workloads = {s: cache.ensure(s, data_dir) for s in specs}
    out = tmp_path_factory.mktemp("browser")
    config = RunConfig(
        matrix=MatrixConfig(("sendfile",), tuple(specs), ("browser",), (CHUNK,), repeat=1, warmup=0),
        out_dir=out,
        data_dir=data_dir,
        timeout_s=60.0,
        memory_limit_bytes=2 << 30,
    )
    run = Runner(config, ResultStore(out / "browser-test"), workloads)
    yield run, {s.kind: s for s in specs}
    run.finish()
    _none_left(chromium=True)  # the session's Chromium goes with the session


def _run(runner: tuple[Runner, dict[str, Any]], strategy: str, kind: str, **cell: Any) -> dict[str, Any]:
    run, specs = runner
    planned = PlannedRun(Cell(strategy, specs[kind], "browser", CHUNK, **{"clients": 1, **cell}), 0, False)
    record = asdict(run.run_one(planned))
    _none_left(chromium=False)  # the Chromium is kept for the session's next run; its pages are not
    browser = record["browser"]
    assert browser["cached_responses"] == 0, "a page started with a warm cache"
    assert browser["browser_runs_before"] >= 0
    return record


def _none_left(*, chromium: bool) -> None:
    """Nothing of the run is alive: no server process, and (``chromium``) no chromium of ours."""
    left = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or not ours(int(entry.name)):
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ")
            comm = Path(f"/proc/{entry.name}/comm").read_text().strip()
        except OSError:
            continue
        # aiohttp's server is forked by a forkserver kept for the session (its command line is the
        # forkserver's; its name sb-server), or started from argv.
        if (
            (chromium and b"streambench-chromium-" in cmdline)
            or b"harness/node/server.mjs" in cmdline
            or comm == "sb-server"
            or (b"harness.http.server_child" in cmdline and b"forkserver" not in cmdline)
        ):
            left.append(cmdline.decode(errors="replace")[:120])
    assert not left, left


def _pages(record: dict[str, Any]) -> list[dict[str, Any]]:
    assert record["outcome"] == "ok", record["error"]
    return list(record["browser"]["pages"])


@pytest.mark.alone
@pytest.mark.parametrize("strategy", ["sendfile", "node-pipeline"])
def test_a_range_server_plays_at_once_and_honours_the_seek(
    runner: tuple[Runner, dict[str, Any]], strategy: str
) -> None:
    record = _run(runner, strategy, "mp4")
    (page,) = _pages(record)
    assert record["verified"], record["verify_detail"]
    # requestVideoFrameCallback's `now` is the start of the rendering frame the first frame is in,
    # which may precede the loadedmetadata handler of that same frame by a few ms (5.8 ms seen on CI).
    frame_s = 1 / 30
    assert page["metadata_s"] > 0 and page["metadata_s"] - frame_s <= page["first_frame_s"] < 5
    assert page["seek_honoured"] is True and abs(page["seek_position_s"] - page["seek_target_s"]) <= 0.5
    assert page["seek_s"] is not None and page["seek_s"] < 5
    watch_s = PlayerSettings().watch_s
    assert watch_s * 0.9 <= page["watched_s"] < watch_s + 1 and page["stalls"] is not None
    # moov first: the player never needed the tail before its first frame.
    assert page["range_requests_before_first_frame"] == 0
    assert record["browser"]["off_loopback_requests"] == []
    # The server's memory, measured as for any http cell.
    assert record["peak_rss_bytes"] > 0 and record["runtime"] == ("node" if "node" in strategy else "python")
    # The first page's screenshots are kept with the run.
    shots = record["browser"]["screenshots"]
    assert [Path(s).name for s in shots] == ["first-frame.jpg", "after-seek.jpg"]
    run_dir = runner[0].store.run_dir
    assert all((run_dir / s).read_bytes()[:3] == b"\xff\xd8\xff" for s in shots)


def test_moov_at_the_end_makes_a_range_server_see_a_tail_request(
    runner: tuple[Runner, dict[str, Any]],
) -> None:
    record = _run(runner, "node-pipeline", "mp4-moov-end")
    (page,) = _pages(record)
    assert page["first_frame_s"] is not None and page["seek_honoured"]
    tail = [r for r in page["ranges_before_first_frame"] if r and not r.startswith("bytes=0-")]
    assert page["range_requests_before_first_frame"] == len(tail) >= 1
    # The tail request asks for the last part of the file, where the moov box is.
    start = int(tail[0].removeprefix("bytes=").split("-")[0])
    assert start > record["size_bytes"] * 0.9


def test_the_seeds_server_reads_the_whole_body_first_and_cannot_seek(
    runner: tuple[Runner, dict[str, Any]],
) -> None:
    start, end = _run(runner, "node-pipe", "mp4"), _run(runner, "node-pipe", "mp4-moov-end")
    for record in (start, end):
        (page,) = _pages(record)
        assert page["first_frame_s"] is not None  # it plays...
        assert page["seek_honoured"] is False  # ...but the seek goes nowhere
        assert abs(page["seek_position_s"] - page["seek_target_s"]) > 1
        assert page["range_requests_before_first_frame"] == 0  # it was asked for none but bytes=0-
    assert METRICS["seek_honoured_share"](Record.from_json(start)) == 0.0
    assert METRICS["seek_s"](Record.from_json(start)) == float("inf")
    # moov at the end and no Range: the whole body reaches the browser before its first frame.
    (page,) = end["browser"]["pages"]
    assert page["share_before_first_frame"] >= 0.9


def test_the_missing_file_companion(runner: tuple[Runner, dict[str, Any]]) -> None:
    seed = _run(runner, "node-pipe", "mp4", http_route="missing-first")
    assert seed["outcome"] == "crashed"
    assert "missing file" in seed["error"] and "ENOENT" in seed["error"]
    assert seed["browser"]["server_alive_after_missing"] is False
    assert seed["browser"]["played_pages"] == 0
    # The next run goes on, on a server with error handling: 404, and the viewer plays.
    safe = _run(runner, "node-pipeline", "mp4", http_route="missing-first")
    assert safe["outcome"] == "ok" and safe["verified"], safe["verify_detail"]
    assert safe["browser"]["missing_status"] == 404 and safe["browser"]["server_alive_after_missing"]
    assert safe["browser"]["played_pages"] == 1


def test_four_throttled_pages_each_get_their_link(runner: tuple[Runner, dict[str, Any]]) -> None:
    rate_bps = 1_250_000  # 10 Mbit/s
    record = _run(runner, "sendfile", "mp4", clients=4, consumer_rate_bps=rate_bps)
    pages = _pages(record)
    assert len(pages) == 4 and record["browser"]["played_pages"] == 4
    wall_s = record["wall_s"]
    for page in pages:
        # No page got more than its link allows (10% slack for the first burst).
        assert page["received_bytes"] <= rate_bps * wall_s * 1.1 + 256 * 1024
        assert page["bytes_before_first_frame"] < SIZE / 4
    assert record["browser"]["per_client_bytes"] is not None
