"""The gate measured with real runs: A/A pairs and planted changes of known size (``bench-gate --real``).

Each pair is a base run and a candidate run, one after the other, as a CI job would make them:
every side interleaves the subject (``planted``) with the setting's reference (``cat``), round by
round, at the quick default's manner (``runs`` a side, no warm-up). The base side runs plain
``planted``; each candidate side runs ``planted`` with one change planted (or none: A/A). The
candidate's records are relabelled as the base's subject, so ``compare`` takes them for the same
cell, as it would a user's changed code under an unchanged name; every figure is measured.

A time change of X% is planted as busy CPU of X times the base's median wall time, spread per
MiB (measured first, from a few plain rounds), so "5%" is 5% of this machine's time for the loop.
This module only runs and returns records; :mod:`reports.gate` judges them.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from streambench.harness.cell_session import CellSession
from streambench.harness.plan.config import Cell
from streambench.harness.results.identity import REFERENCE
from streambench.harness.results.record import Record
from streambench.workloads.cache import WorkloadSpec

SUBJECT = "planted"
MiB = 1 << 20
# Rounds of plain ``planted`` measured first to size the planted time changes.
SIZING_ROUNDS = 5


@dataclass(frozen=True)
class Plant:
    """One candidate: what is planted (the planted strategy's options; "" for A/A)."""

    name: str
    options: str


# The quick default's question: would a 2/5/10/30% slower loop, or twice the write() calls, pass?
TIME_SHARES = (0.02, 0.05, 0.10, 0.30)


def plants(spin_us_per_mib_per_share: float) -> list[Plant]:
    """A/A, the time plants sized to this machine, an extra copy, and twice the writes."""
    timed = [
        Plant(f"{share:.0%} slower (busy CPU)", f"spin_us_per_mib={round(share * spin_us_per_mib_per_share)}")
        for share in TIME_SHARES
    ]  # fmt: skip
    return [
        Plant("A/A (nothing planted)", ""),
        *timed,
        Plant("an extra copy per chunk", "extra_copy=1"),
        Plant("twice the write() calls", "split=2"),
    ]


@dataclass(frozen=True)
class PairRecords:
    """One pair: the plant, its index, the base side's records and the candidate's (relabelled)."""

    plant: Plant
    pair: int
    base: list[Record]
    cand: list[Record]


@dataclass(frozen=True)
class GateSetting:
    workload: WorkloadSpec
    sink: str
    chunk_bytes: int
    runs: int  # a side, per cell


def _cell(strategy: str, setting: GateSetting) -> Cell:
    return Cell(strategy, setting.workload, setting.sink, setting.chunk_bytes)


class _Sides:
    """The cell sessions of one measurement: the reference, the plain subject and each plant."""

    def __init__(self, setting: GateSetting, out_dir: Path, data_dir: Path) -> None:
        self.setting, self.out_dir, self.data_dir = setting, out_dir, data_dir
        self.sessions: dict[str, CellSession] = {}

    def session(self, strategy: str) -> CellSession:
        if strategy not in self.sessions:
            self.sessions[strategy] = CellSession(_cell(strategy, self.setting), self.out_dir, self.data_dir)
        return self.sessions[strategy]

    def side(self, strategy: str) -> list[Record]:
        """``runs`` rounds of the subject and the reference, interleaved."""
        out: list[Record] = []
        for _ in range(self.setting.runs):
            out.append(self.session(strategy).run())
            out.append(self.session(REFERENCE).run())
        return out

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()


def _as_subject(record: Record) -> Record:
    """A candidate's planted record under the base subject's name (its cell id recomputed on read)."""
    if record.strategy == REFERENCE:
        return record
    return replace(record, strategy=SUBJECT, cell_id="")


def spin_per_share(records: Sequence[Record], size_bytes: int) -> float:
    """Microseconds of busy CPU per MiB that make the plain loop 100% slower (its median wall per MiB)."""
    walls = [r.wall_s for r in records if r.outcome == "ok" and r.wall_s]
    if not walls:
        raise RuntimeError("the plain planted loop never ran ok here: nothing to size the plants by")
    return statistics.median(walls) * 1e6 / (size_bytes / MiB)


def measure_pairs(
    setting: GateSetting,
    pairs: int,
    out_dir: Path,
    data_dir: Path,
    progress: Callable[[str], None] = lambda text: None,
) -> list[PairRecords]:
    """``pairs`` rounds of (base, then every plant's candidate), the plants' order turned each round."""
    sides = _Sides(setting, out_dir, data_dir)
    try:
        sizing = [sides.session(SUBJECT).run() for _ in range(SIZING_ROUNDS)]
        per_share = spin_per_share(sizing, setting.workload.size_bytes)
        chosen = plants(per_share)
        progress(f"sized: {per_share:,.0f} us of busy CPU per MiB doubles the loop's time here")
        out: list[PairRecords] = []
        for pair in range(pairs):
            turn = pair % len(chosen)
            for plant in chosen[turn:] + chosen[:turn]:  # no plant always first after the base
                base = sides.side(SUBJECT)
                strategy = f"{SUBJECT}:{plant.options}" if plant.options else SUBJECT
                cand = [_as_subject(r) for r in sides.side(strategy)]
                out.append(PairRecords(plant, pair, base, cand))
            progress(f"pair {pair + 1} of {pairs} measured")
        return out
    finally:
        sides.close()
