"""``mp4`` and ``mp4-moov-end``: a real, playable H.264/AAC video of about the asked size.

ffmpeg encodes one short clip (``testsrc2`` + a ``sine`` tone, 1280x720 at 25 fps,
x264 ``ultrafast`` with one thread and bit-exact flags, so the same ffmpeg build
gives the same bytes), then loops it with stream copy (``-stream_loop N -c copy``)
to about the asked size: 1 GiB is about 22 minutes and takes ~2 s here. The
``moov`` box (the index a player needs before the first frame) goes first with
``-movflags +faststart`` (``mp4``) or stays at the end where a plain mux leaves it
(``mp4-moov-end``): a player must then ask for the tail with a Range request, or
read the whole file, before it can show anything.

The size is the clip's multiple nearest the asked size (a 2 s clip is ~1.6 MB),
never below one clip; the manifest holds the real size, the duration and the
ffmpeg version. The seed picks the tone's pitch, so seeds give other bytes.
Without ffmpeg the kind says so in one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from streambench.harness.common.errors import UsageError
from streambench.harness.common.lifeline import dies_with_us
from streambench.workloads.base import Block, FileFacts

CLIP_S = 2
FRAME_RATE = 25
RESOLUTION = "1280x720"
MOOV_LAYOUTS = ("start", "end")
READ_BLOCK_BYTES = 8 << 20
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
    """One ``CLIP_S``-second H.264/AAC clip with a keyframe at its start."""
    _ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc2=size={RESOLUTION}:rate={FRAME_RATE}:duration={CLIP_S}",
            "-f", "lavfi", "-i", f"sine=frequency={tone_hz(seed)}:sample_rate=48000:duration={CLIP_S}",
            "-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", "-g", str(CLIP_S * FRAME_RATE),
            "-pix_fmt", "yuv420p", "-flags:v", "+bitexact",
            "-c:a", "aac", "-b:a", "64k", "-flags:a", "+bitexact",
            "-shortest", *_BITEXACT, "-f", "mp4", str(path),
        ],
        "encode the clip",
    )  # fmt: skip


class Mp4Generator:
    """A real mp4; ``moov`` says where its index sits."""

    extension = "mp4"
    media_type = "video/mp4"
    version = 1

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

    def write_file(self, size_bytes: int, seed: int, path: Path) -> FileFacts:
        """Write the video to ``path`` (the cache's temporary name) and say what it is."""
        ffmpeg_binary()
        # The clip sits beside the file (same filesystem); the cache removes "*.sb-tmp" leftovers.
        # Named "<...>.<pid>.sb-tmp": a live generation's folder is never taken for a leftover.
        with tempfile.TemporaryDirectory(prefix="mp4-clip.", suffix=f".{os.getpid()}.sb-tmp",
                                         dir=path.parent) as tmp:  # fmt: skip
            clip = Path(tmp) / "clip.mp4"
            encode_clip(clip, seed)
            clip_bytes = clip.stat().st_size
            loops = max(1, round(size_bytes / clip_bytes))
            layout = ["-movflags", "+faststart"] if self.moov == "start" else []
            _ffmpeg(
                ["-stream_loop", str(loops - 1), "-i", str(clip), "-c", "copy", *layout, *_BITEXACT,
                 "-f", "mp4", str(path)],
                "loop the clip",
            )  # fmt: skip
        details: dict[str, Any] = {
            "duration_s": loops * CLIP_S,
            "clip_s": CLIP_S,
            "clip_bytes": clip_bytes,
            "loops": loops,
            "moov": self.moov,
            "video": f"h264 {RESOLUTION} {FRAME_RATE} fps (testsrc2, x264 ultrafast)",
            "audio": f"aac 64 kb/s, {tone_hz(seed)} Hz tone",
            "ffmpeg_version": ffmpeg_version(),
        }
        return FileFacts(records=0, details=details)

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]:
        """The same bytes as blocks (the cache uses ``write_file``; this serves the generic tests)."""
        with tempfile.TemporaryDirectory(prefix="streambench-mp4-") as tmp:
            path = Path(tmp) / "video.mp4"
            self.write_file(size_bytes, seed, path)
            with path.open("rb") as f:
                while data := f.read(READ_BLOCK_BYTES):
                    yield Block(data, 0)
