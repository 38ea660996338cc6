"""``mmap``: map the file and write memoryview slices of it.

No read() copy: the page cache is mapped into the process and slices go
straight to ``write()``. Resident memory then grows with file-backed pages
(RssFile), not anonymous ones. ``window`` releases pages behind the cursor
(MADV_DONTNEED every ``window`` bytes) so resident memory stays bounded.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Mapping
from typing import ClassVar

from streambench.harness.common.units import parse_size
from streambench.strategies.base import Capability, OptionCheck, RunStats, Sink, Source, StrategyParams


class MmapSlices:
    name: ClassVar[str] = "mmap"
    summary: ClassVar[str] = (
        "mmap the file, write memoryview slices; window= releases pages behind the cursor"
    )
    node_analogue: ClassVar[str] = "(no core analogue: mmap-io / a native addon; Buffer over mapped memory)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS, Capability.HTTP})
    options: ClassVar[Mapping[str, str]] = {
        "window": "bytes mapped-in behind the cursor before MADV_DONTNEED (default 0: never released)",
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {"window": parse_size}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        window_bytes = parse_size(params.options.get("window", "0"))
        if source.size_bytes == 0:
            return 0
        tf = params.transform
        write = sink.file.write
        chunk_bytes = params.chunk_bytes
        moved_bytes = released_to = 0
        with open(source.path, "rb", buffering=0) as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        mapped.madvise(mmap.MADV_SEQUENTIAL)
        view = memoryview(mapped)
        try:
            size_bytes = len(mapped)
            for offset in range(0, size_bytes, chunk_bytes):
                # A slice is an exported pointer into the map: release it at
                # once, or the map cannot be closed.
                with view[offset : offset + chunk_bytes] as piece:
                    write(piece if tf is None else tf.process(piece))
                    n = piece.nbytes
                moved_bytes += n
                stats.chunks += 1
                done = offset + n
                if window_bytes and done - released_to >= 2 * window_bytes:
                    # Drop our mapping of pages more than one window behind;
                    # the page cache keeps them, our RSS does not.
                    upto = (done - window_bytes) // mmap.PAGESIZE * mmap.PAGESIZE
                    mapped.madvise(mmap.MADV_DONTNEED, released_to, upto - released_to)
                    released_to = upto
            if tf is not None:
                write(tf.flush())
        finally:
            # After a failed write the traceback may still hold a slice; the map
            # is then unmapped with it, and the original error is what is reported.
            with contextlib.suppress(BufferError):
                view.release()
                mapped.close()
        stats.largest_chunk_bytes = min(chunk_bytes, moved_bytes)
        stats.notes["window_bytes"] = window_bytes
        return moved_bytes
