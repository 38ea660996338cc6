"""Work counters: what a run did per MiB it moved, from ``/proc/<pid>/io``.

The system calls it made and the bytes that crossed the user/kernel boundary (read(2)/write(2)
and friends). An extra copy through the kernel, a smaller chunk or a write per line shows here
whatever the clock says, and nearly the same in every run: so ``compare`` (and ``history``
through it) and claims can decide on them at 3 runs where time cannot. One declaration, light
enough for claims (no pandas).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MiB = 1 << 20

# name -> (words, the /proc/<pid>/io keys summed)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "syscalls_per_mib": ("syscalls per MiB", ("syscr", "syscw")),
    "kernel_bytes_per_mib": ("bytes across the kernel boundary per MiB", ("rchar", "wchar")),
}


def per_mib(io: Any, bytes_moved: Any, name: str) -> float | None:
    """One counter of one run per MiB it moved; None when the run has no such figures."""
    if not isinstance(io, Mapping) or not isinstance(bytes_moved, int | float) or not bytes_moved > 0:
        return None
    keys = COUNTERS[name][1]
    if not all(isinstance(io.get(k), int | float) for k in keys):
        return None
    return sum(float(io[k]) for k in keys) / (float(bytes_moved) / MiB)
