"""A user's own file as the workload (``--workload file:PATH``): read, never written.

Nothing here opens the file for writing, renames, truncates, copies or deletes it. Its checksum
(what every far end is checked against) is computed once and cached under the data folder, keyed
by what changes when the file does: device, inode, size and modification time. A run notices a
file that changed under it (:func:`changed`) and stops; the runs measured before are kept.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import stat
import time
from pathlib import Path

from streambench.harness.common.errors import UsageError

KIND = "file"
PREFIX = f"{KIND}:"


def is_user_file(text: str) -> bool:
    return text.startswith(PREFIX)


def shown(text: str) -> str:
    """The path as cells and reports name it: as given, normalised (``./big.bin``, ``/data/x``)."""
    given = os.path.normpath(text.removeprefix(PREFIX))
    return given if given.startswith(("/", "..", "~")) else f"./{given}"


def checked_path(text: str, what: str = "workload file") -> tuple[Path, os.stat_result]:
    """The file ``file:PATH`` names, and its stat; one clear line when it cannot be a workload."""
    given = text.removeprefix(PREFIX)
    if not given:
        raise UsageError("bad workload 'file:': name the file, e.g. file:./big.bin")
    path = Path(given).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{what} {given!r} does not exist") from None
    except OSError as exc:
        raise UsageError(f"{what} {given!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{what} {given!r} is a directory: name a regular file")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO, a socket or a device reads once, or never ends: a workload is read many times.
        raise UsageError(f"{what} {given!r} is not a regular file (a FIFO, socket or device)")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{what} {given!r} cannot be read: permission denied")
    if st.st_size == 0:
        raise UsageError(f"{what} {given!r} is empty")
    return path.resolve(), st


def identity(st: os.stat_result) -> dict[str, int]:
    """What changes when the file does (a rewrite in place changes mtime; a replacement, the inode)."""
    return {"device": st.st_dev, "inode": st.st_ino, "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def changed(path: Path, was: dict[str, int]) -> str | None:
    """How the file differs from ``was`` (its identity when checked), or None."""
    try:
        now = identity(path.stat())
    except OSError as exc:
        return f"it can no longer be read ({exc.strerror or exc})"
    diffs = [f"{k} {was.get(k)} -> {v}" for k, v in now.items() if was.get(k) != v]
    return ", ".join(diffs) or None


def media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def checksum(path: Path, st: os.stat_result, data_dir: Path, *, reuse: bool = True) -> tuple[str, float]:
    """The file's xxh3-64 and the seconds it took (0 when it came from the cache of checksums)."""
    from streambench.workloads.cache import file_checksum

    key = identity(st)
    name = hashlib.sha256(str(path).encode()).hexdigest()[:24]
    cache_path = data_dir / "user-files" / f"{name}.json"
    try:
        cached = json.loads(cache_path.read_text())
        if reuse and cached["identity"] == key and cached["path"] == str(path):
            return str(cached["xxh3_64"]), 0.0
    except (OSError, ValueError, KeyError, TypeError):
        pass
    t0 = time.perf_counter()
    digest = file_checksum(path)
    took_s = time.perf_counter() - t0
    if changed(path, key) is not None:
        raise UsageError(f"workload file {path} changed while its checksum was computed")
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_name(f"{cache_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"path": str(path), "identity": key, "xxh3_64": digest}))
    os.replace(tmp, cache_path)
    return digest, took_s
