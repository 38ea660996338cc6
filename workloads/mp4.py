"""``mp4`` and ``mp4-moov-end``: a real, playable H.264/AAC video of about the asked size.

ffmpeg encodes one short clip (``testsrc2`` + a ``sine`` tone, 1280x720 at 25 fps,
x264 ``ultrafast`` with one thread and bit-exact flags, so the same ffmpeg build
gives the same bytes); :mod:`workloads.mp4_loop` loops it to about the asked size:
the clip's media payload written N times (by the cache, on every core, like
``video``'s segments) and an index (``moov``) for N loops. 1 GiB is about 21
minutes of video. The ``moov`` box (the index a player needs before the first
frame) goes first (``mp4``, "faststart") or after the media (``mp4-moov-end``, where
a plain mux leaves it): a player must then ask for the tail with a Range request,
or read the whole file, before it can show anything.

The clip depends only on the seed and the ffmpeg build, so it is encoded once and
kept in the cache's assets folder (0.3-0.4 s here; ``bench-generate`` says it on
its own line), keyed by both. Version 1 looped it with ``ffmpeg -stream_loop N -c
copy``, which rewrote every packet of every loop and, for faststart, the whole file
again: ``bench-generate --size 512MiB`` 0.11-0.14x dd (0.4 s of it the clip).

The size is the loop's multiple nearest the asked size (a 1.92 s loop is ~1.5 MB),
never below one loop; the manifest holds the real size, the duration and the
ffmpeg version. The seed picks the tone's pitch, so seeds give other bytes.
Without ffmpeg the kind says so in one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import xxhash

from streambench.harness.common.errors import UsageError
from streambench.harness.common.lifeline import dies_with_us
from streambench.workloads import mp4_loop
from streambench.workloads.base import Block, Segments

# One loop: 48 frames at 25 fps and 90 AAC frames of 1024 samples at 48 kHz, both exactly 1.92 s,
# so neither track drifts from the other however many loops there are.
CLIP_S = Fraction(48, 25)
FRAME_RATE = 25
SAMPLE_RATE = 48000
RESOLUTION = "1280x720"
MOOV_LAYOUTS = ("start", "end")
CLIP_VERSION = 2  # the encode's arguments: bump when they change
# Bit-exact muxing and no metadata: no encoder string or creation time varies between runs.
_BITEXACT = ["-fflags", "+bitexact", "-map_metadata", "-1"]


def ffmpeg_binary() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise UsageError("the mp4 workload needs ffmpeg, which is not installed (apt-get install ffmpeg)")
    return path


@cache
def ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_binary(), "-version"], capture_output=True, text=True, check=False)
    first = out.stdout.splitlines()[0] if out.stdout else "ffmpeg ?"
    return first.split(" Copyright")[0].removeprefix("ffmpeg version ").strip()


def _ffmpeg(args: list[str], what: str) -> None:
    argv = dies_with_us([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args])
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise RuntimeError(f"ffmpeg could not {what}: {tail[0]}")


def tone_hz(seed: int) -> int:
    """The audio tone for a seed (220-1100 Hz): another seed, other bytes."""
    return 220 + seed % 881


def encode_clip(path: Path, seed: int) -> None:
    """One ``CLIP_S``-second H.264/AAC clip with one keyframe, at its start.

    The encoder's delay makes 91 AAC frames of 1.92 s of tone; the loop keeps the first 90."""
    seconds = f"{float(CLIP_S):g}"
    tone = f"sine=frequency={tone_hz(seed)}:sample_rate={SAMPLE_RATE}:duration={seconds}"
    _ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc2=size={RESOLUTION}:rate={FRAME_RATE}:duration={seconds}",
            "-f", "lavfi", "-i", tone,
            "-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", "-g", str(CLIP_S * FRAME_RATE),
            "-pix_fmt", "yuv420p", "-flags:v", "+bitexact",
            "-c:a", "aac", "-b:a", "64k", "-flags:a", "+bitexact",
            *_BITEXACT, "-f", "mp4", str(path),
        ],
        "encode the clip",
    )  # fmt: skip


def _ffmpeg_key() -> str:
    """The ffmpeg build, by its binary's path, size and time (a stat, not a 30 ms ``-version``)."""
    path = os.path.realpath(ffmpeg_binary())
    st = os.stat(path)
    return hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:12]


def kept_clip(assets: Path, seed: int) -> tuple[bytes, str]:
    """The clip for ``seed`` and its ffmpeg's version: from ``assets``, or encoded and kept there.

    Named by everything its bytes depend on (the encode's arguments, the seed, the ffmpeg build);
    trusted only when its checksum is the one written beside it after it was made."""
    stem = f"mp4-clip-v{CLIP_VERSION}-seed{seed}-ffmpeg-{_ffmpeg_key()}"
    clip, facts = assets / f"{stem}.mp4", assets / f"{stem}.json"
    try:
        kept = json.loads(facts.read_text())
        data = clip.read_bytes()
        if kept["xxh3_64"] == xxhash.xxh3_64_hexdigest(data):
            return data, str(kept["ffmpeg_version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not made yet, or cut short: made again
    assets.mkdir(parents=True, exist_ok=True)
    # Beside the cache's files, so the cache removes it if this process dies (see remove_stale_temps).
    with tempfile.TemporaryDirectory(prefix="mp4-clip.", suffix=f".{os.getpid()}.sb-tmp",
                                     dir=assets.parent) as tmp:  # fmt: skip
        made = Path(tmp) / "clip.mp4"
        encode_clip(made, seed)
        data = made.read_bytes()
        os.replace(made, clip)
        checksum = xxhash.xxh3_64_hexdigest(data)
        (Path(tmp) / "facts.json").write_text(
            json.dumps({"ffmpeg_version": ffmpeg_version(), "xxh3_64": checksum})
        )
        os.replace(Path(tmp) / "facts.json", facts)
    return data, ffmpeg_version()


class Mp4Generator:
    """A real mp4; ``moov`` says where its index sits."""

    extension = "mp4"
    media_type = "video/mp4"
    version = 2

    def __init__(self, moov: str = "start") -> None:
        if moov not in MOOV_LAYOUTS:
            raise ValueError(f"moov must be one of {MOOV_LAYOUTS}")
        self.moov = moov
        self.kind = "mp4" if moov == "start" else "mp4-moov-end"
        where = "first (faststart)" if moov == "start" else "at the end (a plain mux)"
        self.summary = f"playable H.264/AAC video (ffmpeg), moov {where}"

    def variant(self, options: str) -> str:
        """The kind ``mp4:SIZE:moov=end`` names: options are ``moov=start|end``."""
        key, _, value = options.partition("=")
        if key != "moov" or value not in MOOV_LAYOUTS:
            raise UsageError(f"bad mp4 option {options!r}: expected moov=start or moov=end")
        return "mp4" if value == "start" else "mp4-moov-end"

    def segments(self, size_bytes: int, seed: int, assets: Path) -> Segments:
        """The head (ftyp, and moov when it goes first), one loop's payload per segment, the tail."""
        data, version = kept_clip(assets, seed)
        clip = mp4_loop.Clip.read(data, CLIP_S)
        loop_bytes = len(clip.payload)
        loops = max(1, round(size_bytes / loop_bytes))
        head, tail = mp4_loop.loop(clip, loops, moov_first=self.moov == "start")
        payload = memoryview(clip.payload)
        details: dict[str, Any] = {
            "duration_s": round(loops * float(CLIP_S), 3),
            "clip_s": float(CLIP_S),
            "clip_bytes": loop_bytes,
            "loops": loops,
            "moov": self.moov,
            "video": f"h264 {RESOLUTION} {FRAME_RATE} fps (testsrc2, x264 ultrafast)",
            "audio": f"aac 64 kb/s, {tone_hz(seed)} Hz tone",
            "ffmpeg_version": version,
        }
        return Segments(head, loop_bytes, loop_bytes * loops, lambda _index, _out: payload, tail, details)

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]:
        """The same bytes as blocks, the clip encoded into a folder of its own (the generic tests)."""
        with tempfile.TemporaryDirectory(prefix="streambench-mp4-") as assets:
            segments = self.segments(size_bytes, seed, Path(assets))
        yield from segments.blocks()
