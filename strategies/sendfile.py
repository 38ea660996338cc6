"""``sendfile``: zero-copy in the kernel; the bytes never enter user space.

Whichever call fits the sink: ``splice`` into a pipe, ``copy_file_range`` into a
regular file, ``sendfile`` into a socket (``method=`` forces one). The record's
I/O counters prove it: rchar/wchar stay near zero for the worker's own reads.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Mapping
from typing import ClassVar

from streambench.strategies.base import (
    Capability,
    OptionCheck,
    RunStats,
    Sink,
    Source,
    StrategyParams,
    one_of,
)

METHODS = ("sendfile", "splice", "copy_file_range")


def _auto_method(sink_fd: int) -> str:
    mode = os.fstat(sink_fd).st_mode
    if stat.S_ISFIFO(mode):
        return "splice"
    if stat.S_ISREG(mode):
        return "copy_file_range"
    return "sendfile"


class SendFile:
    name: ClassVar[str] = "sendfile"
    summary: ClassVar[str] = "zero-copy in the kernel: splice to a pipe, copy_file_range to a file, sendfile"
    node_analogue: ClassVar[str] = "(no core analogue; what web.FileResponse / nginx sendfile on do)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.ZERO_COPY, Capability.HTTP})
    options: ClassVar[Mapping[str, str]] = {
        "method": "auto (default: by sink kind), sendfile, splice or copy_file_range",
    }
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {
        "method": one_of("auto", "sendfile", "splice", "copy_file_range"),
    }

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        method = params.options.get("method", "auto")
        if method == "auto":
            method = _auto_method(sink.fd)
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: auto, {', '.join(METHODS)}")
        stats.notes["method"] = method
        in_fd = os.open(source.path, os.O_RDONLY)
        try:
            size_bytes = os.fstat(in_fd).st_size
            call: Callable[[int, int], int]
            if method == "sendfile":
                call = lambda offset, count: os.sendfile(sink.fd, in_fd, offset, count)  # noqa: E731
            elif method == "splice":
                call = lambda offset, count: os.splice(in_fd, sink.fd, count, offset_src=offset)  # noqa: E731
            else:
                call = lambda offset, count: os.copy_file_range(  # noqa: E731
                    in_fd, sink.fd, count, offset_src=offset
                )
            offset = 0
            if method == "copy_file_range" and size_bytes:
                try:
                    offset = call(0, min(params.chunk_bytes, size_bytes))
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                        raise
                    # Across filesystems (or where the kernel cannot): sendfile does
                    # the same in-kernel copy into any file.
                    stats.notes["method"] = f"sendfile (copy_file_range: {errno.errorcode[exc.errno]})"
                    call = lambda offset, count: os.sendfile(sink.fd, in_fd, offset, count)  # noqa: E731
                if offset:
                    stats.saw_chunk(offset)
            while offset < size_bytes:
                n = call(offset, min(params.chunk_bytes, size_bytes - offset))
                if n == 0:
                    raise OSError(
                        f"{method} moved 0 bytes at offset {offset} of {size_bytes}: file truncated?"
                    )
                offset += n
                stats.saw_chunk(n)
        finally:
            os.close(in_fd)
        return offset
