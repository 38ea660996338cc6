"""``planted``: a copy loop with a known amount of extra work, the subject ``bench-gate --real`` plants.

A gate is measured by how often it alarms on A/A pairs and how often it catches a change of known
size. This is readinto's loop (one page-aligned buffer, read then write) with three plantable
changes, each off by default:

- ``spin_us_per_mib``: busy CPU in user space, that many microseconds per MiB moved (a slower code
  path: time moves, the kernel's counters do not);
- ``split``: each chunk written in that many write() calls (more system calls for the same bytes:
  the work counters move, time a little);
- ``extra_copy``: each chunk copied once more in user space before it is written.
"""

from __future__ import annotations

import contextlib
import mmap
import time
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
    whole_number,
)

MiB = 1 << 20


def _spin(ns: int) -> None:
    """Busy-wait ``ns`` nanoseconds (CPU time, not a sleep: the work a slower loop would do)."""
    end = time.perf_counter_ns() + ns
    while time.perf_counter_ns() < end:
        pass


class Planted:
    name: ClassVar[str] = "planted"
    summary: ClassVar[str] = (
        "the gate's subject: readinto's loop with planted extra work (spin_us_per_mib, split, extra_copy)"
    )
    node_analogue: ClassVar[str] = "(none: a measuring instrument for bench-gate --real)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS})
    options: ClassVar[Mapping[str, str]] = {
        "spin_us_per_mib": "busy CPU per MiB moved, in microseconds (default 0)",
        "split": "write() calls per chunk (default 1)",
        "extra_copy": "copy each chunk once more in user space (default false)",
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {
        "spin_us_per_mib": whole_number(0),
        "split": whole_number(1),
        "extra_copy": parse_bool,
    }

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        spin_ns_per_byte = int(params.options.get("spin_us_per_mib", "0")) * 1000 / MiB
        split = int(params.options.get("split", "1"))
        extra_copy = parse_bool(params.options.get("extra_copy", "false"))
        buf = mmap.mmap(-1, params.chunk_bytes)
        view = memoryview(buf)
        write = sink.file.write
        tf = params.transform
        moved_bytes = 0
        chunk: bytes | memoryview = b""
        try:
            with open(source.path, "rb", buffering=0) as f:
                while n := f.readinto(buf):
                    chunk = bytes(view[:n]) if extra_copy else view[:n]
                    if tf is not None:
                        chunk = tf.process(chunk)
                    step = max(1, -(-len(chunk) // split))
                    for start in range(0, len(chunk), step):
                        write(chunk[start : start + step])
                    if spin_ns_per_byte:
                        _spin(int(n * spin_ns_per_byte))
                    moved_bytes += n
                    stats.chunks += 1
                if tf is not None:
                    write(tf.flush())
        finally:
            chunk = b""  # the last slice of the buffer, let go so the buffer can close
            # After a failed write the traceback may still hold a slice: then it is freed with it.
            with contextlib.suppress(BufferError):
                view.release()
                buf.close()
        stats.largest_chunk_bytes = min(params.chunk_bytes, moved_bytes)
        return moved_bytes
