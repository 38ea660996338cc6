"""The cache trusts only complete, matching files; video is deterministic and MP4-shaped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import xxhash

from streambench.harness.common.errors import UsageError
from streambench.workloads import cache, video
from streambench.workloads.cache import WorkloadSpec
from streambench.workloads.registry import GENERATORS


def _bytes_of(kind: str, size_bytes: int, seed: int) -> bytes:
    return b"".join(bytes(b.data) for b in GENERATORS[kind].blocks(size_bytes, seed))


def test_video_is_deterministic_and_seeded() -> None:
    a = _bytes_of("video", 3 << 20, seed=1)
    assert a == _bytes_of("video", 3 << 20, seed=1)
    assert a != _bytes_of("video", 3 << 20, seed=2)
    assert len(a) == 3 << 20


def test_videos_bytes_do_not_depend_on_its_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The block size is a speed setting (1 MiB since 8 MiB blocks met NumPy's huge pages), not a
    version: the same seed gives the same file, its last word cut where the file ends."""
    size_bytes = (3 << 20) + 12345
    now = _bytes_of("video", size_bytes, seed=7)
    monkeypatch.setattr(video, "BLOCK_BYTES", 8 << 20)
    assert _bytes_of("video", size_bytes, seed=7) == now
    # Pinned: version 2's bytes as its 8 MiB blocks made them (the cache keys files by the version).
    assert xxhash.xxh3_64_hexdigest(now) == "7d09286c2f213c20"


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
