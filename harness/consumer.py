"""The ``null`` sink's consumer: a process that really reads every byte.

Writing to /dev/null proves nothing for mmap or zero-copy strategies (the kernel
never reads it). This process sits at the other end of a pipe, reads every byte
into a page-aligned buffer, counts and checksums it (xxh3-64, tens of GB/s, so
never the bottleneck), throws it away, and prints one JSON line at EOF:
``{"bytes": N, "xxh3_64": "...", "first_byte_at": t, "last_byte_at": t}``
with CLOCK_MONOTONIC times, comparable with the worker's.
"""

from __future__ import annotations

import json
import mmap
import os
import sys
import time

import xxhash

from harness.lifeline import die_with_parent

READ_BUFFER_BYTES = 1 << 20


def consume(fd: int) -> dict[str, object]:
    h = xxhash.xxh3_64()
    buf = mmap.mmap(-1, READ_BUFFER_BYTES)  # page-aligned: copies into it run at full speed
    view = memoryview(buf)
    total_bytes = 0
    first_byte_at: float | None = None
    while n := os.readv(fd, [buf]):
        if first_byte_at is None:
            first_byte_at = time.monotonic()
        h.update(view[:n])
        total_bytes += n
    last_byte_at = time.monotonic()
    view.release()
    buf.close()
    return {
        "bytes": total_bytes,
        "xxh3_64": h.hexdigest(),
        "first_byte_at": first_byte_at,
        "last_byte_at": last_byte_at,
    }


def main() -> None:
    die_with_parent()
    fd = int(sys.argv[1])
    result = consume(fd)
    os.close(fd)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
