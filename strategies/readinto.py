"""``readinto``: one reused buffer, no allocation per chunk.

The buffer is page-aligned by default (an anonymous mmap). ``align=false`` uses
a ``bytearray`` instead: at >= 128 KiB glibc hands it out 16 bytes past a page
boundary, and copies into it ran ~5x slower on this kind of machine (glibc bug
30994). The record notes the buffer's offset within its page either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
from collections.abc import Mapping
from typing import ClassVar

from streambench.strategies.base import (
    Capability,
    OptionCheck,
    RunStats,
    Sink,
    Source,
    StrategyParams,
    parse_bool,
)


def _address(buf: mmap.mmap | bytearray) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


class ReadInto:
    name: ClassVar[str] = "readinto"
    summary: ClassVar[str] = "one reused (page-aligned) buffer: readinto + write, no allocation per chunk"
    node_analogue: ClassVar[str] = "fs.read(fd, buf, 0, buf.length, pos) loop into one Buffer.allocUnsafe"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS})
    options: ClassVar[Mapping[str, str]] = {
        "align": "true (default): page-aligned mmap buffer; false: a bytearray (misaligned >= 128 KiB)",
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {"align": parse_bool}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        align = parse_bool(params.options.get("align", "true"))
        buf: mmap.mmap | bytearray = (
            mmap.mmap(-1, params.chunk_bytes) if align else bytearray(params.chunk_bytes)
        )
        stats.notes["buffer"] = "mmap (page-aligned)" if align else "bytearray"
        stats.notes["buffer_offset_in_page_bytes"] = _address(buf) % mmap.PAGESIZE
        view = memoryview(buf)
        tf = params.transform
        write = sink.file.write
        moved_bytes = 0
        try:
            with open(source.path, "rb", buffering=0) as f:
                # Writes are blocking and complete before the next readinto, so
                # reusing the buffer can never change bytes still on their way.
                while n := f.readinto(buf):
                    write(view[:n] if tf is None else tf.process(view[:n]))
                    moved_bytes += n
                    stats.chunks += 1
            if tf is not None:
                write(tf.flush())
        finally:
            # After a failed write the traceback may still hold a slice of the
            # buffer; then it is freed with the traceback, and the original
            # error (not a BufferError) is what the record shows.
            with contextlib.suppress(BufferError):
                view.release()
                if isinstance(buf, mmap.mmap):
                    buf.close()
        stats.largest_chunk_bytes = min(params.chunk_bytes, moved_bytes)
        return moved_bytes
