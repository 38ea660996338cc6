"""The cache trusts only complete, matching files; video is deterministic and MP4-shaped."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import xxhash

from streambench.harness.common.errors import UsageError
from streambench.workloads import cache
from streambench.workloads.base import Segments
from streambench.workloads.cache import WorkloadSpec
from streambench.workloads.registry import GENERATORS


def _bytes_of(kind: str, size_bytes: int, seed: int) -> bytes:
    return b"".join(bytes(b.data) for b in GENERATORS[kind].blocks(size_bytes, seed))


def test_video_is_deterministic_and_seeded() -> None:
    a = _bytes_of("video", 3 << 20, seed=1)
    assert a == _bytes_of("video", 3 << 20, seed=1)
    assert a != _bytes_of("video", 3 << 20, seed=2)
    assert len(a) == 3 << 20


def test_videos_bytes_are_pinned_and_never_repeat() -> None:
    """Version 3 makes its payload from a 4 MiB pool, a window of it per 1 MiB segment, each 4 KiB
    page XORed with its own key: past the pool's size no 64-bit word repeats (a reused window under
    one key would), and the bytes are pinned (the cache keys files by the version)."""
    size_bytes = (9 << 20) + 12345  # past two pools' worth
    data = _bytes_of("video", size_bytes, seed=7)
    words = np.frombuffer(data, dtype="<u8", offset=48, count=(size_bytes - 48) // 8)
    assert np.unique(words).size == words.size
    assert xxhash.xxh3_64_hexdigest(_bytes_of("video", (3 << 20) + 12345, seed=7)) == "40d9ef1351365095"


@pytest.mark.parametrize("size_bytes", [48, (1 << 20) + 48, (5 << 20) + 4099])
def test_video_written_by_threads_is_its_blocks(tmp_path: Path, size_bytes: int) -> None:
    """The cache makes ``video``'s segments on several threads, in any order, at their offsets:
    the file is the sequential blocks' bytes, and the manifest's checksum is the file's."""
    workload = cache.generate(WorkloadSpec("video", size_bytes, seed=5), tmp_path)
    assert workload.path.read_bytes() == _bytes_of("video", size_bytes, seed=5)
    assert workload.manifest.xxh3_64 == cache.file_checksum(workload.path)


def test_a_failing_segment_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A segment that cannot be made (a bug, a full disk) stops every thread; no file survives."""
    generator = GENERATORS["video"]
    real = generator.segments

    def failing(size_bytes: int, seed: int, assets: Path) -> Segments:
        segments = real(size_bytes, seed, assets)

        def fill(index: int, out: memoryview) -> memoryview:
            if index == 3:
                raise OSError(28, "No space left on device")
            return segments.fill(index, out)

        return dataclasses.replace(segments, fill=fill)

    monkeypatch.setattr(generator, "segments", failing)
    with pytest.raises(OSError, match="No space"):
        cache.generate(WorkloadSpec("video", 8 << 20), tmp_path)
    assert not list(cache.workload_dir(tmp_path).iterdir())


@pytest.mark.parametrize("size_bytes", [1, 31, 48, 49, 1000, (8 << 20) + 5])
def test_video_exact_sizes(size_bytes: int) -> None:
    assert len(_bytes_of("video", size_bytes, seed=0)) == size_bytes


def test_video_starts_with_ftyp_and_mdat() -> None:
    data = _bytes_of("video", 1 << 20, seed=0)
    assert data[4:8] == b"ftyp"
    assert data[8:12] == b"isom"
    box_bytes = int.from_bytes(data[0:4], "big")
    assert data[box_bytes + 4 : box_bytes + 8] == b"mdat"
    # 64-bit largesize covers exactly the rest of the file
    assert int.from_bytes(data[box_bytes + 8 : box_bytes + 16], "big") == len(data) - box_bytes


def test_generate_writes_manifest_and_reuses(tmp_path: Path) -> None:
    spec = WorkloadSpec("video", 2 << 20, seed=3)
    workload = cache.ensure(spec, tmp_path)
    assert workload.path.stat().st_size == 2 << 20
    assert workload.manifest.xxh3_64 == cache.file_checksum(workload.path)
    mtime_ns = workload.path.stat().st_mtime_ns
    again = cache.ensure(spec, tmp_path)
    assert again.path.stat().st_mtime_ns == mtime_ns  # reused, not regenerated
    assert not list(cache.workload_dir(tmp_path).glob(f"*{cache.TMP_SUFFIX}"))


def test_truncated_file_is_detected_and_regenerated(tmp_path: Path) -> None:
    spec = WorkloadSpec("video", 1 << 20, seed=0)
    workload = cache.ensure(spec, tmp_path)
    with open(workload.path, "r+b") as f:
        f.truncate(1000)
    messages: list[str] = []
    fixed = cache.ensure(spec, tmp_path, message=messages.append)
    assert fixed.path.stat().st_size == 1 << 20
    assert cache.file_checksum(fixed.path) == workload.manifest.xxh3_64
    assert messages and "size is 1000 bytes" in messages[0]


def test_corrupted_file_is_caught_by_verify(tmp_path: Path) -> None:
    spec = WorkloadSpec("video", 1 << 20, seed=0)
    workload = cache.ensure(spec, tmp_path)
    with open(workload.path, "r+b") as f:
        f.seek(5000)
        f.write(b"corrupt!")
    # A size check alone cannot see it ...
    assert cache.check_cached(spec, tmp_path)[0] is not None
    # ... a full checksum can, and ensure() regenerates the right bytes.
    assert cache.check_cached(spec, tmp_path, verify=True)[0] is None
    messages: list[str] = []
    fixed = cache.ensure(spec, tmp_path, verify=True, message=messages.append)
    assert cache.file_checksum(fixed.path) == workload.manifest.xxh3_64
    assert "checksum" in messages[0]


def test_file_without_manifest_is_not_trusted(tmp_path: Path) -> None:
    spec = WorkloadSpec("video", 1 << 20, seed=0)
    workload = cache.ensure(spec, tmp_path)
    _, manifest_path = cache.paths_for(spec, tmp_path)
    manifest_path.unlink()
    assert cache.check_cached(spec, tmp_path)[0] is None
    assert cache.ensure(spec, tmp_path).manifest.xxh3_64 == workload.manifest.xxh3_64


def test_interrupted_generation_leaves_nothing_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = WorkloadSpec("video", 20 << 20, seed=0)
    calls = 0

    def interrupt(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.generate(spec, tmp_path, progress=interrupt)
    path, manifest_path = cache.paths_for(spec, tmp_path)
    assert not path.exists() and not manifest_path.exists()
    assert not list(cache.workload_dir(tmp_path).iterdir())


def test_stale_temp_from_dead_process_is_removed(tmp_path: Path) -> None:
    directory = cache.workload_dir(tmp_path)
    directory.mkdir(parents=True)
    # pid 2**22+1 is above the default pid_max: certainly not alive.
    stale = directory / f"video-1B-seed0-v1.mp4.{(1 << 22) + 1}{cache.TMP_SUFFIX}"
    stale.write_bytes(b"x")
    live = directory / f"video-1B-seed0-v1.mp4.{os.getpid()}{cache.TMP_SUFFIX}"
    live.write_bytes(b"x")
    assert cache.remove_stale_temps(tmp_path) == 1
    assert not stale.exists() and live.exists()


def test_free_space_check_names_bytes(tmp_path: Path) -> None:
    spec = WorkloadSpec("video", 1 << 60, seed=0)
    with pytest.raises(UsageError, match=r"need \d+ bytes .* \d+ available"):
        cache.generate(spec, tmp_path)


def test_unknown_kind_is_usage_error() -> None:
    with pytest.raises(UsageError, match="valid kinds"):
        WorkloadSpec("mp3", 10)


def test_preallocation_reserves_blocks_and_keeps_the_size(tmp_path: Path) -> None:
    """A new workload's blocks are reserved before it is written; its size still grows only as bytes
    come, and where fallocate cannot (a pipe here) nothing happens."""
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        cache.preallocate(fd, 1 << 20)
        st = os.fstat(fd)
        assert st.st_size == 0 and st.st_blocks * 512 >= 1 << 20
    finally:
        os.close(fd)
    read_end, write_end = os.pipe()
    try:
        cache.preallocate(write_end, 1 << 20)
    finally:
        os.close(read_end)
        os.close(write_end)
    workload = cache.generate(WorkloadSpec("csv", (1 << 20) + 7), tmp_path)
    assert workload.path.stat().st_size == workload.manifest.size_bytes >= (1 << 20) + 7


def test_smaller_text_workloads_are_cut_from_the_largest(tmp_path: Path) -> None:
    """csv at three sizes in one pass: each file, its checksum and record count are what generating
    it alone makes."""
    specs = [WorkloadSpec("csv", size, seed=4) for size in (3 << 20, 40, 1 << 20, (1 << 20) + 999)]
    made = cache.generate_family(specs, tmp_path / "family")
    assert made.keys() == set(specs)
    largest = made[specs[0]]
    assert "cut_from" not in largest.manifest.details
    for spec in specs[1:]:
        alone = cache.generate(spec, tmp_path / "alone")
        cut = made[spec]
        assert cut.path.read_bytes() == alone.path.read_bytes()
        assert cut.manifest.details["cut_from"] == largest.path.name
        assert (cut.manifest.size_bytes, cut.manifest.records, cut.manifest.xxh3_64) == (
            alone.manifest.size_bytes,
            alone.manifest.records,
            alone.manifest.xxh3_64,
        )
        assert cache.check_cached(spec, tmp_path / "family", verify=True)[1] == "ok"
    assert not list((tmp_path / "family" / "workloads").glob(f"*{cache.TMP_SUFFIX}"))


def test_families_group_the_sizes_of_a_text_kind_and_seed_only(tmp_path: Path) -> None:
    """video's header holds its size (no prefix property): each of its sizes is a family of its own."""
    csv_1, csv_2, csv_other_seed = (WorkloadSpec("csv", 1 << 20), WorkloadSpec("csv", 2 << 20),
                                    WorkloadSpec("csv", 1 << 20, 2))  # fmt: skip
    video_1, video_2 = WorkloadSpec("video", 1 << 20), WorkloadSpec("video", 2 << 20)
    assert cache.families([csv_1, video_1, csv_2, video_2, csv_other_seed]) == [
        [csv_1, csv_2], [video_1], [video_2], [csv_other_seed]
    ]  # fmt: skip
    for specs in ([csv_1, csv_other_seed], [video_1, video_2]):
        with pytest.raises(ValueError, match="not one family"):
            cache.generate_family(specs, tmp_path)
    (video,) = cache.generate_family([video_2], tmp_path).values()
    assert (
        video.path.read_bytes() == _bytes_of("video", 2 << 20, 0) and "cut_from" not in video.manifest.details
    )


def test_a_run_cuts_a_smaller_size_from_the_larger_and_verifies_both(tmp_path: Path) -> None:
    """The session's part: a matrix asking csv at two sizes (seed 11) makes the larger file once and
    cuts the other; every run reads its own bytes and verifies them against the manifest's xxh3."""
    from streambench.harness.cli import main
    from tests.helpers import records_of

    data_dir = tmp_path / "data"
    assert main(["run", "--no-plugins", "--strategy", "pipe", "--workload", "csv:1MiB,csv:3MiB",
                 "--seed", "11", "--sink", "null", "--repeat", "1", "--warmup", "0",
                 "--data-dir", str(data_dir), "--out", str(tmp_path / "out")]) == 0  # fmt: skip
    (run_dir,) = list((tmp_path / "out").iterdir())
    records = records_of(run_dir)
    assert sorted(r["size_bytes"] >> 20 for r in records) == [1, 3] and all(r["verified"] for r in records)
    small = cache.check_cached(WorkloadSpec("csv", 1 << 20, seed=11), data_dir, verify=True)[0]
    large = cache.check_cached(WorkloadSpec("csv", 3 << 20, seed=11), data_dir, verify=True)[0]
    assert small is not None and large is not None
    assert small.manifest.details["cut_from"] == large.path.name
    assert large.path.read_bytes().startswith(small.path.read_bytes())
