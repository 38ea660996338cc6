"""The stream doctor: what bound a run, from its own record, in one plain sentence.

A pure function of a :class:`Record` (its figures and the signals the worker took: event-loop delay,
event-loop utilisation and GC pauses in a JS runtime, ``gc.callbacks`` and the asyncio lag probe in
Python). It names **faults** first — the mistakes the seeds warn of — then the **bound** every run has:

faults (each an alarm, with the numbers that support it)
  ``no-backpressure``  the writable queued far past its highWaterMark (``write()``'s false ignored),
                       chunk by chunk (one whole-file write is ``memory-O(n)``, not this)
  ``loop-blocked``     synchronous work held the event loop (clinic's rule: delay median >= 10 ms or
                       max >= 100 ms; here also a single stall of >= 20 ms that is >= 10% of a run
                       of 0.5 s or more)
  ``memory-O(n)``      the process's own (anonymous) memory grew with the file (>= half of it, and
                       >= 48 MiB: more than a runtime keeps whatever the file): the whole file was
                       held (a mapped file's resident pages are the page cache's, not counted)
  ``gc-churn``         garbage collection took >= 10% of the run
  ``small-chunks``     >= 256 system calls per MiB (chunks of 4 KiB or less) with chunks of 8 KiB or
                       less or a busy CPU, in a run of 8 MiB or more (or a busy one), not held back by
                       a consumer's limit
bounds (what set the pace of a healthy run; no alarm)
  ``consumer``         the consumer's rate, or the strategy waited for it (its main thread blocked:
                       neither on a CPU nor waiting for one, from /proc/self/schedstat)
  ``disk``             a cold cache and a run not CPU-bound (on this VM reading the virtual disk is
                       itself CPU in the guest's kernel: a cold run can read ``cpu``, unless
                       ``--disk-read-rate`` makes the disk slow, as the corpus's cold-disk cells do)
  ``cpu-transform``    on CPU (or runnable, waiting for a CPU another process had) >= 80% of the run,
                       with a transform
  ``cpu``              the same without one

The thresholds are the module's constants; a run without a signal (Bun has no event-loop delay
histogram; Python's sync strategies no loop) is judged on what it has. An HTTP run that serves the
workload (routes ``file`` and ``export``) is judged the same way with its server as the subject and
its viewers as the consumer; an upload with the receiving server as the subject and the uploading
clients setting the pace; an S3 upload with the uploading client as the subject and the S3 server as
its consumer. Browser runs are not diagnosed (the player watches in real time: the video sets their
pace, and their verdict is what the pages showed): their diagnosis says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from streambench.harness.common.units import format_bytes

if TYPE_CHECKING:
    from streambench.harness.results.record import Record

MiB = 1 << 20
LOOP_MEDIAN_S = 0.010
LOOP_MAX_S = 0.100
LOOP_STALL_S = 0.020
LOOP_STALL_SHARE = 0.10
# The single-stall rule needs a run long enough that one JIT or GC pause is not a tenth of it.
LOOP_STALL_MIN_WALL_S = 0.5
MEMORY_SHARE = 0.5
# Above what a runtime keeps whatever the file (V8: ~40 MiB of heap and Buffer pool).
MEMORY_MIN_GROWTH_BYTES = 48 * MiB
QUEUE_HWM_TIMES = 8
QUEUE_FILE_SHARE = 0.25
GC_SHARE = 0.10
SYSCALLS_PER_MIB = 256
SMALL_CHUNK_BYTES = 8 << 10
SMALL_RUN_MIB = 8
CPU_BUSY = 0.80
CPU_WAITING = 0.60
CONSUMER_PACE = 1.25
# A run that waited this share of its wall time for a CPU (runnable, another process on it) says so.
RUNQUEUE_SAID = 0.10
FAULTS = ("no-backpressure", "loop-blocked", "memory-O(n)", "gc-churn", "small-chunks")
BOUNDS = ("consumer", "disk", "cpu-transform", "cpu")
SINK_RUNS = ("null", "tcp", "file")


@dataclass(frozen=True)
class Finding:
    kind: str
    sentence: str
    evidence: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnosis:
    """``bound``: the first fault, else the bound; ``findings``: every fault, then the bound."""

    bound: str
    fault: bool
    sentence: str
    findings: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "bound": self.bound,
            "fault": self.fault,
            "sentence": self.sentence,
            "findings": [asdict(f) for f in self.findings],
        }


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def _gbps(bps: float) -> str:
    # Below 0.1 GB/s in MB/s: a 32 MB/s disk or a 50 MB/s consumer is not "0.03 GB/s".
    return f"{bps / 1e9:.2f} GB/s" if bps >= 1e8 else f"{bps / 1e6:.1f} MB/s"


def _note(r: Record, name: str) -> float | None:
    value = r.strategy_notes.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _loop(r: Record) -> tuple[float | None, float | None, float | None, str]:
    """(median, p99, max) event-loop delay and which probe measured it."""
    if _note(r, "loop_delay_max_s") is not None:
        return (_note(r, "loop_delay_p50_s"), _note(r, "loop_delay_p99_s"), _note(r, "loop_delay_max_s"),
                "event-loop delay")  # fmt: skip
    if _note(r, "loop_lag_max_s") is not None:
        return (_note(r, "loop_lag_median_s"), _note(r, "loop_lag_p99_s"), _note(r, "loop_lag_max_s"),
                "asyncio lag probe")  # fmt: skip
    return None, None, None, ""


def _faults(r: Record, wall_s: float, cpu_share: float | None) -> list[Finding]:
    found: list[Finding] = []
    size = r.size_bytes or r.bytes_moved
    hwm = r.high_water_mark_bytes or r.chunk_bytes
    queued = r.max_buffered_bytes or 0
    growth = (r.peak_rss_bytes - r.baseline_rss_bytes) if r.peak_rss_bytes and r.baseline_rss_bytes else None
    # What the process holds of its own: anonymous memory. A mapped file's pages (mmap) are resident but
    # are the page cache's, dropped under pressure: not "the whole file held".
    anon = r.peak_rss_anon_bytes
    own_growth = (anon - r.baseline_rss_anon_bytes) if anon and r.baseline_rss_anon_bytes else growth
    whole_write = (r.largest_chunk_bytes or 0) >= QUEUE_FILE_SHARE * size
    if hwm and not whole_write and queued >= QUEUE_HWM_TIMES * hwm and queued >= QUEUE_FILE_SHARE * size:
        grew = f"; memory grew {format_bytes(growth)}" if growth else ""
        found.append(Finding(
            "no-backpressure",
            f"No backpressure: {format_bytes(queued)} waited in the writable at once "
            f"({queued / hwm:.0f}x its "
            f"{format_bytes(hwm)} highWaterMark){grew}. Wait for 'drain' when write() returns false, or use "
            "pipeline().",
            {"max_buffered_bytes": queued, "high_water_mark_bytes": hwm,
             "peak_rss_growth_bytes": growth or 0},
        ))  # fmt: skip
    median, p99, worst, probe = _loop(r)
    if worst is not None and (
        (median or 0) >= LOOP_MEDIAN_S
        or worst >= LOOP_MAX_S
        or (worst >= LOOP_STALL_S and worst >= LOOP_STALL_SHARE * wall_s and wall_s >= LOOP_STALL_MIN_WALL_S)
    ):
        where = f" in the {r.transform} transform" if r.transform != "none" else ""
        found.append(Finding(
            "loop-blocked",
            f"Synchronous work{where} held the event loop: {_ms(worst)} at most, {_ms(p99 or 0)} at p99 "
            f"({probe}); nothing else in this process ran meanwhile. Move it off the loop (a worker thread, "
            "an async API).",
            {"loop_delay_median_s": median or 0, "loop_delay_p99_s": p99 or 0, "loop_delay_max_s": worst},
        ))  # fmt: skip
    if own_growth is not None and own_growth >= MEMORY_MIN_GROWTH_BYTES and own_growth >= MEMORY_SHARE * size:
        found.append(Finding(
            "memory-O(n)",
            f"Held the whole file: its own memory grew {format_bytes(own_growth)} for a {format_bytes(size)} "
            f"file ({own_growth / size:.2f}x, O(n)). Stream it in chunks.",
            {"peak_rss_anon_growth_bytes": own_growth, "size_bytes": size},
        ))  # fmt: skip
    gc_pause = _note(r, "gc_pause_s")
    if gc_pause is not None and wall_s and gc_pause >= GC_SHARE * wall_s:
        count = int(_note(r, "gc_count") or 0)
        found.append(Finding(
            "gc-churn",
            f"Garbage collection took {gc_pause / wall_s:.0%} of the run ({count} collections, "
            f"{_ms(gc_pause)}) at {format_bytes(r.chunk_bytes)} chunks: fewer, bigger chunks "
            "(highWaterMark) make less garbage.",
            {"gc_pause_s": gc_pause, "gc_count": count, "wall_s": wall_s},
        ))  # fmt: skip
    if (chunks := _small_chunks(r, wall_s, cpu_share)) is not None:
        found.append(chunks)
    return found


def _small_chunks(r: Record, wall_s: float, cpu_share: float | None) -> Finding | None:
    """Tiny chunks: many system calls per MiB moved, where they cost time somebody waited for."""
    calls = (r.io.get("syscr") or 0) + (r.io.get("syscw") or 0)
    moved_mib = r.bytes_moved / MiB if r.bytes_moved else 0
    # Not held back by a consumer's limit (then small chunks cost nothing anyone waits for). With small
    # chunks a busy CPU is not asked: a consumer woken for every 1 KiB can be the slower side, and then
    # the worker blocks on it (measured: on CPU 39-99% of the run for the same 1 KiB pipe into null);
    # without them (a user's code writing small pieces whatever its chunk size) it is.
    limited = bool(r.consumer_rate_bps) and r.bytes_moved / wall_s <= CONSUMER_PACE * r.consumer_rate_bps
    # The calls of a run's fixed part (opening, a server's accept and headers) weigh per MiB only in a
    # small run: below SMALL_RUN_MIB the rate alone says little, and a busy CPU is asked as well.
    small_chunks = 0 < r.chunk_bytes <= SMALL_CHUNK_BYTES
    blocked, queued = _shares(r, wall_s)
    busy = (cpu_share or 0) + (queued or 0) >= CPU_BUSY
    weighty = moved_mib >= SMALL_RUN_MIB or busy
    if (
        moved_mib
        and calls / moved_mib >= SYSCALLS_PER_MIB
        and (small_chunks or busy)
        and weighty
        and not limited
    ):
        where = f"on CPU {cpu_share:.0%} of the run" if cpu_share is not None else "CPU not measured"
        if blocked is not None:
            where += f", blocked on the other end {blocked:.0%}"
        return Finding(
            "small-chunks",
            f"{format_bytes(r.chunk_bytes)} chunks: {calls / moved_mib:.0f} read and write calls per MiB "
            f"({where}); 64 KiB chunks move the same bytes in a fraction of the calls.",
            {"syscalls_per_mib": calls / moved_mib, "cpu_share": cpu_share or 0},
        )  # fmt: skip
    return None


def _shares(r: Record, wall_s: float) -> tuple[float | None, float | None]:
    """(blocked, waiting for a CPU) as shares of the run, for the main thread: blocked is the wall time
    it was neither on a CPU nor runnable (a read, a write into a full sink, a wait for the consumer)."""
    on_cpu, queued = r.main_thread_on_cpu_s, r.main_thread_runqueue_s
    if on_cpu is None or queued is None or not wall_s:
        return None, None
    return max(0.0, wall_s - on_cpu - queued) / wall_s, queued / wall_s


def _far_end(r: Record) -> tuple[str, str, str]:
    """(who set the pace at the far end, where the bytes went, what the subject waited for) in the
    reader's words."""
    n = r.clients or 1
    if r.sink == "http" and r.http_route == "upload":
        return (
            "the uploading clients",
            f"from {n} client{'s' if n != 1 else ''} over HTTP",
            "the bytes to arrive",
        )
    if r.sink == "http" and r.http_route == "s3-upload":
        return "the S3 server", "to the S3 server", "the S3 server to take the bytes"
    if r.sink == "http":
        return (
            "the viewers",
            f"to {n} viewer{'s' if n != 1 else ''} over HTTP",
            "the viewers to take the bytes",
        )
    return "the consumer", f"to the {r.sink} sink", "the consumer to take the bytes"


def _bound(r: Record, wall_s: float, cpu_share: float | None) -> Finding:
    rate = r.bytes_moved / wall_s if wall_s else 0.0
    who, where, waited_for = _far_end(r)
    on_cpu = f"on CPU {cpu_share:.0%} of the run" if cpu_share is not None else "CPU not measured"
    evidence: dict[str, float | int | str] = {"throughput_bps": rate, "cpu_share": cpu_share or 0}
    blocked, queued = _shares(r, wall_s)
    if blocked is not None and queued is not None:
        evidence.update(main_thread_blocked_share=blocked, main_thread_runqueue_share=queued)
        # Time the run wanted a CPU another process had: the machine's noise, said where it matters.
        if queued >= RUNQUEUE_SAID:
            on_cpu += f"; it waited {queued:.0%} of the run for a CPU other processes had"
    if r.consumer_rate_bps and rate <= CONSUMER_PACE * r.consumer_rate_bps:
        return Finding(
            "consumer",
            f"{who[:1].upper() + who[1:]} set the pace: {_gbps(rate)} against "
            f"{'a viewer' if r.sink == 'http' else 'its'} limit of {_gbps(r.consumer_rate_bps)}; the "
            f"strategy waited ({on_cpu}, {r.pauses or 0} pauses).",
            {**evidence, "consumer_rate_bps": r.consumer_rate_bps},
        )
    # Cold and not CPU-bound: the reads are the likelier wait (schedstat cannot tell a read from a write
    # into the sink, so the sentence names both).
    if r.cache == "cold" and (cpu_share or 0) + (queued or 0) < CPU_BUSY:
        waited = (
            f"; its main thread blocked {blocked:.0%} of the run (on reads, or on the sink)"
            if blocked
            else ""
        )
        limit = f", its reads limited to {_gbps(r.disk_read_bps)}" if r.disk_read_bps else ""
        return Finding(
            "disk",
            f"The disk set the pace (cold cache{limit}): {_gbps(rate)}, {on_cpu}, "
            f"{r.io.get('read_bytes', 0) >> 20} MiB read from the device{waited}.",
            {**evidence, "read_bytes": r.io.get("read_bytes", 0), "disk_read_bps": r.disk_read_bps},
        )
    # Wanting a CPU counts as being CPU-bound: time runnable while another process had the core is the
    # CPU (this machine's) setting the pace, not the consumer.
    if cpu_share is not None and cpu_share + (queued or 0.0) >= CPU_BUSY:
        user, kernel = r.strategy_user_s or 0.0, r.strategy_sys_s or 0.0
        total = user + kernel
        split = f"{user / total:.0%} user, {kernel / total:.0%} kernel" if total else ""
        if r.transform != "none":
            return Finding(
                "cpu-transform",
                f"CPU in the {r.transform} transform: {on_cpu} ({split}) at {_gbps(rate)}; as expected for "
                "an honest CPU-bound step.",
                evidence,
            )
        return Finding(
            "cpu",
            f"The CPU set the pace: {on_cpu} ({split}: copies and system calls) at {_gbps(rate)}.",
            evidence,
        )
    waited = f" (its main thread blocked {blocked:.0%} of the run)" if blocked is not None else ""
    return Finding(
        "consumer",
        f"{who[:1].upper() + who[1:]} set the pace: {_gbps(rate)} {where}, {on_cpu}: the strategy waited for "
        f"{waited_for}{waited}.",
        evidence,
    )


def _not_read(r: Record) -> str | None:
    """Why the doctor does not read this run, or None when it does."""
    if r.sink in SINK_RUNS or r.sink == "http":
        return None
    if r.sink == "browser":
        return (
            "not diagnosed: a browser plays the video in real time, so the video sets its pace; what the "
            "pages showed is its verdict"
        )
    return f"not diagnosed: the doctor does not read {r.sink} runs"


def diagnose(r: Record) -> Diagnosis:
    if (why := _not_read(r)) is not None:
        return Diagnosis("-", False, why)
    if r.outcome != "ok" or not r.wall_s:
        return Diagnosis("-", False, f"not diagnosed: the run ended {r.outcome}")
    wall_s = float(r.wall_s)
    cpu = (r.strategy_user_s or 0.0) + (r.strategy_sys_s or 0.0) if r.strategy_user_s is not None else None
    cpu_share = cpu / wall_s if cpu is not None else None
    faults = _faults(r, wall_s, cpu_share)
    bound = _bound(r, wall_s, cpu_share)
    findings = (*faults, bound)
    head = findings[0]
    also = f" Also: {', '.join(f.kind for f in findings[1:-1])}." if len(faults) > 1 else ""
    return Diagnosis(head.kind, bool(faults), head.sentence + also, findings)
