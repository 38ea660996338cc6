"""``video``: incompressible binary shaped like an MP4 file.

An ISO-BMFF ``ftyp`` box (so ``file``, browsers and servers treat it as
``video/mp4``), then one ``mdat`` box whose payload is pseudo-random bytes. They
come from NumPy's SFC64 ``random_raw``, whose raw stream NumPy keeps stable across
versions and platforms, so the bytes are the same on any machine.

Version 3: the PRNG no longer makes every byte. SFC64 fills a 4 MiB pool once; the payload
is 1 MiB segments, each a window of the pool at a random word offset with every 4 KiB page
XORed with its own random 64-bit key (Philox, counter-based, so any segment's keys come without
the ones before). No run of bytes repeats (two pages agree only where two keys do: zstd -19
--long=27 left 40 MiB at 100.00%), and a segment is one XOR (~7 GB/s here) instead of 131,072
PRNG steps (~4 GB/s), made in any order, so the cache makes and writes segments on every core.
``bench-generate --size 512MiB --kind video``, three runs of 5 rounds each alternating version
2 and 3: 0.46-0.58x dd -> 0.66-0.76x; with the file's blocks reserved first
(:func:`workloads.cache.preallocate`) 0.68-0.83x. The writes themselves, serialised by ext4's
inode lock, are what is left (0.09 s of a 0.13-0.19 s file).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# Imported with the module, not at the first SFC64() inside a timed generation: NumPy imports its
# random package lazily, and that took 15-19 ms here (a tenth of a 512 MiB file's generation).
import numpy.random

from streambench.workloads.base import Block, Segments

# A segment is one write() call. 2 and 4 MiB segments stalled to 0.06-0.6x dd in some rounds
# here (fresh arrays that size get huge pages, each a fault and zeroing); 1 MiB ones never did.
# Part of the format: the segments' keys are numbered.
SEGMENT_BYTES = 1 << 20
POOL_BYTES = 4 << 20
PAGE_WORDS = 512  # 4 KiB: each page has its own key
_SEGMENT_WORDS = SEGMENT_BYTES // 8
_POOL_WORDS = POOL_BYTES // 8

_FTYP = struct.pack(">I4s4sI", 32, b"ftyp", b"isom", 0x200) + b"isom" + b"iso2" + b"avc1" + b"mp41"
_MDAT_HEADER_BYTES = 16  # size=1, 'mdat', 64-bit largesize


def mp4_header(size_bytes: int) -> bytes:
    """The ftyp box and the mdat header for a file of ``size_bytes``."""
    mdat_bytes = max(size_bytes - len(_FTYP), 0)
    return _FTYP + struct.pack(">I4sQ", 1, b"mdat", mdat_bytes)


class VideoGenerator:
    kind = "video"
    version = 3
    extension = "mp4"
    media_type = "video/mp4"
    summary = "incompressible binary with an MP4 ftyp box (a '2GB video')"

    def segments(self, size_bytes: int, seed: int, assets: Path | None = None) -> Segments:
        head = mp4_header(size_bytes)[:size_bytes]
        # The pool has a segment's worth more words, so a window may start anywhere in its first 16 MiB.
        pool = np.random.SFC64(seed).random_raw(_POOL_WORDS + _SEGMENT_WORDS).astype("<u8", copy=False)
        pages = _SEGMENT_WORDS // PAGE_WORDS

        def fill(index: int, out: memoryview) -> memoryview:
            # Segment i's draws come from Philox at counter (0, i, 0, 0): a counter-based generator
            # gives any segment's keys without the ones before it, so threads make segments in any
            # order. (The low counter word counts the 65 blocks of four words a segment draws.)
            draws = np.random.Philox(key=seed, counter=[0, index, 0, 0]).random_raw(1 + pages)
            start = int(draws[0] % _POOL_WORDS)
            window = pool[start : start + _SEGMENT_WORDS].reshape(pages, PAGE_WORDS)
            words = np.frombuffer(out, dtype="<u8").reshape(pages, PAGE_WORDS)
            np.bitwise_xor(window, draws[1:, None].astype("<u8", copy=False), out=words)
            return out

        return Segments(head, SEGMENT_BYTES, max(size_bytes - len(head), 0), fill)

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]:
        return self.segments(size_bytes, seed).blocks()
