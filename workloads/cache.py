"""The workload cache: generate once, trust only what is complete and matches.

A workload file is written under a temporary name, checksummed on the way, and
renamed when complete; its manifest is written (also via rename) after it. A
file without a manifest, a manifest from another generator version, or a size
that no longer matches is never trusted: it is regenerated, with a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import xxhash

from streambench.harness.common.errors import UsageError
from streambench.workloads import user_file
from streambench.workloads.base import Generator, PrefixGenerator, SegmentGenerator, Segments
from streambench.workloads.registry import GENERATORS, kinds

TMP_SUFFIX = ".sb-tmp"
# Room kept free beyond the file itself, so a benchmark never fills the disk.
FREE_SPACE_MARGIN_BYTES = 256 << 20

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)
MessageFn = Callable[[str], None]


@dataclass(frozen=True)
class WorkloadSpec:
    """A workload as declared data: the same spec always names the same bytes.

    A generated kind is (kind, size, seed); a user's own file is kind ``file`` with its ``path`` as
    given (its size what it was when named), read and never written (:mod:`workloads.user_file`).
    """

    kind: str
    size_bytes: int
    seed: int = 0
    path: str = ""

    def __post_init__(self) -> None:
        if self.kind == user_file.KIND:
            if not self.path:
                raise UsageError("a file workload names its file, e.g. file:./big.bin")
        elif self.kind not in GENERATORS:
            raise UsageError(f"unknown workload kind {self.kind!r}; valid kinds: {', '.join(kinds())}")
        if self.size_bytes <= 0:
            raise UsageError(f"workload size must be positive, got {self.size_bytes} bytes")

    @property
    def is_user_file(self) -> bool:
        return self.kind == user_file.KIND

    @property
    def name(self) -> str:
        """What cells, records and reports call it: the kind, or ``file:PATH``."""
        return f"{user_file.PREFIX}{self.path}" if self.is_user_file else self.kind

    @classmethod
    def named(cls, name: str, size_bytes: int, seed: int = 0) -> WorkloadSpec:
        """The spec a record's ``workload`` names (its ``name``)."""
        if user_file.is_user_file(name):
            return cls(user_file.KIND, size_bytes, seed, name.removeprefix(user_file.PREFIX))
        return cls(name, size_bytes, seed)

    def file_stem(self) -> str:
        if self.is_user_file:
            digest = hashlib.sha256(self.path.encode()).hexdigest()[:12]
            return f"file-{digest}-{self.size_bytes}B"
        version = GENERATORS[self.kind].version
        return f"{self.kind}-{self.size_bytes}B-seed{self.seed}-v{version}"


@dataclass(frozen=True)
class Manifest:
    kind: str
    requested_size_bytes: int
    seed: int
    generator_version: int
    size_bytes: int
    records: int
    xxh3_64: str
    media_type: str
    generated_at: str
    generation_s: float
    # What a file-writing kind says of its file (an mp4's duration, ffmpeg version, moov layout).
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


@dataclass(frozen=True)
class Workload:
    spec: WorkloadSpec
    path: Path
    manifest: Manifest


def default_data_dir() -> Path:
    """``$STREAMBENCH_DATA_DIR``, else ``$XDG_CACHE_HOME/streambench``, else ``~/.cache/streambench``."""
    env = os.environ.get("STREAMBENCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec: a relative value is invalid and is ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "streambench"
    return Path.home() / ".cache" / "streambench"


def workload_dir(data_dir: Path) -> Path:
    return data_dir / "workloads"


def assets_dir(data_dir: Path) -> Path:
    """What a kind makes once and uses for every size (mp4's clip): see ``SegmentGenerator``."""
    return workload_dir(data_dir) / "assets"


def paths_for(spec: WorkloadSpec, data_dir: Path) -> tuple[Path, Path]:
    ext = GENERATORS[spec.kind].extension
    base = workload_dir(data_dir) / spec.file_stem()
    return base.with_name(f"{base.name}.{ext}"), base.with_name(f"{base.name}.manifest.json")


_MANIFEST_INTS = ("requested_size_bytes", "seed", "generator_version", "size_bytes", "records")


def read_manifest(manifest_path: Path) -> Manifest | None:
    """The manifest, or None when it is missing, unreadable or has a field of the wrong type."""
    try:
        raw = json.loads(manifest_path.read_text())
        manifest = Manifest(**raw)
    except (OSError, ValueError, TypeError, RecursionError):
        return None
    if any(type(getattr(manifest, k)) is not int for k in _MANIFEST_INTS):
        return None
    if not isinstance(manifest.xxh3_64, str) or not isinstance(manifest.kind, str):
        return None
    if not isinstance(manifest.details, dict):
        return None
    return manifest


def file_checksum(
    path: Path, block_bytes: int = 4 << 20, *, put_back: Sequence[tuple[int, bytes]] = ()
) -> str:
    """xxh3-64 of a file, read in page-aligned blocks (fast; never the bottleneck).

    ``put_back``: (offset, bytes) pairs, sorted by offset, hashed in place of what the file holds
    there now (a file sink's destination, stamped for the next run before its checksum)."""
    import mmap

    h = xxhash.xxh3_64()
    buf = mmap.mmap(-1, block_bytes)
    view = memoryview(buf)
    fd = os.open(path, os.O_RDONLY)
    start = first = 0
    try:
        while n := os.readv(fd, [buf]):
            end = start + n
            while first < len(put_back) and put_back[first][0] + len(put_back[first][1]) <= start:
                first += 1
            for offset, data in put_back[first:]:
                if offset >= end:
                    break
                low, high = max(offset, start), min(offset + len(data), end)
                buf[low - start : high - start] = data[low - offset : high - offset]
            h.update(view[:n])
            start = end
    finally:
        os.close(fd)
        view.release()
        buf.close()
    return h.hexdigest()


def open_user_file(spec: WorkloadSpec, data_dir: Path, *, verify: bool = False) -> Workload:
    """A user's file as a workload: checked, checksummed (once per version of the file), never written."""
    path, st = user_file.checked_path(spec.name)
    if st.st_size != spec.size_bytes:
        raise UsageError(
            f"workload file {spec.path!r} is {st.st_size} bytes now, {spec.size_bytes} when named"
        )
    # --verify reads the file again instead of trusting the checksum kept for this version of it.
    digest, took_s = user_file.checksum(path, st, data_dir, reuse=not verify)
    manifest = Manifest(
        kind=spec.kind,
        requested_size_bytes=st.st_size,
        seed=0,
        generator_version=0,
        size_bytes=st.st_size,
        records=0,
        xxh3_64=digest,
        media_type=user_file.media_type(path),
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime)),
        generation_s=took_s,
        details={"path": str(path), "identity": user_file.identity(st), "user_file": True},
    )
    return Workload(spec, path, manifest)


def user_file_changed(workload: Workload) -> str | None:
    """How a user's file differs from when it was checked (None: it does not, or it is generated)."""
    if not workload.spec.is_user_file:
        return None
    return user_file.changed(workload.path, workload.manifest.details["identity"])


def check_cached(spec: WorkloadSpec, data_dir: Path, *, verify: bool = False) -> tuple[Workload | None, str]:
    """The cached workload if it can be trusted, else ``None`` and why not."""
    if spec.is_user_file:
        return open_user_file(spec, data_dir), "ok"
    path, manifest_path = paths_for(spec, data_dir)
    if path.is_symlink() or manifest_path.is_symlink():
        # The cache trusts only files it wrote: a same-size file behind a link is not one.
        return None, "a symbolic link, not a file the cache wrote"
    if not path.exists():
        return None, "not generated yet"
    manifest = read_manifest(manifest_path)
    if manifest is None:
        return None, "no readable manifest (an interrupted generation?)"
    if manifest.generator_version != GENERATORS[spec.kind].version:
        return None, (
            f"generator version changed ({manifest.generator_version} -> {GENERATORS[spec.kind].version})"
        )
    actual = path.stat().st_size
    if actual != manifest.size_bytes:
        return None, f"size is {actual} bytes, manifest says {manifest.size_bytes}"
    if verify:
        digest = file_checksum(path)
        if digest != manifest.xxh3_64:
            return None, f"checksum is {digest}, manifest says {manifest.xxh3_64}"
    return Workload(spec, path, manifest), "ok"


# One write() call's most, as dd's bs=1M: writing each 8 MiB block in one call ran at 0.2-0.7 GB/s
# on this VM and in 1 MiB calls at 2.6-3.1 GB/s (1 GiB of ``video``, A B A B in fresh processes).
WRITE_CALL_BYTES = 1 << 20


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """``os.write`` until every byte is out (a write may take only part of a large buffer)."""
    view = memoryview(data)
    written = 0
    while written < view.nbytes:
        written += os.write(fd, view[written : written + WRITE_CALL_BYTES])


Buffer = bytes | bytearray | memoryview

# Blocks generated but not yet written: bounds generation memory (blocks are a
# few MiB) while the writer thread overlaps the disk with the next block.
WRITE_QUEUE_BLOCKS = 3


class _BlockWriter:
    """Hashes and writes blocks in a thread, so generating one overlaps writing the last.

    ``os.write`` and xxh3 release the GIL, so on two cores the file is written
    at min(generation, disk) instead of their harmonic sum. Generators hand
    over a new buffer for every block, so a queued block is never overwritten.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._hash = xxhash.xxh3_64()
        # Bytes to write, a smaller size to take the hash at (see ``mark``), or None: the end.
        self._queue: queue.Queue[Buffer | int | None] = queue.Queue(WRITE_QUEUE_BLOCKS)
        self._error: BaseException | None = None
        # A smaller size's xxh3, taken where its output ends: size -> digest.
        self.digests_at: dict[int, str] = {}
        self._thread = threading.Thread(target=self._run, name="streambench-workload-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain after a failure, so put() never blocks forever
            if isinstance(data, int):
                self.digests_at[data] = self._hash.hexdigest()
                continue
            try:
                self._hash.update(data)
                write_all(self._fd, data)
            except BaseException as exc:  # a full disk: raised in the generating thread
                self._error = exc

    def put(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def mark(self, size_bytes: int) -> None:
        """Take the hash of everything put so far, in the writer's turn, for a smaller size."""
        self._queue.put(size_bytes)

    def finish(self) -> str:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()

    def abort(self) -> None:
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("aborted")
            self._queue.put(None)
            self._thread.join()


def _check_free_space(directory: Path, needed_bytes: int) -> None:
    free_bytes = shutil.disk_usage(directory).free
    if free_bytes < needed_bytes + FREE_SPACE_MARGIN_BYTES:
        raise UsageError(
            f"not enough free space in {directory}: need {needed_bytes + FREE_SPACE_MARGIN_BYTES} "
            f"bytes ({needed_bytes} + {FREE_SPACE_MARGIN_BYTES} margin), "
            f"{free_bytes} available"
        )


def remove_stale_temps(data_dir: Path) -> int:
    """Delete temp files left by generations that died (kill -9): never trusted anyway."""
    removed = 0
    for tmp in workload_dir(data_dir).glob(f"*{TMP_SUFFIX}"):
        pid_text = tmp.name.removesuffix(TMP_SUFFIX).rsplit(".", 1)[-1]
        if pid_text.isdigit() and Path(f"/proc/{pid_text}").exists():
            continue  # a live generation (this or another process) owns it
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)  # a scratch folder (an mp4 clip being encoded)
        else:
            tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def generate(spec: WorkloadSpec, data_dir: Path, *, progress: ProgressFn | None = None) -> Workload:
    """Generate ``spec`` into the cache, crash-safe, in constant memory."""
    return _generate(spec, data_dir, progress, ())[0]


def families(specs: Sequence[WorkloadSpec]) -> list[list[WorkloadSpec]]:
    """``specs`` to generate, grouped for :func:`generate_family`: the sizes of one
    :class:`PrefixGenerator` kind and seed together, every other spec alone; in the order given."""
    groups: dict[tuple[str, int] | WorkloadSpec, list[WorkloadSpec]] = {}
    for spec in specs:
        together = not spec.is_user_file and isinstance(GENERATORS[spec.kind], PrefixGenerator)
        groups.setdefault((spec.kind, spec.seed) if together else spec, []).append(spec)
    return list(groups.values())


def generate_family(
    specs: Sequence[WorkloadSpec], data_dir: Path, *, progress: ProgressFn | None = None
) -> dict[WorkloadSpec, Workload]:
    """Generate several sizes of one :class:`PrefixGenerator` kind and seed (or one spec of any): the
    largest, and each smaller one cut from it (its first bytes, copied in the kernel; its checksum
    taken while the largest was written) instead of generated again. ``progress`` is the largest's.

    csv at 256 MiB beside 1 GiB (the default matrix asks both): ~1 s to generate, 0.07-0.11 s to cut."""
    largest = max(specs, key=lambda s: s.size_bytes)
    if families(specs) != [list(specs)]:
        raise ValueError(f"not one family: {[s.name for s in specs]}")
    smaller = sorted({s for s in specs if s.size_bytes < largest.size_bytes}, key=lambda s: s.size_bytes)
    made = _generate(largest, data_dir, progress, smaller)
    return {w.spec: w for w in made}


def _generate(
    spec: WorkloadSpec, data_dir: Path, progress: ProgressFn | None, smaller: Sequence[WorkloadSpec]
) -> list[Workload]:
    """``spec``'s new workload, then each of ``smaller`` cut from it: made after it, so an
    interrupted generation leaves none of them trusted."""
    if spec.is_user_file:
        # Never: a user's file is theirs (and this would only make a cached copy of nothing).
        raise UsageError(f"{spec.name} is a user's file: it is read, never generated")
    generator = GENERATORS[spec.kind]
    directory = workload_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    _check_free_space(directory, spec.size_bytes + sum(s.size_bytes for s in smaller))
    path, manifest_path = paths_for(spec, data_dir)
    if not path.is_symlink() and path.exists() and not path.is_file():
        # A folder (or a device, a FIFO) where the workload goes: said before a byte is written.
        # (A symbolic link is replaced as a link; its target is never touched.)
        raise UsageError(f"cannot generate {path}: something that is not a workload file is in the way there")
    manifest_path.unlink(missing_ok=True)  # the old manifest must not vouch for new bytes
    tmp = path.with_name(f"{path.name}.{os.getpid()}{TMP_SUFFIX}")
    t0 = time.perf_counter()
    details: dict[str, Any] = {}
    cuts: dict[int, _CutPoint] = {}
    if isinstance(generator, SegmentGenerator):
        try:
            segments = generator.segments(spec.size_bytes, spec.seed, assets_dir(data_dir))
        except RuntimeError as exc:  # ffmpeg failed or made what cannot be looped: one line
            raise UsageError(f"cannot generate {spec.kind}: {exc}") from None
        written_bytes, records, details = segments.size_bytes, 0, segments.details
        digest = _write_segments(segments, tmp, progress)
    else:
        written_bytes, records, digest, cuts = _write_blocks(generator, spec, tmp, progress, smaller)
    _put_in_place(tmp, path)
    manifest = Manifest(
        kind=spec.kind,
        requested_size_bytes=spec.size_bytes,
        seed=spec.seed,
        generator_version=generator.version,
        size_bytes=written_bytes,
        records=records,
        xxh3_64=digest,
        media_type=generator.media_type,
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        generation_s=time.perf_counter() - t0,
        details=details,
    )
    _write_manifest(manifest, manifest_path)
    made = [Workload(spec, path, manifest)]
    for small in smaller:
        made.append(_cut(made[0], small, cuts[small.size_bytes], data_dir))
    return made


def _put_in_place(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot put the new workload at {path}: {exc.strerror or exc}") from None


def _write_manifest(manifest: Manifest, manifest_path: Path) -> None:
    manifest_tmp = manifest_path.with_name(f"{manifest_path.name}.{os.getpid()}{TMP_SUFFIX}")
    manifest_tmp.write_text(manifest.to_json())
    os.replace(manifest_tmp, manifest_path)


@dataclass(frozen=True)
class _CutPoint:
    """Where a smaller size's output ends in a larger one's stream."""

    size_bytes: int
    records: int
    xxh3_64: str


def _cut(larger: Workload, spec: WorkloadSpec, point: _CutPoint, data_dir: Path) -> Workload:
    """``spec``'s workload as the first ``point.size_bytes`` of ``larger``'s file."""
    t0 = time.perf_counter()
    path, manifest_path = paths_for(spec, data_dir)
    manifest_path.unlink(missing_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(larger.path, "rb") as src, open(tmp, "wb") as dst:
            copied = 0
            while copied < point.size_bytes:
                n = os.copy_file_range(src.fileno(), dst.fileno(), point.size_bytes - copied)
                if n == 0:
                    raise OSError(f"{larger.path} ended after {copied} bytes")
                copied += n
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _put_in_place(tmp, path)
    manifest = replace(
        larger.manifest,
        requested_size_bytes=spec.size_bytes,
        size_bytes=point.size_bytes,
        records=point.records,
        xxh3_64=point.xxh3_64,
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        generation_s=time.perf_counter() - t0,
        details={**larger.manifest.details, "cut_from": larger.path.name},
    )
    _write_manifest(manifest, manifest_path)
    return Workload(spec, path, manifest)


def _write_blocks(
    generator: Generator,
    spec: WorkloadSpec,
    tmp: Path,
    progress: ProgressFn | None,
    smaller: Sequence[WorkloadSpec] = (),
) -> tuple[int, int, str, dict[int, _CutPoint]]:
    written_bytes = records = 0
    ends: dict[int, tuple[int, int]] = {}  # smaller size -> (bytes, records) where its output ends
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    preallocate(fd, spec.size_bytes)
    writer = _BlockWriter(fd)
    try:
        if smaller:
            assert isinstance(generator, PrefixGenerator)
            blocks = generator.blocks_with_cuts(spec.size_bytes, spec.seed, [s.size_bytes for s in smaller])
        else:
            blocks = generator.blocks(spec.size_bytes, spec.seed)
        for block in blocks:
            writer.put(block.data)  # blocks while WRITE_QUEUE_BLOCKS are in flight
            written_bytes += memoryview(block.data).nbytes
            records += block.records
            for size in block.completes:
                writer.mark(size)
                ends[size] = (written_bytes, records)
            if progress is not None:
                progress(written_bytes, spec.size_bytes)
        digest = writer.finish()
        os.close(fd)
        fd = -1
    except BaseException:
        # Ctrl-C, a full disk, a generator bug: no partial file survives under
        # the name the cache trusts. (kill -9 leaves the temp name; see above.)
        writer.abort()
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    cuts = {size: _CutPoint(*ends[size], writer.digests_at[size]) for size in ends}
    missing = {s.size_bytes for s in smaller} - cuts.keys()
    if missing:  # a generator that did not say where a smaller size ends: a bug, not the user's
        raise AssertionError(f"{spec.kind} never completed sizes {sorted(missing)}")
    return written_bytes, records, digest, cuts


_FALLOC_FL_KEEP_SIZE = 1


def preallocate(fd: int, size_bytes: int) -> None:
    """Reserve a new file's blocks before it is written (``fallocate`` with KEEP_SIZE: its size still
    grows only as bytes are written, and a text kind's last record may run past ``size_bytes``).

    ext4 then finds its blocks already there as the writes come. ``bench-generate --size 512MiB
    --kind video`` (4-6 rounds), four runs alternating without and with it: 2.98-3.17 -> 3.59-3.90
    GB/s, 0.60-0.71x -> 0.68-0.83x dd; csv 0.24-0.31 -> 0.29-0.38 GB/s, ndjson 0.65-0.82 -> 0.90-0.98.
    Where the filesystem cannot, nothing happens (``os.posix_fallocate`` would write zeros instead)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    libc.fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, size_bytes)  # -1 (EOPNOTSUPP, ENOSPC): written as is


def pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """``os.pwrite`` until every byte is out, in calls of at most ``WRITE_CALL_BYTES``."""
    written = 0
    while written < data.nbytes:
        written += os.pwrite(fd, data[written : written + WRITE_CALL_BYTES], offset + written)


# Threads making and writing segments: one per core this process may run on, at most four.
MAX_SEGMENT_THREADS = 4


class _InOrder:
    """Lets segments be hashed (and progress told) in file order by threads that make them in any."""

    def __init__(self, progress: ProgressFn | None, total_bytes: int) -> None:
        self.hash = xxhash.xxh3_64()
        self.failed = False
        self._next = 0
        self._done_bytes = 0
        self._total_bytes = total_bytes
        self._progress = progress
        self._turn = threading.Condition()

    def hash_segment(self, index: int, data: memoryview) -> bool:
        """Wait for segment ``index``'s turn and hash it; False when another thread failed."""
        with self._turn:
            self._turn.wait_for(lambda: self._next == index or self.failed)
            if self.failed:
                return False
            self.hash.update(data)
            self._next += 1
            self._done_bytes += data.nbytes
            if self._progress is not None:
                self._progress(self._done_bytes, self._total_bytes)
            self._turn.notify_all()
            return True

    def fail(self) -> None:
        with self._turn:
            self.failed = True
            self._turn.notify_all()


def _write_segments(segments: Segments, tmp: Path, progress: ProgressFn | None) -> str:
    """Make and write ``segments`` on every core, each thread at its own offsets; returns the xxh3.

    A thread fills its own reused, page-aligned buffer, takes its turn at the hash and writes with
    pwrite: one thread's making overlaps another's writing (ext4 serialises the writes themselves).
    Against a generator thread handing blocks to a writer thread, this took ``video`` from 0.46-0.58x
    dd's pace to 0.66-0.76x (512 MiB): each thread writes a buffer still in its own core's cache, and
    nothing is handed over.
    """
    import mmap

    total_bytes = segments.size_bytes
    order = _InOrder(progress, total_bytes)
    errors: list[BaseException] = []

    def work(first: int, step: int) -> None:
        # Unmapped when the thread ends and the last view of it goes (closing it here would race
        # the views a failing fill() may still hold).
        buffer = memoryview(mmap.mmap(-1, segments.segment_bytes))
        try:
            for index in range(first, segments.count, step):
                offset = index * segments.segment_bytes
                length = min(segments.segment_bytes, segments.payload_bytes - offset)
                data = segments.fill(index, buffer)[:length]
                if not order.hash_segment(index, data):
                    return
                pwrite_all(fd, data, len(segments.head) + offset)
        except BaseException as exc:  # a full disk, a bug: raised by the calling thread
            errors.append(exc)
            order.fail()

    n_threads = max(1, min(MAX_SEGMENT_THREADS, len(os.sched_getaffinity(0)), segments.count))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    preallocate(fd, total_bytes)
    threads = [
        threading.Thread(target=work, args=(k, n_threads), name=f"streambench-segments-{k}", daemon=True)
        for k in range(n_threads)
    ]
    try:
        order.hash.update(segments.head)
        pwrite_all(fd, memoryview(segments.head), 0)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        order.hash.update(segments.tail)
        pwrite_all(fd, memoryview(segments.tail), len(segments.head) + segments.payload_bytes)
        os.close(fd)
        fd = -1
    except BaseException:
        order.fail()  # Ctrl-C in join(): the threads stop at their next turn
        for thread in threads:
            if thread.is_alive():
                thread.join()
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return order.hash.hexdigest()


def ensure(
    spec: WorkloadSpec,
    data_dir: Path,
    *,
    verify: bool = False,
    progress: ProgressFn | None = None,
    message: MessageFn | None = None,
) -> Workload:
    """The workload for ``spec``: the cached file when it can be trusted, else a new one."""
    if spec.is_user_file:
        return open_user_file(spec, data_dir)
    if workload_dir(data_dir).exists():
        remove_stale_temps(data_dir)
    cached, why = check_cached(spec, data_dir, verify=verify)
    if cached is not None:
        return cached
    path, _ = paths_for(spec, data_dir)
    if path.exists() and message is not None:
        message(f"regenerating {path.name}: {why}")
    return generate(spec, data_dir, progress=progress)


def flush(path: Path) -> None:
    """Write a file's dirty pages to disk now (fdatasync), so no writeback is left pending."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def list_cached(data_dir: Path) -> list[tuple[Path, Manifest | None]]:
    """Every workload file in the cache with its manifest (None when untrusted)."""
    directory = workload_dir(data_dir)
    if not directory.exists():
        return []
    out: list[tuple[Path, Manifest | None]] = []
    for path in sorted(directory.iterdir()):
        if path.name.endswith((".manifest.json", TMP_SUFFIX)) or not path.is_file():
            continue
        manifest_path = path.with_name(path.name.rsplit(".", 1)[0] + ".manifest.json")
        out.append((path, read_manifest(manifest_path)))
    return out


def clean(data_dir: Path, *, keep_assets: bool = False) -> int:
    """Remove every cached workload, manifest and temp file, and the kinds' assets unless
    ``keep_assets``; returns the bytes freed."""
    assets = assets_dir(data_dir)
    freed_bytes = 0
    for folder in [workload_dir(data_dir)] if keep_assets else [workload_dir(data_dir), assets]:
        if folder.exists():
            for path in folder.iterdir():
                if path.is_file():
                    freed_bytes += path.stat().st_size
                    path.unlink()
    if not keep_assets and assets.is_dir():
        assets.rmdir()
    return freed_bytes
