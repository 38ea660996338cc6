"""The file sink's existing destination: stamped for the next run at collect, and still never
passing a run that skipped part of it on bytes an earlier run left there."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import xxhash

from streambench.harness.sinks import handles
from streambench.harness.sinks.handles import FileSink
from streambench.workloads.cache import file_checksum

MiB = 1 << 20
SIZE = 3 * MiB + 5  # not a multiple of the stride: the tail stamp overlaps the last MiB's


def _write(sink: FileSink, data: bytes, skip: tuple[int, int] | None = None) -> None:
    """What a worker does through the sink's fd: ``data`` in place, but for ``skip`` (start, end)."""
    fd = sink.child_fd
    for start in range(0, len(data), MiB):
        end = min(start + MiB, len(data))
        if skip is None or end <= skip[0] or start >= skip[1]:
            os.pwrite(fd, data[start:end], start)


def test_a_checksum_with_the_originals_put_back_is_the_files_before_the_stamps(tmp_path: Path) -> None:
    path = tmp_path / "f"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    originals = handles._stamp(path, SIZE)
    assert path.read_bytes() != data
    assert [o for o, _ in originals] == sorted(o for o, _ in originals)
    for block_bytes in (4096, MiB, 4 * MiB):
        assert file_checksum(path, block_bytes, put_back=originals) == xxhash.xxh3_64(data).hexdigest()


def test_collect_stamps_for_the_next_run_and_a_skipped_mib_still_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest" / "dest.out"
    data = os.urandom(SIZE)
    expected = xxhash.xxh3_64(data).hexdigest()
    flushes: list[Path] = []
    real_flush = handles.flush
    monkeypatch.setattr(handles, "flush", lambda p: (flushes.append(p), real_flush(p))[1])

    first = FileSink(dest, SIZE, "existing")
    assert flushes == [dest]  # a new destination: stamped and flushed before the run
    _write(first, data)
    assert first.collect(10).xxh3_64 == expected
    assert dest.read_bytes() != data  # stamped for the next run, after the checksum

    flushes.clear()
    second = FileSink(dest, SIZE, "existing")
    assert flushes == []  # ready as the last collect left it: no second stamping
    assert second.detail["dest_dirty_bytes"] in (0, None)
    _write(second, data, skip=(MiB, 2 * MiB))  # the same bytes, but one MiB never written
    assert second.collect(10).xxh3_64 != expected

    third = FileSink(dest, SIZE, "existing")
    _write(third, data)
    assert third.collect(10).xxh3_64 == expected


def test_a_destination_changed_after_collect_is_stamped_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest.out"
    data = os.urandom(SIZE)
    sink = FileSink(dest, SIZE, "existing")
    _write(sink, data)
    sink.collect(10)
    # ext4's file times tick with the kernel's coarse clock (a few ms): a change within the same
    # tick as the stamping keeps the mtime. Nothing but our own runs writes a scratch destination.
    time.sleep(0.05)
    with open(dest, "r+b") as f:  # someone else writes it (a stale copy of the run's output)
        f.write(data)
    flushes: list[Path] = []
    monkeypatch.setattr(handles, "flush", lambda p: flushes.append(p))
    FileSink(dest, SIZE, "existing").release_child_fd()
    assert flushes == [dest]
    assert dest.read_bytes() != data
