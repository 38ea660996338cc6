"""``video``: incompressible binary shaped like an MP4 file.

An ISO-BMFF ``ftyp`` box (so ``file``, browsers and servers treat it as
``video/mp4``), then one ``mdat`` box whose payload is pseudo-random bytes. The
payload comes from NumPy's SFC64 ``random_raw``, whose raw stream NumPy keeps
stable across versions and platforms, so the bytes are the same on any machine.
SFC64 rather than PCG64 (version 1) because the PRNG is what bounds this kind: SFC64
made 8 MiB blocks at 1.2-1.4x PCG64's pace here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from streambench.workloads.base import Block

# 1 MiB blocks (one write() call each): NumPy asks for huge pages for arrays of 4 MiB and more, and
# every new 8 MiB block then cost a fresh huge page's fault and zeroing; a fresh process made 512 MiB
# at 1.33 GB/s in 8 MiB blocks and 2.8-3.7 GB/s in 1 MiB ones (the same bytes: the stream is the
# same, cut elsewhere). 512 KiB-2 MiB were alike here; 4 MiB fell back to 1.7 GB/s.
BLOCK_BYTES = 1 << 20

_FTYP = struct.pack(">I4s4sI", 32, b"ftyp", b"isom", 0x200) + b"isom" + b"iso2" + b"avc1" + b"mp41"
_MDAT_HEADER_BYTES = 16  # size=1, 'mdat', 64-bit largesize


def mp4_header(size_bytes: int) -> bytes:
    """The ftyp box and the mdat header for a file of ``size_bytes``."""
    mdat_bytes = max(size_bytes - len(_FTYP), 0)
    return _FTYP + struct.pack(">I4sQ", 1, b"mdat", mdat_bytes)


class VideoGenerator:
    kind = "video"
    version = 2
    extension = "mp4"
    media_type = "video/mp4"
    summary = "incompressible binary with an MP4 ftyp box (a '2GB video')"

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]:
        header = mp4_header(size_bytes)[:size_bytes]
        yield Block(header, 0)
        remaining = size_bytes - len(header)
        bit_generator = np.random.SFC64(seed)
        while remaining > 0:
            n_bytes = min(BLOCK_BYTES, remaining)
            words = bit_generator.random_raw((n_bytes + 7) // 8).astype("<u8", copy=False)
            yield Block(words.view(np.uint8)[:n_bytes].data, 0)
            remaining -= n_bytes
