"""The mp4 kinds loop one clip by writing its payload N times and a new index: checked by ffprobe."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from streambench.harness.common.errors import UsageError
from streambench.workloads import cache, mp4, mp4_loop
from streambench.workloads.cache import WorkloadSpec

MiB = 1 << 20

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg is not installed")


def _packets(path: Path, stream: str) -> list[dict[str, str]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts,duration,flags",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    packets: list[dict[str, str]] = json.loads(out.stdout)["packets"]
    return packets


@pytest.mark.parametrize("kind", ["mp4", "mp4-moov-end"])
def test_every_loop_is_whole_in_both_tracks_and_they_never_drift(tmp_path: Path, kind: str) -> None:
    workload = cache.generate(WorkloadSpec(kind, 8 * MiB, seed=3), tmp_path)
    loops = workload.manifest.details["loops"]
    assert loops >= 4
    video, audio = _packets(workload.path, "v"), _packets(workload.path, "a")
    assert len(video) == 48 * loops and len(audio) == 90 * loops
    # Video: 512 ticks a frame at 12800 Hz, no gap or overlap, a keyframe at every loop's start.
    assert [int(p["pts"]) for p in video] == [512 * i for i in range(48 * loops)]
    keyframes = [i for i, p in enumerate(video) if "K" in p["flags"]]
    assert keyframes == [48 * k for k in range(loops)]
    # Audio: 1024 samples a frame at 48 kHz after the encoder's delay, as long as the video loop.
    assert [int(p["pts"]) for p in audio] == [1024 * i - 1024 for i in range(90 * loops)]
    assert 90 * 1024 / 48000 == 48 / 25
    # ffmpeg decodes all of it without a word.
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(workload.path), "-f", "null", "-"], capture_output=True, text=True
    )
    assert decoded.returncode == 0 and decoded.stderr == ""


def test_the_file_is_the_clips_payload_repeated_under_a_new_index(tmp_path: Path) -> None:
    workload = cache.generate(WorkloadSpec("mp4", 4 * MiB, seed=1), tmp_path)
    (clip_path,) = cache.assets_dir(tmp_path).glob("*.mp4")
    clip = clip_path.read_bytes()
    start, end = mp4_loop.mdat_span(clip)
    payload = clip[start:end]
    data = workload.path.read_bytes()
    loops = workload.manifest.details["loops"]
    head = len(data) - loops * len(payload)
    assert [
        data[head + k * len(payload) : head + (k + 1) * len(payload)] == payload for k in range(loops)
    ] == [True] * loops
    assert data[head - 8 : head - 4] == struct.pack(">I", loops * len(payload) + 8)


def test_the_clip_is_encoded_once_per_seed_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache.generate(WorkloadSpec("mp4", 3 * MiB, seed=2), tmp_path)
    encoded: list[int] = []
    real_encode = mp4.encode_clip

    def counted(path: Path, seed: int) -> None:
        encoded.append(seed)
        real_encode(path, seed)

    monkeypatch.setattr(mp4, "encode_clip", counted)
    cache.generate(WorkloadSpec("mp4-moov-end", 5 * MiB, seed=2), tmp_path)
    assert encoded == []  # the other layout and size used the kept clip
    cache.generate(WorkloadSpec("mp4", 3 * MiB, seed=9), tmp_path)
    assert encoded == [9]  # another seed is another clip
    # A clip whose facts were cut short is encoded again, and gives the same file as before.
    for facts in cache.assets_dir(tmp_path).glob("*seed2-*.json"):
        facts.write_text("{")
    again = cache.generate(WorkloadSpec("mp4", 3 * MiB, seed=2), tmp_path)
    assert encoded == [9, 2] and again.manifest.xxh3_64 == first.manifest.xxh3_64
    # So is a clip whose bytes changed since.
    (clip,) = cache.assets_dir(tmp_path).glob("*seed2-*.mp4")
    clip.write_bytes(clip.read_bytes()[:-1] + b"x")
    cache.generate(WorkloadSpec("mp4", 3 * MiB, seed=2), tmp_path)
    assert encoded == [9, 2, 2]
    assert not list(cache.workload_dir(tmp_path).glob("*.sb-tmp"))
    # clean() keeps the clips only when asked to.
    cache.clean(tmp_path, keep_assets=True)
    assert len(list(cache.assets_dir(tmp_path).glob("*.mp4"))) == 2
    assert cache.clean(tmp_path) > 0 and not cache.assets_dir(tmp_path).exists()


def test_a_clip_that_cannot_be_looped_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mp4, "kept_clip", lambda assets, seed: (b"\0\0\0\x10ftypisom\0\0\0\0", "x"))
    with pytest.raises(UsageError, match="cannot generate mp4: the clip has no ftyp or no moov box"):
        cache.generate(WorkloadSpec("mp4", 2 * MiB), tmp_path)
    assert list(cache.workload_dir(tmp_path).glob("mp4*")) == []


def _fields(body: bytes, at: int, wide: bool) -> int:
    return int(struct.unpack_from(">Q" if wide else ">I", body, at)[0])


def test_a_file_past_4_gib_gets_64_bit_offsets_and_times(tmp_path: Path) -> None:
    """Built, not written: the index of ~4.6 GiB of loops, and times that need 64 bits."""
    data, _ = mp4.kept_clip(tmp_path, 0)
    clip = mp4_loop.Clip.read(data, mp4.CLIP_S)
    loops = (5 << 30) // len(clip.payload)
    moov = mp4_loop.parse_boxes(clip.moov_bytes(loops, 1000))[0]
    for trak in (box for box in moov.children if box.kind == b"trak"):
        stbl = trak.child(b"mdia").child(b"minf").child(b"stbl")
        assert stbl.maybe(b"stco") is None
        offsets = struct.unpack_from(
            f">{len(stbl.child(b'co64').body) // 8 - 1}Q", stbl.child(b"co64").body, 8
        )
        assert offsets[-1] > 1 << 32 and list(offsets) == sorted(offsets)
    # Version 0 boxes widen to version 1 when a duration does not fit in 32 bits; the rest stays.
    mvhd = moov.child(b"mvhd").body
    widened = mp4_loop._with_duration(mvhd, 1 << 40, 24)
    assert widened[0] == 1 and len(widened) == len(mvhd) + 12
    assert _fields(widened, 20, False) == _fields(mvhd, 12, False)  # the timescale
    assert _fields(widened, 24, True) == 1 << 40 and widened[32:] == mvhd[20:]
    tkhd = moov.child(b"trak").child(b"tkhd").body
    widened = mp4_loop._with_duration(tkhd, 1 << 40, 28)
    assert _fields(widened, 20, False) == _fields(tkhd, 12, False)  # the track id
    assert _fields(widened, 28, True) == 1 << 40 and widened[36:] == tkhd[24:]
    assert clip.loop_s == Fraction(48, 25)
