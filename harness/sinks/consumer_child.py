"""The consumer at the far end of ``null`` and ``tcp`` sinks: it really reads every byte.

Writing to /dev/null proves nothing for mmap or zero-copy strategies (the kernel
never reads it). This process sits at the other end of a pipe or a loopback
TCP connection, reads every byte into a page-aligned buffer, counts and
checksums it (xxh3-64, tens of GB/s, so never the bottleneck), throws it away,
and prints one JSON line at EOF:
``{"bytes": N, "xxh3_64": "...", "first_byte_at": t, "last_byte_at": t, "delivered": [[t, n], ...],
"delivered_slice_s": 0.01}`` with CLOCK_MONOTONIC times, comparable with the worker's; ``delivered``
is the bytes read in each 10 ms slice (:mod:`harness.common.slices`).

``--rate`` makes it a slow client (bytes per second, averaged from its first
byte): the reason backpressure exists. ``--close-after`` makes it hang up after
that many bytes (fault injection: the peer that goes away mid-body).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import sys
import time
import zlib

import xxhash

from streambench.harness.common.lifeline import die_with_parent
from streambench.harness.common.slices import DeliveredLog

READ_BUFFER_BYTES = 1 << 20
# With a rate, read in slices of about 10 ms worth of bytes, so the pace is
# smooth rather than one big read per second.
RATE_SLICE_S = 0.01


def consume(
    fd: int, rate_bps: int = 0, close_after_bytes: int = 0, decode: str | None = None
) -> dict[str, object]:
    h = xxhash.xxh3_64()
    # decode "gzip": count and hash what the gzip stream holds (a compressor whose bytes
    # differ from Python's, Node's zlib, is judged by what it compressed, byte-exact).
    inflate = zlib.decompressobj(31) if decode == "gzip" else None
    decoded_bytes = 0
    buf = mmap.mmap(-1, READ_BUFFER_BYTES)  # page-aligned: copies into it run at full speed
    view = memoryview(buf)
    read_bytes = READ_BUFFER_BYTES
    if rate_bps:
        read_bytes = max(4096, min(READ_BUFFER_BYTES, int(rate_bps * RATE_SLICE_S)))
    if close_after_bytes:
        read_bytes = min(read_bytes, close_after_bytes)
    target = view[:read_bytes]
    total_bytes = 0
    first_byte_at: float | None = None
    log = DeliveredLog()
    while True:
        if rate_bps and first_byte_at is not None:
            ahead_s = total_bytes / rate_bps - (time.monotonic() - first_byte_at)
            if ahead_s > 0:
                time.sleep(ahead_s)
        n = os.readv(fd, [target])
        if not n:
            break
        now = time.monotonic()
        if first_byte_at is None:
            first_byte_at = now
        log.add(n, now)
        if inflate is None:
            h.update(view[:n])
        else:
            plain = inflate.decompress(view[:n])
            h.update(plain)
            decoded_bytes += len(plain)
        total_bytes += n
        if close_after_bytes and total_bytes >= close_after_bytes:
            break
    last_byte_at = time.monotonic()
    target.release()
    view.release()
    buf.close()
    timing = {"first_byte_at": first_byte_at, "last_byte_at": last_byte_at, "delivered": log.slices(),
              "delivered_slice_s": log.slice_s}  # fmt: skip
    if inflate is None:
        return {"bytes": total_bytes, "xxh3_64": h.hexdigest(), **timing}
    plain = inflate.flush()
    h.update(plain)
    decoded_bytes += len(plain)
    # An incomplete gzip stream never passes: the count says so.
    complete = inflate.eof and not inflate.unused_data
    return {
        "bytes": decoded_bytes if complete else -1,
        "xxh3_64": h.hexdigest(),
        "wire_bytes": total_bytes,
        **timing,
    }


def main() -> None:
    die_with_parent()
    parser = argparse.ArgumentParser(prog="streambench-consumer")
    parser.add_argument("fd", type=int)
    parser.add_argument("--rate", type=int, default=0, help="bytes per second (0: as fast as it can)")
    parser.add_argument("--close-after", type=int, default=0, help="hang up after this many bytes")
    parser.add_argument("--decode", choices=["gzip"], help="count and hash the decoded stream")
    args = parser.parse_args()
    result = consume(args.fd, args.rate, args.close_after, args.decode)
    os.close(args.fd)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
