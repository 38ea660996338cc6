"""Interview-style scenarios: a question, a narrative, a small matrix, and claims to test.

A scenario is one TOML file in ``harness/scenarios/`` (declared data, no code):
``question``, ``narrative``, ``default_size``, ``estimate_s``, ``chart``
(the one chart that answers it), optional ``profile`` kinds, optional ``min_repeat`` (each
cell's first rounds; later ones, up to the matrix's ``repeat``, only for undecided claims) and
``later_budget_s`` (the most seconds of runs those later rounds spend, cheapest cells first), a ``[matrix]``
(a matrix spec; ``{size}``, ``{size/4}``, ``{2*size}`` stand for byte counts)
and ``[[claim]]`` tables (see :mod:`reports.claims`). Running it runs the
matrix like ``streambench run`` and then judges each claim on the records.
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streambench.harness.common.errors import UsageError
from streambench.harness.common.paths import SCENARIOS_DIR
from streambench.harness.plan.spec import normalise_spec

SCENARIO_DIR = SCENARIOS_DIR
_PLACEHOLDER = re.compile(r"\{(?:([\d.]+)\*)?size(?:/([\d.]+))?\}")
_KEYS = {
    "question", "narrative", "default_size", "estimate_s", "chart", "profile", "matrix", "claim",
    "min_repeat", "later_budget_s",
}  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    name: str
    question: str
    narrative: str
    default_size_bytes: int
    estimate_s: float
    chart: dict[str, Any]
    profile: tuple[str, ...]
    matrix: dict[str, Any]  # with placeholders
    claims: tuple[dict[str, Any], ...]  # with placeholders
    # Rounds every cell runs; the matrix's ``repeat`` is then a most, reached only by the cells of
    # claims still undecided (None: every cell runs ``repeat`` rounds).
    min_repeat: int | None = None
    # The most seconds of runs (their ``run_total_s``) the later rounds spend (None: no limit).
    later_budget_s: float | None = None

    def expand(self, size_bytes: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The matrix spec and the claims (plain tables) for one size, placeholders replaced by byte counts.

        The claims become ``reports.claims.Claim`` objects where they are judged
        (:func:`reports.claims.parse_claims`): the plan knows no reports.
        """
        spec = normalise_spec(_substitute(self.matrix, size_bytes), f"scenario {self.name}")
        claims = []
        for raw in _substitute(list(self.claims), size_bytes):
            for selector in ("subject", "baseline"):
                if isinstance(raw.get(selector), dict) and "size_bytes" in raw[selector]:
                    raw[selector]["size_bytes"] = int(str(raw[selector]["size_bytes"]).rstrip("B"))
            claims.append(raw)
        return spec, claims


def _substitute(value: Any, size_bytes: int) -> Any:
    if isinstance(value, str):

        def bytes_for(m: re.Match[str]) -> str:
            factor = float(m.group(1) or 1) / float(m.group(2) or 1)
            return f"{int(size_bytes * factor)}B"

        return _PLACEHOLDER.sub(bytes_for, value)
    if isinstance(value, list):
        return [_substitute(v, size_bytes) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, size_bytes) for k, v in value.items()}
    return value


def load_scenario(path: Path) -> Scenario:
    from streambench.harness.common.units import parse_count, parse_size

    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: malformed TOML: {exc}") from None
    unknown = set(raw) - _KEYS
    if unknown:
        raise UsageError(f"{path}: unknown keys {sorted(unknown)}; valid: {sorted(_KEYS)}")
    min_repeat, later_budget_s = raw.get("min_repeat"), raw.get("later_budget_s")
    if later_budget_s is not None and (
        isinstance(later_budget_s, bool) or not isinstance(later_budget_s, int | float) or later_budget_s < 0
    ):
        raise UsageError(f"{path}: later_budget_s must be a number of seconds >= 0, got {later_budget_s!r}")
    try:
        return Scenario(
            name=path.stem,
            question=raw["question"],
            narrative=raw.get("narrative", "").strip(),
            default_size_bytes=parse_size(raw.get("default_size", "256MiB")),
            estimate_s=float(raw.get("estimate_s", 60)),
            chart=dict(raw.get("chart", {"metric": "throughput_bps"})),
            profile=tuple(raw.get("profile", ())),
            matrix=dict(raw["matrix"]),
            claims=tuple(raw.get("claim", ())),
            min_repeat=None if min_repeat is None else parse_count(min_repeat, f"{path}: min_repeat", 1, 99),
            later_budget_s=None if later_budget_s is None else float(later_budget_s),
        )
    except KeyError as exc:
        raise UsageError(f"{path}: missing key {exc}") from None


def all_scenarios() -> dict[str, Scenario]:
    return {p.stem: load_scenario(p) for p in sorted(SCENARIO_DIR.glob("*.toml"))}


def get_scenario(name: str) -> Scenario:
    scenarios = all_scenarios()
    if name not in scenarios:
        raise UsageError(f"unknown scenario {name!r}; valid: {', '.join(scenarios)}")
    return scenarios[name]


TIMES_FILE = "scenario-times.json"


@dataclass(frozen=True)
class MeasuredTime:
    """How long a scenario took on this machine, end to end (plan, workloads, runs, pages)."""

    size_bytes: int
    wall_s: float
    runs: int
    at_utc: str


def measured_times(data_dir: Path) -> dict[str, MeasuredTime]:
    """Each scenario's last full run here (``DATA_DIR/scenario-times.json``); {} when none or unreadable."""
    try:
        raw = json.loads((data_dir / TIMES_FILE).read_text())
        return {name: MeasuredTime(**entry) for name, entry in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def record_time(data_dir: Path, name: str, entry: MeasuredTime) -> None:
    """Keep a scenario's measured time (written whole, via a rename)."""
    times = {k: v.__dict__ for k, v in measured_times(data_dir).items()}
    times[name] = entry.__dict__
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{TIMES_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(times, indent=1, sort_keys=True))
    os.replace(tmp, data_dir / TIMES_FILE)


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
