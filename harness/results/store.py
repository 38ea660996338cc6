"""The results store: records appended and fsync'd one by one, never rewritten.

``results/<run-id>/results.jsonl`` gets a line the moment a run ends, so a
crash, an OOM kill of the harness or Ctrl-C loses nothing already measured.
A line is on disk whole or not at all: a short write (a full disk) is rolled
back, so the next record can never be glued onto a fragment. One process owns
a run directory at a time (a lock file), so two ``--resume`` of one run cannot
both run its missing set.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from streambench.harness.common.errors import UsageError
from streambench.harness.results.record import Record

RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"
REPORT_FILE = "report.html"
LOCK_FILE = ".lock"
# Keys a line must have to be placed in a run (resume keys runs by them).
REQUIRED_KEYS = ("cell_id", "repeat", "warmup", "outcome")
# Deeper JSON than this is not a record (and would overflow the parser's stack).
MAX_JSON_DEPTH = 64


class StoreError(UsageError):
    """The store could not write: the disk is full or the folder is not writable.

    Raised after the partial write is rolled back, so what was stored stays whole.
    """


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _write_whole(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is out; a write may take only part of the buffer."""
    view = memoryview(data)
    written = 0
    while written < len(data):
        n = os.write(fd, view[written:])
        if n == 0:  # a zero-length write without an error: treat it as a full disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written += n


class ResultStore:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot make the run directory {run_dir}: {exc.strerror or exc}") from None
        self.results_path = run_dir / RESULTS_FILE
        self._lock_fd = -1

    # --- ownership -------------------------------------------------------
    def acquire(self) -> None:
        """Own this run directory until ``release`` (or this process's end); refuse a second owner."""
        path = self.run_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot lock {self.run_dir}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UsageError(
                f"{self.run_dir} is in use by streambench (pid {owner}); one process runs a run directory"
            ) from None
        self._lock_fd = fd
        # The pid only helps the message above; a full disk must not stop the run here.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = -1

    # --- writing ---------------------------------------------------------
    def append(self, record: Record) -> None:
        line = record.to_json() + "\n"
        # O_APPEND + one whole line + fsync: the line is on disk before the
        # next run starts. A failed write is cut back to where it began.
        try:
            fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise self._full(exc) from None
        try:
            start = os.fstat(fd).st_size
            try:
                _write_whole(fd, line.encode())
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                    os.fsync(fd)
                raise self._full(exc) from None
        finally:
            os.close(fd)

    def _full(self, exc: OSError) -> StoreError:
        return StoreError(
            f"cannot append to {self.results_path}: {exc.strerror or exc}; every record before it is kept "
            f"whole; make room, then continue with: streambench run --resume {self.run_dir}"
        )

    @property
    def torn_path(self) -> Path:
        return self.run_dir / (RESULTS_FILE + ".torn")

    def repair_torn_tail(self) -> int:
        """Before appending to a file a killed run left: move a half-written last line aside.

        Appending after it would glue the next record onto the fragment. The
        fragment is kept in ``results.jsonl.torn``, never silently dropped.
        Returns the number of bytes set aside.
        """
        if not self.results_path.exists():
            return 0
        data = self.results_path.read_bytes()
        if not data or data.endswith(b"\n"):
            return 0
        cut = data.rfind(b"\n") + 1
        with open(self.torn_path, "ab") as f:
            f.write(data[cut:] + b"\n")
        with open(self.results_path, "r+b") as f:
            f.truncate(cut)
            os.fsync(f.fileno())
        return len(data) - cut

    def begin(self, meta: dict[str, Any]) -> None:
        """A new run's files, before anything runs: an empty results file (so a run stopped before its
        first record can still be resumed) and run.json. If either cannot be written, nothing has
        run: the folder goes, and the error says so (no resume hint that would then fail)."""
        try:
            fd = os.open(self.results_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            os.close(fd)
            self.write_run_meta(meta)
        except (OSError, StoreError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else str(exc).split(";")[0]
            self.release()
            shutil.rmtree(self.run_dir, ignore_errors=True)
            raise StoreError(f"cannot start a run in {self.run_dir}: {why}; nothing has run yet") from None

    def write_run_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.run_dir / (RUN_FILE + ".tmp")
        text = json.dumps(finite(meta), indent=2, sort_keys=True, default=str, allow_nan=False)
        try:
            tmp.write_text(text)
            os.replace(tmp, self.run_dir / RUN_FILE)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(
                f"cannot write {self.run_dir / RUN_FILE}: {exc.strerror or exc}; "
                f"the records in {self.results_path} are kept"
            ) from None


def write_atomic(path: Path, data: bytes) -> Path:
    """Write through a temporary name, so a reader never sees half a file; problems are one line."""
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder; give a file name")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path.resolve()


def _depth_ok(text: str) -> bool:
    """A cheap bound on nesting before ``json.loads`` (whose recursion has a limit)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json(text: str, where: str) -> Any:
    """JSON from a file the user gave us; any problem is one clear line (UsageError)."""
    if not _depth_ok(text):
        raise UsageError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise UsageError(f"{where}: JSON nested too deeply") from None


def read_text(path: Path) -> str:
    """A UTF-8 text file, or one clear line saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _recover(line: str) -> dict[str, Any] | None:
    """A whole record glued after a fragment (a full disk before rollback existed): the record."""
    start = line.find("{", 1)
    while start > 0:
        try:
            obj = json.loads(line[start:])
        except (ValueError, RecursionError):
            obj = None
        # A nested object of a torn record is not a record: look further.
        if isinstance(obj, dict) and all(k in obj for k in REQUIRED_KEYS):
            return obj
        start = line.find("{", start + 1)
    return None


def _check_record(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: a record must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise UsageError(f"{where}: not a streambench record (no {', '.join(missing)})")
    if not isinstance(obj["cell_id"], str) or not isinstance(obj["repeat"], int):
        raise UsageError(f"{where}: not a streambench record (cell_id or repeat has the wrong type)")
    return obj


def load_records(run_dir: Path) -> list[Record]:
    """Every whole record of a run, as :class:`Record` (older schemas upgraded, odd values made
    their field's type: ``Record.from_json``).

    A half-written last line (a killed run) is skipped; a record glued after a
    fragment is recovered. Anything else that is not a record is one clear line.
    """
    path = run_dir / RESULTS_FILE
    if not path.exists():
        if (run_dir / RUN_FILE).is_file():
            return []  # a run stopped before it made its results file (older versions did so lazily)
        raise UsageError(f"no {RESULTS_FILE} in {run_dir}: not a streambench run directory")
    records: list[Record] = []
    lines = read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if not _depth_ok(line):
            raise UsageError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            recovered = _recover(line)
            if recovered is not None:
                records.append(Record.from_json(_check_record(recovered, where)))
                continue
            if number == len(lines):
                continue  # the harness died mid-write: tolerated
            raise UsageError(f"{where}: not a JSON record") from None
        records.append(Record.from_json(_check_record(obj, where)))
    return records


def load_run_meta(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.exists():
        return {}
    meta = parse_json(read_text(path), str(path))
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return meta
