"""Parent-side sinks: what sits at the far end of the fd a worker writes to.

- ``null``: a consumer process at the other end of a pipe that reads, counts and
  checksums every byte (see :mod:`harness.sinks.consumer_child`); never /dev/null.
- ``tcp``: the same consumer at the other end of a loopback TCP connection,
  optionally reading at a set rate: the slow client that makes backpressure real.
- ``file``: a destination file on the same filesystem as the workload. By
  default an *existing* file of the same size is overwritten in place, because
  fresh pages of a new file fault in slowly and erratically on this kind of VM;
  ``new`` creates the file for each run. Either way the choice is recorded.

After the worker exits, ``collect()`` says what the far end received, so the
runner can compare it with the workload's manifest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xxhash

from streambench.harness.common.forkserver import spawn_with_stdout
from streambench.harness.common.scratch import sweep_dead_suffixed
from streambench.harness.measure.probes import dirty_bytes
from streambench.harness.plan.config import Cell
from streambench.workloads.cache import file_checksum, flush

F_SETPIPE_SZ = 1031
F_GETPIPE_SZ = 1032
PIPE_BYTES = 1 << 20  # the largest pipe an unprivileged process may ask for by default
STAMP_STRIDE_BYTES = 1 << 20
CONSUMER_MODULE = "streambench.harness.sinks.consumer_child"


@dataclass(frozen=True)
class Received:
    """What the far end of a sink got."""

    bytes_received: int
    xxh3_64: str
    first_byte_at: float | None
    last_byte_at: float | None
    # bytes read in each slice: ((end of the slice, monotonic s), bytes), and the slice's width
    delivered: tuple[tuple[float, int], ...] = ()
    delivered_slice_s: float = 0.0


class ConsumerSink:
    """``null`` (a pipe) or ``tcp`` (a loopback connection) with a consumer process behind it."""

    def __init__(
        self, kind: str, rate_bps: int = 0, close_after_bytes: int = 0, decode: str | None = None
    ) -> None:
        self.kind = kind
        self.detail: dict[str, int | str]
        if kind == "null":
            consumer_fd, child_fd = os.pipe2(os.O_CLOEXEC)
            # A smaller pipe still works (and its size is recorded): not an error.
            with contextlib.suppress(OSError):
                fcntl.fcntl(child_fd, F_SETPIPE_SZ, PIPE_BYTES)
            self.detail = {"pipe_bytes": fcntl.fcntl(child_fd, F_GETPIPE_SZ)}
        elif kind == "tcp":
            consumer_fd, child_fd = _loopback_pair()
            sndbuf = socket.socket(fileno=os.dup(child_fd))
            self.detail = {"so_sndbuf_bytes": sndbuf.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)}
            sndbuf.close()
        else:
            raise ValueError(f"not a consumer sink: {kind}")
        self.detail["consumer_rate_bps"] = rate_bps
        argv = [str(consumer_fd), "--rate", str(rate_bps)]
        if close_after_bytes:
            argv += ["--close-after", str(close_after_bytes)]
        if decode:
            argv += ["--decode", decode]
            self.detail["decoded"] = decode
        try:
            # Forked already imported (harness.common.forkserver): a new interpreter per run cost
            # ~40 ms of CPU beside the worker's start.
            self._consumer = spawn_with_stdout(CONSUMER_MODULE, argv, (consumer_fd,), os.environ)
        finally:
            os.close(consumer_fd)
        self.child_fd = child_fd

    @property
    def far_end_pid(self) -> int | None:
        """The consumer process, for CPU placement."""
        return self._consumer.pid

    def release_child_fd(self) -> None:
        """Close the parent's copy, so the consumer sees EOF when the worker is done."""
        if self.child_fd >= 0:
            os.close(self.child_fd)
            self.child_fd = -1

    def collect(self, timeout_s: float) -> Received:
        self.release_child_fd()
        out, _ = self._consumer.communicate(timeout=timeout_s)
        if self._consumer.returncode != 0:
            raise RuntimeError(f"{self.kind} consumer exited {self._consumer.returncode}")
        data = json.loads(out)
        if "wire_bytes" in data:
            self.detail["wire_bytes"] = int(data["wire_bytes"])
        return Received(
            int(data["bytes"]),
            str(data["xxh3_64"]),
            data["first_byte_at"],
            data["last_byte_at"],
            tuple((float(t), int(n)) for t, n in data.get("delivered", ())),
            float(data.get("delivered_slice_s", 0.0)),
        )

    def abort(self) -> None:
        self.release_child_fd()
        if self._consumer.poll() is None:
            self._consumer.kill()
        self._consumer.wait()
        if self._consumer.stdout is not None:
            self._consumer.stdout.close()


def _loopback_pair() -> tuple[int, int]:
    """A connected TCP pair on 127.0.0.1: (consumer's end, worker's end), as raw fds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    # detach(): the fds now belong to us (and the children), not to socket objects.
    return server.detach(), client.detach()


class FileSink:
    kind = "file"

    def __init__(self, dest_path: Path, size_bytes: int, mode: str, decode: str | None = None) -> None:
        self.dest_path = dest_path
        self.size_bytes = size_bytes
        self.decode = decode
        self.detail: dict[str, int | str] = {"dest": mode}
        if decode:
            # How many bytes a decoded stream takes on the wire is not known before
            # the run: the destination is made anew, so no stale tail can follow it.
            self.detail["decoded"] = decode
            self.detail["dest"] = mode = "new"
        dest_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_NOFOLLOW on every open: a symlink planted at the destination is
        # refused (ELOOP), never followed to overwrite what it points to.
        if mode == "new":
            dest_path.unlink(missing_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        else:
            _prepare_existing(dest_path, size_bytes)
            flags = os.O_WRONLY  # no O_TRUNC: overwrite in place, like conv=notrunc
            # The proof that no earlier run's writeback is left to bleed into this one: 0.
            dirty = dirty_bytes(dest_path)
            if dirty is not None:
                self.detail["dest_dirty_bytes"] = dirty
        self.child_fd = os.open(dest_path, flags | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)

    # A file has no far-end process to place on a core.
    far_end_pid: int | None = None

    def release_child_fd(self) -> None:
        if self.child_fd >= 0:
            os.close(self.child_fd)
            self.child_fd = -1

    def collect(self, timeout_s: float) -> Received:
        self.release_child_fd()
        size_bytes = self.dest_path.stat().st_size
        # An existing destination is stamped for the next run now, before the flush: the stamps'
        # pages are then written back with the run's own (they were dirty anyway), instead of by a
        # second fdatasync of ~1,000 scattered pages when the next run starts (~85 ms a 1 GiB run
        # here). The checksum puts the stamped bytes' originals back, so it is the run's output's.
        originals: list[tuple[int, bytes]] = []
        if self.detail["dest"] == "existing" and size_bytes == self.size_bytes:
            originals = _stamp(self.dest_path, size_bytes)
        # Flush what the run wrote now, outside any timed section, so its writeback does not
        # bleed into the next measured run; in a thread, while the checksum reads the same
        # (cached) pages: the flush waits on the disk and the checksum on memory, so a 1 GiB
        # run's collect takes the longer of the two (~0.25 s here) instead of their sum
        # (~0.13 + 0.25 s). Both release the GIL.
        flushed: list[BaseException] = []
        flusher = threading.Thread(target=_flush, args=(self.dest_path, flushed), name="sb-dest-flush")
        flusher.start()
        try:
            if self.decode == "gzip":
                self.detail["wire_bytes"] = size_bytes
                size_bytes, digest = _gunzip_checksum(self.dest_path)
            else:
                digest = file_checksum(self.dest_path, put_back=originals)
        finally:
            flusher.join()
        if flushed:
            raise flushed[0]
        if originals:
            _STAMPED[str(self.dest_path)] = _identity(self.dest_path)
        return Received(size_bytes, digest, None, None)

    def abort(self) -> None:
        self.release_child_fd()


def _flush(path: Path, errors: list[BaseException]) -> None:
    """The cache's ``flush`` (fdatasync) in a thread; an error is kept for the caller's thread to raise."""
    try:
        flush(path)
    except BaseException as exc:
        errors.append(exc)


def _gunzip_checksum(path: Path) -> tuple[int, str]:
    """(bytes, xxh3-64) of what a gzip file holds; -1 bytes when the stream is incomplete."""
    h = xxhash.xxh3_64()
    inflate = zlib.decompressobj(31)
    n_bytes = 0
    with open(path, "rb") as f:
        while block := f.read(4 << 20):
            plain = inflate.decompress(block)
            h.update(plain)
            n_bytes += len(plain)
    plain = inflate.flush()
    h.update(plain)
    n_bytes += len(plain)
    return (n_bytes if inflate.eof and not inflate.unused_data else -1), h.hexdigest()


def _prepare_existing(dest_path: Path, size_bytes: int) -> None:
    """Make ``dest_path`` an existing, allocated file of ``size_bytes``, then stamp it.

    The stamps (16 random bytes every MiB and at the end, new for every run) make sure a run
    that skips any MiB of the destination cannot pass verification on bytes left there by an
    earlier run. A destination this process's last collect stamped and flushed, and that nothing
    changed since (same inode, size and mtime), is ready as it is.
    """
    if not dest_path.exists() or dest_path.stat().st_size != size_bytes:
        fd = os.open(dest_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            zeros = bytes(1 << 20)
            remaining = size_bytes
            while remaining > 0:
                remaining -= os.write(fd, zeros[: min(remaining, len(zeros))])
            os.fdatasync(fd)
        finally:
            os.close(fd)
    if _STAMPED.pop(str(dest_path), None) == _identity(dest_path):
        return
    _stamp(dest_path, size_bytes)
    # Flushed now: the stamps' dirty pages (one per MiB) would otherwise be written back during
    # the measured run, beside the run's own writes.
    flush(dest_path)


# Destinations stamped (and flushed) by a collect, for the next run: path -> (inode, size, mtime).
_STAMPED: dict[str, tuple[int, int, int]] = {}


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def _stamp(dest_path: Path, size_bytes: int) -> list[tuple[int, bytes]]:
    """Write a new random stamp every ``STAMP_STRIDE_BYTES`` and over the last bytes; the bytes each
    stamp replaced, sorted by offset (all read before any is written: the last may overlap another)."""
    stamp = os.urandom(16)
    offsets = [*range(0, size_bytes, STAMP_STRIDE_BYTES), size_bytes - min(len(stamp), size_bytes)]
    fd = os.open(dest_path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        originals = sorted((offset, os.pread(fd, len(stamp), offset)) for offset in offsets)
        for offset, original in originals:
            os.pwrite(fd, stamp[: len(original)], offset)
    finally:
        os.close(fd)
    return originals


def dest_dir(data_dir: Path) -> Path:
    return data_dir / "dest"


def scratch_dir(data_dir: Path, owner: str) -> Path:
    """One run's own folder of scratch destinations: ``DATA_DIR/dest/<owner>.<pid>/``.

    Cleaning up removes this folder's scratch files only, never anything else in
    ``dest/`` (a user's ``--data-dir .`` may hold their own ``dest/``).
    """
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in owner)
    # A harness killed with kill -9 left its folder (and a workload-sized file in it): gone now,
    # when it holds nothing but scratch destinations.
    sweep_dead_suffixed(dest_dir(data_dir), lambda folder: all(_is_scratch_file(p) for p in folder.iterdir()))
    return dest_dir(data_dir) / f"{safe}.{os.getpid()}"


def _is_scratch_file(path: Path) -> bool:
    return path.name.startswith("dest-") and path.name.endswith("B.out") and not path.is_dir()


def dest_path_for(scratch: Path, size_bytes: int) -> Path:
    """One scratch destination per size, shared by the cells (runs are sequential)."""
    return scratch / f"dest-{size_bytes}B.out"


def remove_scratch(scratch: Path) -> None:
    """A benchmark cleans up what it wrote: this run's scratch files, then its folders if empty."""
    if not scratch.is_dir() or scratch.is_symlink():
        return
    for path in scratch.iterdir():
        if _is_scratch_file(path):
            path.unlink(missing_ok=True)
    for directory in (scratch, scratch.parent):
        with contextlib.suppress(OSError):  # not empty (the user's own files), or a mount point
            directory.rmdir()


Sink = ConsumerSink | FileSink
# (cell, the run's scratch folder, size, consumer's hang-up point, what to decode) -> the parent's end
SinkFactory = Callable[[Cell, Path, int, int, "str | None"], Sink]


def consumer_sink(
    cell: Cell, scratch: Path, size_bytes: int, close_after_bytes: int = 0, decode: str | None = None
) -> Sink:
    """A consumer process behind a pipe (null) or a loopback socket (tcp), at the cell's rate."""
    return ConsumerSink(cell.sink, cell.consumer_rate_bps, close_after_bytes, decode)


def file_sink(
    cell: Cell, scratch: Path, size_bytes: int, close_after_bytes: int = 0, decode: str | None = None
) -> Sink:
    """A destination file in the run's scratch folder, existing or new as the cell says."""
    return FileSink(dest_path_for(scratch, size_bytes), size_bytes, cell.dest, decode)
