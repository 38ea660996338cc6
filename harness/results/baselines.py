"""Named baselines: a run's records kept under a name, to compare against and to follow over time.

``run --save-baseline NAME`` copies the run's ``results.jsonl`` and ``run.json`` (never its
profiles or workloads) into ``<baselines dir>/NAME/`` with a ``baseline.json`` that says when and
from where; saving a name again replaces it (criterion's ``--save-baseline``). A baseline folder
reads like a run folder, so ``compare --baseline NAME`` and ``history`` load it as one. The
default folder is ``./results/baselines`` (``--baselines-dir`` or ``STREAMBENCH_BASELINES`` to move it).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from streambench.harness.common.errors import UsageError
from streambench.harness.results.store import RESULTS_FILE, RUN_FILE, load_run_meta, parse_json, read_text

BASELINE_FILE = "baseline.json"
DEFAULT_DIR = Path("results") / "baselines"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def baselines_dir(option: str | None = None) -> Path:
    return Path(option or os.environ.get("STREAMBENCH_BASELINES") or DEFAULT_DIR)


def check_name(name: str) -> str:
    """A baseline name is a folder name: letters, digits, '.', '_', '-' (up to 64), else one clear line."""
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(
            f"bad baseline name {name!r}: use letters, digits, '.', '_' or '-' "
            "(up to 64, the first a letter or digit)"
        )
    return name


def writable_root(root: Path) -> Path:
    """The baselines folder, made now and checked writable (before a run, not after it)."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"baselines folder {root} is a file, not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make baselines folder {root}: {exc.strerror or exc}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into baselines folder {root}: permission denied")
    return root


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
    writable_root(root)
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
        # Listed by folder name: another baseline's broken baseline.json cannot stop this line.
        known = ", ".join(sorted(p.name for p in _folders(root))) or "none saved"
        raise UsageError(f"no baseline named {name!r} in {root} (saved: {known})")
    return _baseline(path)


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if (p / BASELINE_FILE).is_file() and not p.name.startswith(".")]


def saved(root: Path) -> list[Baseline]:
    """Every baseline under ``root``, oldest first."""
    return sorted((_baseline(p) for p in _folders(root)), key=lambda b: (b.saved_at, b.name))


def _baseline(path: Path) -> Baseline:
    """A baseline folder: its name is the folder's (a baseline.json cannot pose as another), its time
    a finite number or 0 (unknown)."""
    where = path / BASELINE_FILE
    info = parse_json(read_text(where), str(where))
    if not isinstance(info, dict):
        raise UsageError(f"{where}: expected a JSON object")
    saved_at = info.get("saved_at", 0.0)
    if isinstance(saved_at, bool) or not isinstance(saved_at, int | float) or not math.isfinite(saved_at):
        saved_at = 0.0  # not a time streambench wrote: listed first, as unknown
    return Baseline(
        name=path.name,
        path=path,
        saved_at=float(saved_at),
        run_id=str(info.get("run_id", "")),
        source=str(info.get("source", "")),
    )
