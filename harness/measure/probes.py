"""Measurement probes: /proc readers, the VmHWM reset, page-cache residency.

Everything here reads the kernel's own counters. None of it allocates much or
runs long, because the worker calls some of it right around the timed section.
"""

from __future__ import annotations

import ctypes
import gc
import mmap
import os
import time
from pathlib import Path

PAGE_BYTES = mmap.PAGESIZE

# /proc/<pid>/status fields we keep, all reported in kB.
_STATUS_FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")
IO_FIELDS = ("rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes")


def read_status(pid: int | str = "self") -> dict[str, int]:
    """Memory fields of /proc/<pid>/status in bytes; empty for a zombie or a gone pid."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(b":")
        name = key.decode()
        if name in _STATUS_FIELDS:
            out[name] = int(rest.split()[0]) * 1024
    return out


def read_schedstat() -> tuple[int, int] | None:
    """This process's main thread, from /proc/self/schedstat: (ns on a CPU, ns runnable but waiting for
    one). None where the kernel keeps no schedstats."""
    try:
        with open("/proc/self/schedstat", "rb") as f:
            on_cpu, waiting, _ = f.read().split()
        return int(on_cpu), int(waiting)
    except (OSError, ValueError):
        return None


def read_io(pid: int | str = "self") -> dict[str, int]:
    """The I/O counters of /proc/<pid>/io (whole thread group)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/io", "rb") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(b":")
        name = key.decode()
        if name in IO_FIELDS:
            out[name] = int(rest)
    return out


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (``echo 5 > clear_refs``).

    The worker does this once its imports are done, so VmHWM afterwards is the
    peak of the strategy's run alone. (``ru_maxrss`` from ``wait4`` cannot be
    used: the kernel carries the parent's high-water mark across exec.)
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


class _CachestatRange(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Cachestat(ctypes.Structure):
    _fields_ = [
        ("nr_cache", ctypes.c_uint64),
        ("nr_dirty", ctypes.c_uint64),
        ("nr_writeback", ctypes.c_uint64),
        ("nr_evicted", ctypes.c_uint64),
        ("nr_recently_evicted", ctypes.c_uint64),
    ]


_SYS_CACHESTAT = 451  # x86_64 and aarch64, Linux >= 6.5
_libc = ctypes.CDLL(None, use_errno=True)


def _cachestat(fd: int) -> _Cachestat | None:
    """The whole file's page-cache state; None where the kernel has no cachestat (before 6.5)."""
    rng = _CachestatRange(0, 0)  # len 0: to the end of the file
    stat = _Cachestat()
    if _libc.syscall(_SYS_CACHESTAT, fd, ctypes.byref(rng), ctypes.byref(stat), 0) != 0:
        return None
    return stat


def _resident_cachestat(fd: int) -> int | None:
    stat = _cachestat(fd)
    return None if stat is None else int(stat.nr_cache) * PAGE_BYTES


def dirty_bytes(path: Path) -> int | None:
    """Bytes of ``path`` dirty or under writeback in the page cache now (cachestat); None where the
    kernel cannot say (before Linux 6.5)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        stat = _cachestat(fd)
    finally:
        os.close(fd)
    return None if stat is None else (int(stat.nr_dirty) + int(stat.nr_writeback)) * PAGE_BYTES


def _resident_mincore(fd: int, size_bytes: int) -> int:
    """Fallback for kernels without cachestat: map the file and ask ``mincore``."""
    if size_bytes == 0:
        return 0
    mmap_fn = _libc.mmap
    mmap_fn.restype = ctypes.c_void_p
    mmap_fn.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    addr = mmap_fn(None, size_bytes, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    try:
        n_pages = (size_bytes + PAGE_BYTES - 1) // PAGE_BYTES
        vec = (ctypes.c_ubyte * n_pages)()
        if _libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size_bytes), vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed")
        return sum(b & 1 for b in bytes(vec)) * PAGE_BYTES
    finally:
        _libc.munmap(ctypes.c_void_p(addr), ctypes.c_size_t(size_bytes))


def resident_bytes(path: Path) -> tuple[int, str]:
    """How many bytes of ``path`` are in the page cache now, and how that was measured."""
    fd = os.open(path, os.O_RDONLY)
    try:
        cached = _resident_cachestat(fd)
        if cached is not None:
            return min(cached, os.fstat(fd).st_size), "cachestat"
        return _resident_mincore(fd, os.fstat(fd).st_size), "mincore"
    finally:
        os.close(fd)


def make_warm(path: Path) -> None:
    """Read the whole file once so its pages are in the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        buf = mmap.mmap(-1, 1 << 20)  # page-aligned, so the copy runs at full speed
        try:
            while os.readv(fd, [buf]):
                pass
        finally:
            buf.close()
    finally:
        os.close(fd)


def make_cold(path: Path) -> None:
    """Evict the file from the page cache: flush dirty pages, then drop them.

    Without the fdatasync about a quarter of a freshly written file stays cached.
    Pages mapped by a live process are never dropped, and "cold" on a VM still
    means the host's cache (see FIELD-NOTES): residency is measured, not assumed.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def drop_all_caches() -> bool:
    """``sync; echo 1 > /proc/sys/vm/drop_caches``: every clean page, not just one file's.

    Root only; False when not permitted. Used for cold runs with --drop-caches.
    """
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
    except OSError:
        return False
    return True


class GcWatch:
    """Python's garbage collector over a section (``gc.callbacks``): passes and their total pause.

    Bytes objects are not tracked by the cyclic GC, so a copy loop rarely sees a pass; a strategy that
    makes containers per chunk does. The stream doctor reads ``gc_count`` and ``gc_pause_s``."""

    def __init__(self) -> None:
        self.count = 0
        self.pause_s = 0.0
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.count += 1
            self.pause_s += time.perf_counter() - self._began

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def figures(self) -> dict[str, float | int]:
        return {"gc_count": self.count, "gc_pause_s": self.pause_s}
