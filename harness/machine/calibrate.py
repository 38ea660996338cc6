"""``streambench calibrate``: this machine's limits, so strategies can be shown as a share of them.

Measured in one process, each the median of a few repeats:
- warm sequential read (page cache -> an aligned user buffer, like ``cat``),
- cold sequential read (after fdatasync + POSIX_FADV_DONTNEED; on a VM "cold"
  is the host's cache, so ``read_bytes`` says whether the disk was even asked),
- page-cache write (overwriting an existing file: the steady case),
- memory copy (NumPy copy between two warm buffers),
- loopback TCP (to the same consumer process the ``tcp`` sink uses).
Saved as ``DATA_DIR/calibration.json``; every later run stores a copy in run.json.
"""

from __future__ import annotations

import json
import mmap
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streambench.harness.common.lifeline import PARENT_PID_ENV
from streambench.harness.machine.info import machine_info
from streambench.harness.measure.probes import make_cold, make_warm, read_io, resident_bytes
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec

CALIBRATION_FILE = "calibration.json"
BUFFER_BYTES = 1 << 20
# The pass a run makes by itself on a machine with no calibration: short (~2 s here), so
# "% of the machine's limit" is never empty; `streambench calibrate` measures longer.
FIRST_RUN_SIZE_BYTES = 256 << 20
FIRST_RUN_REPEATS = 3
# memcpy's buffers: well past any CPU cache, small enough to fault in quickly.
COPY_BYTES = 64 << 20


def machine_id() -> str:
    """This machine: /etc/machine-id where there is one, with the hostname and the CPU count."""
    import socket

    try:
        ident = Path("/etc/machine-id").read_text().strip()
    except OSError:
        ident = ""
    return f"{ident or '?'}/{socket.gethostname()}/{os.cpu_count()}"


def machine_calibration_path() -> Path:
    """Where this machine's calibration is kept for every data folder: the user's cache."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "streambench" / CALIBRATION_FILE


def _this_machines(saved: dict[str, Any]) -> bool:
    return bool(saved) and saved.get("machine_id", machine_id()) == machine_id()


def ensure_calibrated(data_dir: Path, say: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """This machine's calibration in ``data_dir``: the one there, else the machine's (copied in),
    else a short pass measured now and kept in both."""
    saved = load_calibration(data_dir)
    if _this_machines(saved):
        return saved
    machine_path = machine_calibration_path()
    saved = load_calibration(machine_path.parent)
    if not _this_machines(saved):
        say(f"calibrating this machine once ({FIRST_RUN_SIZE_BYTES >> 20} MiB, {FIRST_RUN_REPEATS} repeats; "
            "`streambench calibrate` measures longer)")  # fmt: skip
        saved = measure(data_dir, FIRST_RUN_SIZE_BYTES, FIRST_RUN_REPEATS)
        saved["pass"] = "first run (short)"
        save(machine_path.parent, saved)
    save(data_dir, saved)
    return saved


def load_calibration(data_dir: Path) -> dict[str, Any]:
    path = data_dir / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _median_rate(n_bytes: int, runs: int, once: Callable[[], float]) -> tuple[float, list[float]]:
    rates = [n_bytes / once() for _ in range(runs)]
    return statistics.median(rates), rates


def _read_file_s(path: Path) -> float:
    """A sequential read into an aligned buffer, as make_warm does it (cat's way)."""
    t0 = time.perf_counter()
    make_warm(path)
    return time.perf_counter() - t0


def _write_file_s(path: Path, size_bytes: int) -> float:
    buf = mmap.mmap(-1, BUFFER_BYTES)
    buf.write(os.urandom(BUFFER_BYTES))
    view = memoryview(buf)
    fd = os.open(path, os.O_WRONLY)  # no O_TRUNC: overwrite the existing file in place
    try:
        t0 = time.perf_counter()
        remaining = size_bytes
        while remaining > 0:
            remaining -= os.write(fd, view[: min(remaining, BUFFER_BYTES)])
        elapsed = time.perf_counter() - t0
        os.fdatasync(fd)  # outside the timing: the next measurement starts clean
        return elapsed
    finally:
        os.close(fd)
        view.release()
        buf.close()


def _tcp_send_s(size_bytes: int) -> float:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid())})
    consumer = subprocess.Popen(
        [sys.executable, "-m", "streambench.harness.sinks.consumer_child", str(server.fileno())],
        pass_fds=(server.fileno(),),
        stdout=subprocess.PIPE,
        env=env,
    )
    server.close()
    buf = mmap.mmap(-1, BUFFER_BYTES)
    view = memoryview(buf)
    try:
        time.sleep(0.2)  # let the consumer start before the clock does
        t0 = time.monotonic()
        remaining = size_bytes
        while remaining > 0:
            n = min(remaining, BUFFER_BYTES)
            client.sendall(view[:n])
            remaining -= n
        client.close()
        out, _ = consumer.communicate(timeout=120)
        return float(json.loads(out)["last_byte_at"]) - t0
    finally:
        view.release()
        buf.close()


def _copier(copy_bytes: int) -> Callable[[], float]:
    """A timed copy between two warm buffers of ``copy_bytes``.

    Buffers from anonymous mmap, not NumPy's allocator: NumPy asks for transparent huge pages for
    large arrays, and with THP defrag at "madvise" (this machine's) each first touch of such an
    array may wait on compaction when the page cache has fragmented memory: 256 MiB took
    0.05-1.5 s to fault in here, the copy itself 0.04 s. Both buffers are touched before timing.
    So the figure is a copy between 4 KiB pages, as a strategy's own buffers have (8.6 GB/s here;
    10.9 between huge pages). The maps live as long as the function that copies.
    """
    import numpy as np  # here: the CLI imports this module, and --help needs no numpy

    src = np.frombuffer(mmap.mmap(-1, copy_bytes), dtype=np.uint8)
    dst = np.frombuffer(mmap.mmap(-1, copy_bytes), dtype=np.uint8)
    src.fill(1)
    dst.fill(0)

    def copy_s() -> float:
        t0 = time.perf_counter()
        np.copyto(dst, src)
        return time.perf_counter() - t0

    copy_s()
    return copy_s


def measure(data_dir: Path, size_bytes: int = 512 << 20, runs: int = 3) -> dict[str, Any]:
    workload = cache.ensure(WorkloadSpec("video", size_bytes, seed=0), data_dir)
    path = workload.path
    results: dict[str, Any] = {"size_bytes": size_bytes, "runs": runs}

    make_warm(path)
    results["warm_read_bps"], results["warm_read_all_bps"] = _median_rate(
        size_bytes, runs, lambda: _read_file_s(path)
    )

    cold_rates, disk_read_bytes, resident_after_evict = [], [], []
    for _ in range(runs):
        make_cold(path)
        resident_after_evict.append(resident_bytes(path)[0])
        io_before = read_io()
        cold_rates.append(size_bytes / _read_file_s(path))
        disk_read_bytes.append(read_io().get("read_bytes", 0) - io_before.get("read_bytes", 0))
    results["cold_read_bps"] = statistics.median(cold_rates)
    results["cold_read_all_bps"] = cold_rates
    results["cold_read_disk_bytes"] = disk_read_bytes
    results["cold_resident_after_evict_bytes"] = resident_after_evict

    scratch = data_dir / "calibration-write.scratch"
    try:
        with open(scratch, "wb") as f:
            f.truncate(0)
        fd = os.open(scratch, os.O_WRONLY)
        try:
            zeros = bytes(BUFFER_BYTES)
            for _ in range(size_bytes // BUFFER_BYTES):
                os.write(fd, zeros)
            os.fdatasync(fd)
        finally:
            os.close(fd)
        results["page_cache_write_bps"], results["page_cache_write_all_bps"] = _median_rate(
            size_bytes, runs, lambda: _write_file_s(scratch, size_bytes)
        )
    finally:
        scratch.unlink(missing_ok=True)

    copy_bytes = min(size_bytes, COPY_BYTES)
    copy = _copier(copy_bytes)
    results["memcpy_bps"], results["memcpy_all_bps"] = _median_rate(copy_bytes, max(runs, 5), copy)

    tcp_bytes = min(size_bytes, 1 << 30)
    results["loopback_tcp_bps"], results["loopback_tcp_all_bps"] = _median_rate(
        tcp_bytes, runs, lambda: _tcp_send_s(tcp_bytes)
    )
    results["measured_at_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"] = machine_info()
    results["machine_id"] = machine_id()
    results["note"] = (
        "cold reads on a VM come from the host's cache as often as from a disk; "
        "cold_read_disk_bytes shows how much the guest asked its disk for"
    )
    return results


def save(data_dir: Path, results: dict[str, Any]) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CALIBRATION_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path
