"""A Node.js-style writable on a non-blocking fd: ``write() -> bool``, ``drain``, ``end()``.

``write(chunk)`` queues the chunk in user space, pushes out what the fd takes
without blocking, and returns False once the queued bytes reach the high-water
mark: the caller should pause. ``wait_drain()`` blocks (in poll) until the queue
is empty, which is the moment Node emits ``'drain'``. The writable counts what
backpressure did: pauses, drains, the largest queued amount, and a timeline of
queued bytes at each change of state.

A regular file is always "writable" to poll, so with a file sink nothing ever
queues: backpressure needs a consumer that can be slower than the producer.
"""

from __future__ import annotations

import collections
import errno
import os
import select
import time

TIMELINE_MAX_POINTS = 2000


class NodeWritable:
    def __init__(self, fd: int, high_water_mark_bytes: int) -> None:
        self.fd = fd
        self.high_water_mark_bytes = high_water_mark_bytes
        self._queue: collections.deque[memoryview] = collections.deque()
        self.buffered_bytes = 0
        self.max_buffered_bytes = 0
        self.pauses = 0
        self.drains = 0
        self._t0 = time.monotonic()
        self.timeline: list[tuple[float, int]] = []
        self._was_blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)
        self._poller = select.poll()
        self._poller.register(fd, select.POLLOUT)

    def _mark(self) -> None:
        if len(self.timeline) < TIMELINE_MAX_POINTS:
            self.timeline.append((time.monotonic() - self._t0, self.buffered_bytes))

    def _flush_some(self) -> None:
        """Write queued bytes until the fd would block or the queue is empty."""
        while self._queue:
            head = self._queue[0]
            try:
                n = os.write(self.fd, head)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    return
                raise
            self.buffered_bytes -= n
            if n == head.nbytes:
                self._queue.popleft()
            else:
                self._queue[0] = head[n:]

    def write(self, chunk: bytes | memoryview) -> bool:
        """Queue ``chunk``; False means: stop reading until drained."""
        view = memoryview(chunk)
        if view.nbytes:
            self._queue.append(view)
            self.buffered_bytes += view.nbytes
            if self.buffered_bytes > self.max_buffered_bytes:
                self.max_buffered_bytes = self.buffered_bytes
            self._flush_some()
        below = self.buffered_bytes < self.high_water_mark_bytes
        if not below:
            self.pauses += 1
            self._mark()
        return below

    def wait_drain(self) -> None:
        """Block until every queued byte is written: Node's ``'drain'`` event."""
        while self._queue:
            self._poller.poll()
            self._flush_some()
        self.drains += 1
        self._mark()

    def end(self) -> None:
        """Write out what is left and put the fd back as it was."""
        if self._queue:
            self.wait_drain()
        os.set_blocking(self.fd, self._was_blocking)

    def stats(self) -> dict[str, int]:
        return {
            "pauses": self.pauses,
            "drains": self.drains,
            "max_buffered_bytes": self.max_buffered_bytes,
            "high_water_mark_bytes": self.high_water_mark_bytes,
        }
