"""Bytes delivered over time, in fixed slices of CLOCK_MONOTONIC (fio's bandwidth log).

A receiver (the ``null``/``tcp`` consumer, each HTTP client) calls ``add(n, now)`` for
every read. Slices sit on an absolute grid (slice k covers ``[k * width, (k+1) * width)``
of the monotonic clock), so the logs of several receivers in several processes add up
slice by slice with :func:`merge`. A slice with no bytes is not written: the reader
knows the width and draws it as zero.

A long run would make a long log: past ``max_slices`` the width doubles and neighbours
merge (the grid stays aligned, so merging logs of different widths stays exact).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SLICE_S = 0.01
MAX_SLICES = 2000


class DeliveredLog:
    def __init__(self, slice_s: float = SLICE_S, max_slices: int = MAX_SLICES) -> None:
        self.slice_s = slice_s
        self._max_slices = max_slices
        self._slices: dict[int, int] = {}
        self._current = -1
        self._current_bytes = 0

    def add(self, n: int, now: float) -> None:
        if n <= 0:
            return
        k = int(now / self.slice_s)
        if k == self._current:
            self._current_bytes += n
            return
        self._flush()
        self._current, self._current_bytes = k, n
        if len(self._slices) >= self._max_slices:
            self._coarsen()

    def _flush(self) -> None:
        if self._current_bytes:
            self._slices[self._current] = self._slices.get(self._current, 0) + self._current_bytes
        self._current_bytes = 0

    def _coarsen(self) -> None:
        merged: dict[int, int] = {}
        for k, n in self._slices.items():
            merged[k // 2] = merged.get(k // 2, 0) + n
        self._slices = merged
        self._current //= 2
        self.slice_s *= 2

    def slices(self) -> list[list[float]]:
        """``[[end of the slice (monotonic s), bytes in it], ...]`` in time order."""
        self._flush()
        return [[(k + 1) * self.slice_s, n] for k, n in sorted(self._slices.items())]


def merge(logs: Iterable[tuple[float, Sequence[Sequence[float]]]]) -> tuple[float, list[list[float]]]:
    """Several ``(slice_s, slices)`` logs on the one grid -> one log at the widest of their widths."""
    logs = [(float(w), s) for w, s in logs if w > 0]
    if not logs:
        return SLICE_S, []
    width = max(w for w, _ in logs)
    total: dict[int, float] = {}
    for w, slices in logs:
        for end, n in slices:
            # the slice's start, on the wider grid (round: floats of k * w are inexact)
            k = int(round(end / w) - 1) * round(w / SLICE_S) // round(width / SLICE_S)
            total[k] = total.get(k, 0) + n
    return width, [[(k + 1) * width, n] for k, n in sorted(total.items())]
