"""Named baselines: a run's records kept under a name, to compare against and to follow over time.

``run --save-baseline NAME`` copies the run's ``results.jsonl`` and ``run.json`` (never its
profiles or workloads) into ``<baselines dir>/NAME/`` with a ``baseline.json`` that says when and
from where; saving a name again replaces it (criterion's ``--save-baseline``). A baseline folder
reads like a run folder, so ``compare --baseline NAME`` and ``history`` load it as one. The
default folder is ``./results/baselines`` (``--baselines-dir`` or ``STREAMBENCH_BASELINES`` to move it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from harness.common.errors import UsageError
from harness.results.store import RESULTS_FILE, RUN_FILE, load_run_meta, parse_json, read_text

BASELINE_FILE = "baseline.json"
DEFAULT_DIR = Path("results") / "baselines"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def baselines_dir(option: str | None = None) -> Path:
    return Path(option or os.environ.get("STREAMBENCH_BASELINES") or DEFAULT_DIR)


def check_name(name: str) -> str:
    """A baseline name is a folder name: letters, digits, '.', '_', '-' (up to 64), else one clear line."""
    if not _NAME.match(name) or name in (".", ".."):
        raise UsageError(
            f"bad baseline name {name!r}: use letters, digits, '.', '_' or '-' "
            "(up to 64, the first a letter or digit)"
        )
    return name


@dataclass(frozen=True)
class Baseline:
    name: str
    path: Path
    saved_at: float
    run_id: str
    source: str


def save(run_dir: Path, name: str, root: Path) -> Baseline:
    """Copy a run's records and meta under ``root/name`` (a whole folder swapped in, never half)."""
    check_name(name)
    if not (run_dir / RESULTS_FILE).is_file():
        raise UsageError(f"{run_dir} has no {RESULTS_FILE}: nothing to save as baseline {name!r}")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for file in (RESULTS_FILE, RUN_FILE):
        if (run_dir / file).is_file():
            shutil.copyfile(run_dir / file, tmp / file)
    meta = load_run_meta(run_dir)
    info = {
        "name": name,
        "saved_at": time.time(),
        "run_id": str(meta.get("run_id", run_dir.name)),
        "source": str(run_dir.resolve()),
    }
    (tmp / BASELINE_FILE).write_text(json.dumps(info, indent=2) + "\n")
    final = root / name
    old = root / f".{name}.{os.getpid()}.old"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return _baseline(final)


def find(name: str, root: Path) -> Baseline:
    check_name(name)
    path = root / name
    if not (path / BASELINE_FILE).is_file():
        known = ", ".join(b.name for b in saved(root)) or "none saved"
        raise UsageError(f"no baseline named {name!r} in {root} (saved: {known})")
    return _baseline(path)


def saved(root: Path) -> list[Baseline]:
    """Every baseline under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [
        _baseline(p) for p in root.iterdir() if (p / BASELINE_FILE).is_file() and not p.name.startswith(".")
    ]
    return sorted(found, key=lambda b: (b.saved_at, b.name))


def _baseline(path: Path) -> Baseline:
    info = parse_json(read_text(path / BASELINE_FILE), str(path / BASELINE_FILE))
    if not isinstance(info, dict):
        raise UsageError(f"{path / BASELINE_FILE}: expected a JSON object")
    return Baseline(
        name=str(info.get("name", path.name)),
        path=path,
        saved_at=float(info.get("saved_at", 0.0)),
        run_id=str(info.get("run_id", "")),
        source=str(info.get("source", "")),
    )
