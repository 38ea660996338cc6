"""The gate measured: how often ``compare`` raises a false alarm, misses a planted change, or
(never) calls a real change "no change" — by simulation at n runs a side (pure, seeded), and from
real A/A and planted pairs (``harness.machine.gate_runs`` runs them; this module judges them).

Each trial draws a base run and a candidate run of ``cells`` cells from a noise model, plants a
slowdown in one cell of the candidate (a ratio of 1.0: an A/A pair), and hands both to
:func:`reports.compare.compare_samples`, the very function ``streambench compare`` applies.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streambench.harness.results.identity import REFERENCE
from streambench.harness.results.record import Record
from streambench.reports.compare import Runs, Sample, compare, compare_samples


@dataclass(frozen=True)
class NoiseModel:
    """Run-to-run throughput noise: lognormal, plus occasional slow runs (other tenants)."""

    name: str
    sigma: float  # of log throughput
    spike_share: float = 0.0  # share of runs slowed down by another tenant
    spike_slowdown: tuple[float, float] = (1.0, 1.0)  # uniform factor range of such a run's time

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        values = np.exp(rng.normal(0.0, self.sigma, n))
        spikes = rng.random(n) < self.spike_share
        values[spikes] /= rng.uniform(*self.spike_slowdown, int(spikes.sum()))
        return values


# The quick default measured here: IQR over the median above 10% in 33 of 44 cells (a lognormal
# sigma of 0.08 gives an IQR of 10.8%); loaded: the same, and a quarter of the runs slowed by
# another tenant by 10% to 2x (what a shared 2-core CI machine showed under load).
QUIET = NoiseModel("quiet (sigma 2%)", 0.02)
QUICK_DEFAULT = NoiseModel("quick default (sigma 8%)", 0.08)
LOADED = NoiseModel("loaded (sigma 8%, 25% of runs slowed 1.1-2x)", 0.08, 0.25, (1.1, 2.0))
MODELS = (QUIET, QUICK_DEFAULT, LOADED)


@dataclass(frozen=True)
class GateRates:
    """What the gate said over the trials of one setting."""

    noise: str
    runs: int
    planted_ratio: float  # 1.0: A/A
    trials: int
    regression: float  # share of trials whose outcome was "regression" (exit 1)
    undecided: float  # "cannot decide" (exit 3)
    no_change: float  # "no change" (exit 0)
    planted_caught: float  # share of trials whose planted cell was judged worse

    @property
    def false_alarm(self) -> float:
        return self.regression if self.planted_ratio == 1.0 else math.nan

    @property
    def miss(self) -> float:
        return 1.0 - self.planted_caught if self.planted_ratio != 1.0 else math.nan


def _sample(name: str, values: np.ndarray) -> Sample:
    n = len(values)
    return Sample(name, {"strategy": name}, Runs(n, n), list(values * 1e9), [50e6] * n)


def simulate(
    runs: int,
    planted_ratio: float,
    noise: NoiseModel,
    *,
    cells: int = 44,
    trials: int = 400,
    fail_on: float = 0.05,
    seed: int = 0,
) -> GateRates:
    """``trials`` comparisons of ``cells`` cells at ``runs`` runs a side; cell 0 of the candidate is
    ``planted_ratio`` times as fast (0.7: 30% slower)."""
    rng = np.random.default_rng([seed, runs, round(planted_ratio * 1000), round(noise.sigma * 1000)])
    outcomes = {"regression": 0, "undecided": 0, "no change": 0}
    caught = 0
    for _ in range(trials):
        base = {f"c{i}": _sample(f"c{i}", noise.draw(rng, runs)) for i in range(cells)}
        cand = {f"c{i}": _sample(f"c{i}", noise.draw(rng, runs) * (planted_ratio if i == 0 else 1.0))
                for i in range(cells)}  # fmt: skip
        comparison = compare_samples(base, cand, fail_on)
        outcomes[comparison.outcome] += 1
        caught += next(c for c in comparison.cells if c.cell_id == "c0").verdict == "worse"
    return GateRates(
        noise.name,
        runs,
        planted_ratio,
        trials,
        outcomes["regression"] / trials,
        outcomes["undecided"] / trials,
        outcomes["no change"] / trials,
        caught / trials,
    )


def simulate_table(
    runs: Sequence[int] = (3, 5, 10, 20),
    ratios: Sequence[float] = (1.0, 0.98, 0.95, 0.9, 0.7),
    models: Sequence[NoiseModel] = MODELS,
    *,
    cells: int = 44,
    trials: int = 400,
    fail_on: float = 0.05,
) -> list[GateRates]:
    return [
        simulate(n, ratio, model, cells=cells, trials=trials, fail_on=fail_on)
        for model in models
        for ratio in ratios
        for n in runs
    ]


# --- the gate measured with real runs (bench-gate --real) -------------------------------------------

# How each way of judging a pair can answer: "worse" is an alarm (a false one on A/A pairs, a
# detection on planted ones); "no vote" only for counters that were too noisy or absent.
ANSWERS = ("worse", "same", "undecided", "better", "no vote", "machine")
METHODS = {
    "time": "time (throughput)",
    "time vs reference": f"time against the reference ({REFERENCE}), round by round",
    "counters": "work counters (system calls, kernel bytes per MiB)",
    "gate": "compare's verdict (all of the above, good runs)",
}


def _good(record: Record) -> bool:
    return record.outcome == "ok" and record.verified is not False and bool(record.wall_s)


def _bps(record: Record) -> float:
    return record.bytes_moved / record.wall_s if record.wall_s else math.nan


def _normalised(records: Sequence[Record], subject: str) -> list[float]:
    """Each round's subject throughput over the reference's of the same round (records alternate)."""
    out: list[float] = []
    pending: Record | None = None
    for r in records:
        if r.strategy == subject:
            pending = r
        elif r.strategy == REFERENCE and pending is not None:
            if _good(pending) and _good(r):
                out.append(_bps(pending) / _bps(r))
            pending = None
    return out


def _counter_answer(votes: Sequence[str | None]) -> str:
    cast = [v for v in votes if v is not None]
    for answer in ("worse", "better", "undecided"):
        if answer in cast:
            return answer
    return "same" if cast else "no vote"


def judge_pair(
    base: Sequence[Record], cand: Sequence[Record], subject: str, fail_on: float = 0.05
) -> dict[str, str]:
    """One pair judged four ways (METHODS), each by the one decision rule ``compare`` applies."""
    comparison = compare(base, cand, fail_on)
    cell = next((c for c in comparison.cells if c.fields.get("strategy") == subject), None)
    if cell is None:
        return dict.fromkeys(METHODS, "undecided")
    nb, nc = _normalised(base, subject), _normalised(cand, subject)
    against = compare_samples(
        {"c": Sample(subject, {"strategy": subject}, Runs(len(nb), len(nb)), nb, [])},
        {"c": Sample(subject, {"strategy": subject}, Runs(len(nc), len(nc)), nc, [])},
        fail_on,
    ).cells[0]
    return {
        "time": cell.throughput.judgement,
        "time vs reference": against.throughput.judgement,
        "counters": _counter_answer([vote for _, vote in cell.counters.values()]),
        "gate": cell.verdict,
    }


@dataclass(frozen=True)
class RealGateRow:
    """One plant over its pairs: the share of each answer per method, and the change it made."""

    plant: str
    pairs: int
    time_change: float  # median over pairs of the candidate's median wall over the base's, minus 1
    shares: dict[str, dict[str, float]]  # method -> answer -> share of pairs


def _wall_median(records: Sequence[Record], subject: str) -> float:
    walls = [r.wall_s for r in records if r.strategy == subject and _good(r) and r.wall_s is not None]
    return statistics.median(walls) if walls else math.nan


def real_rates(
    pairs: Sequence[tuple[str, Sequence[Record], Sequence[Record]]], subject: str, fail_on: float = 0.05
) -> list[RealGateRow]:
    """Rows in the plants' first-seen order from (plant, base records, candidate records) pairs."""
    answers: dict[str, list[dict[str, str]]] = {}
    changes: dict[str, list[float]] = {}
    for plant, base, cand in pairs:
        answers.setdefault(plant, []).append(judge_pair(base, cand, subject, fail_on))
        changes.setdefault(plant, []).append(_wall_median(cand, subject) / _wall_median(base, subject) - 1)
    rows = []
    for plant, judged in answers.items():
        n = len(judged)
        shares = {m: {a: sum(j[m] == a for j in judged) / n for a in ANSWERS} for m in METHODS}
        finite = [c for c in changes[plant] if not math.isnan(c)]
        rows.append(RealGateRow(plant, n, statistics.median(finite) if finite else math.nan, shares))
    return rows
