"""The results store: records appended and fsync'd one by one, never rewritten.

``results/<run-id>/results.jsonl`` gets a line the moment a run ends, so a
crash, an OOM kill of the harness or Ctrl-C loses nothing already measured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.record import Record

RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"
REPORT_FILE = "report.html"


class ResultStore:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.results_path = run_dir / RESULTS_FILE

    def append(self, record: Record) -> None:
        line = record.to_json() + "\n"
        # O_APPEND + one write per record + fsync: the line is whole on disk
        # before the next run starts.
        fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

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

    def write_run_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.run_dir / (RUN_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        os.replace(tmp, self.run_dir / RUN_FILE)


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every whole record of a run; a half-written last line (a killed run) is skipped."""
    path = run_dir / RESULTS_FILE
    if not path.exists():
        raise UsageError(f"no {RESULTS_FILE} in {run_dir}: not a streambench run directory")
    records: list[dict[str, Any]] = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                continue  # the harness died mid-write: tolerated
            raise UsageError(f"{path}:{number}: not a JSON record") from None
    return records


def load_run_meta(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return meta
