"""Folders a run makes for itself, named by the pid that owns them, and swept once that pid is gone.

A ``kill -9`` of the harness skips every ``finally`` and ``TemporaryDirectory`` exit: the file
sink's scratch destination (a workload-sized file), a Chromium profile, an upload folder would
stay forever. Each such folder carries its owner's pid in its name; the next run that makes one
of its kind removes the ones whose owner no longer lives. A folder whose pid is alive, or whose
name does not parse, is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def owned_tempdir(prefix: str, parent: Path | None = None) -> Path:
    """A new folder ``{prefix}{pid}-XXXXXXXX`` (in ``$TMPDIR`` unless ``parent``), after sweeping the
    dead owners' folders of the same prefix."""
    where = parent if parent is not None else Path(tempfile.gettempdir())
    sweep_dead(where, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=where))


@contextlib.contextmanager
def owned_tempdir_context(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """``owned_tempdir`` removed on exit (a ``TemporaryDirectory`` that a later run can sweep)."""
    path = owned_tempdir(prefix, parent)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_dead(parent: Path, prefix: str, removable: Callable[[Path], bool] = lambda path: True) -> int:
    """Remove ``parent/{prefix}{pid}-*`` folders whose pid is dead (and ``removable`` agrees)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[^/]*\Z")
    return _sweep(parent, pattern, removable)


def sweep_dead_suffixed(parent: Path, removable: Callable[[Path], bool]) -> int:
    """Remove ``parent/<name>.<pid>`` folders whose pid is dead and that ``removable`` accepts."""
    return _sweep(parent, re.compile(r"[A-Za-z0-9_.-]+\.(\d+)\Z", re.ASCII), removable)


def _sweep(parent: Path, pattern: re.Pattern[str], removable: Callable[[Path], bool]) -> int:
    removed = 0
    try:
        entries = list(parent.iterdir())
    except OSError:
        return 0
    for path in entries:
        match = pattern.match(path.name)
        if match is None or not path.is_dir() or path.is_symlink():
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or pid_alive(pid) or not removable(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed
