"""``--repeat auto``: add interleaved rounds only where a question is still open, within a budget.

The questions, per setting (cells that differ only in strategy and chunk size): is the best
strategy ahead of the runner-up, and of the reference (``cat``) when the setting has one? Each is
judged by the one decision rule (:mod:`harness.common.decision`, the rule ``compare`` gates on),
with ``tie_fraction`` as its margin:

- **decided**: Mann-Whitney says the two differ (p < 0.05, each question on its own) and the
  typical ratio is beyond the margin: one is ahead;
- **tie**: the 95% interval of the ratio lies within the margin: whatever difference there is,
  it is below the threshold at that confidence;
- **open**: otherwise. Only the cells of open questions get another round.

It stops when nothing is open, when ``max_rounds`` is reached, or when the runs so far have taken
``budget_s`` (their ``run_total_s``), and says per setting what was decided and why it stopped. The
added rounds always get at least ``min_added_share`` of the first rounds' time: on a slow or loaded
machine the first rounds alone can spend the budget (the quick default's took 154 s of its 150 s
once here, and answered 0 of 7 questions), and then nothing would ever be decided.
``adapt`` is pure: it runs rounds through the callables it is given (the session's runner, or a
test's fake).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from streambench.harness.common.decision import TIE_FRACTION, change, judge
from streambench.harness.results.identity import CELL_DEFAULTS, REFERENCE, record_cell_fields, setting_label
from streambench.harness.results.record import Record

_SETTING_FIELDS = [k for k in CELL_DEFAULTS if k not in ("strategy", "chunk_bytes")]


@dataclass(frozen=True)
class AdaptiveRule:
    # Two: Mann-Whitney needs four runs a side for p < 0.05 (three against three give 0.1 at best),
    # so a third round of every cell decided nothing by itself; the rounds after these go only to the
    # cells of open questions. The quick default, alternated here (dev venv, workloads generated):
    # 3 first rounds 126 and 174 s in all (132 runs first), 2 first rounds 101 and 107 s (88 first),
    # the same best strategy and the same decided directions in every setting each time.
    first_rounds: int = 2
    # The budget is what stops it; the round cap only bounds a question that sits on the margin.
    # At 20 a near-tie (cat vs sendfile into a file, ~8% apart with ~10% run-to-run spread, each
    # added round two runs of ~0.75 s) stopped open with budget left: it decided at 12-25 rounds.
    max_rounds: int = 50
    budget_s: float = 150.0
    min_added_share: float = 0.5  # of the first rounds' time, for the rounds added after them
    confidence: float = 0.95
    tie_fraction: float = TIE_FRACTION

    def describe(self) -> str:
        return (
            f"after {self.first_rounds} rounds, another round of the cells of each open question (best vs "
            f"runner-up, best vs {REFERENCE}), until each is decided (Mann-Whitney p < 0.05 and a "
            f"difference beyond {self.tie_fraction:.0%}) or a tie (the {self.confidence:.0%} interval of "
            f"the ratio within {self.tie_fraction:.0%}), {self.max_rounds} rounds, or {self.budget_s:g} s "
            f"of runs (the added rounds get at least {self.min_added_share:.0%} of the first rounds' time)"
        )

    def limit_s(self, first_rounds_s: float) -> float:
        """The run time at which rounds stop being added, given what the first rounds took."""
        return max(self.budget_s, first_rounds_s * (1 + self.min_added_share))


@dataclass(frozen=True)
class Question:
    setting: str
    kind: str  # "runner-up" or "reference"
    best: str  # cell ids
    other: str
    status: str  # "decided", "tie", "open"
    answer: str
    runs: tuple[int, int]


@dataclass
class AdaptiveOutcome:
    rule: AdaptiveRule
    rounds: int
    stopped: str
    spent_s: float
    questions: list[Question] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        decided = sum(q.status != "open" for q in self.questions)
        return {
            "rule": {**asdict(self.rule), "text": self.rule.describe()},
            "rounds": self.rounds,
            "stopped": self.stopped,
            "runs_s": self.spent_s,
            "questions_decided": decided,
            "questions": [asdict(q) for q in self.questions],
        }


def _throughputs(records: Sequence[Record]) -> dict[str, tuple[dict[str, Any], list[float]]]:
    out: dict[str, tuple[dict[str, Any], list[float]]] = {}
    for r in records:
        # A browser run lasts as long as its player's script: bytes over that time is no throughput.
        if r.warmup or r.profiler is not None or r.browser:
            continue
        entry = out.setdefault(r.cell_id, (record_cell_fields(r), []))
        if r.outcome == "ok" and r.wall_s and r.bytes_moved:
            entry[1].append(r.bytes_moved / r.wall_s)
    return out


def _judge(setting: str, kind: str, best: tuple[str, dict[str, Any], list[float]],
           other: tuple[str, dict[str, Any], list[float]], rule: AdaptiveRule) -> Question:  # fmt: skip
    (b_id, b_fields, b_vals), (o_id, o_fields, o_vals) = best, other
    name_b, name_o = b_fields["strategy"], o_fields["strategy"]
    runs = (len(b_vals), len(o_vals))
    ch = change(o_vals, b_vals, rule.confidence)
    verdict = judge(ch, rule.tie_fraction, higher_is_better=True)
    if verdict in ("better", "worse"):
        return Question(
            setting, kind, b_id, o_id, "decided", f"{name_b} {ch.ratio - 1:+.1%} vs {name_o}", runs
        )
    if verdict == "same":
        return Question(setting, kind, b_id, o_id, "tie",
                        f"{name_b} and {name_o} within {rule.tie_fraction:.0%}", runs)  # fmt: skip
    why = "too few runs for an interval" if not ch.bounded else "neither apart nor within the margin yet"
    return Question(setting, kind, b_id, o_id, "open", f"{name_b} vs {name_o}: {why}", runs)


def questions(records: Sequence[Record], rule: AdaptiveRule) -> list[Question]:
    """The open and answered questions of every setting, from the records so far."""
    by_setting: dict[str, list[tuple[str, dict[str, Any], list[float]]]] = {}
    for cell, (fields, values) in _throughputs(records).items():
        if values:
            key = ", ".join(f"{k}={fields[k]}" for k in _SETTING_FIELDS)
            by_setting.setdefault(key, []).append((cell, fields, values))
    out: list[Question] = []
    for _, cells in sorted(by_setting.items()):
        if len(cells) < 2:
            continue
        setting = setting_label(cells[0][1])  # the report's words for it, not the raw key
        ranked = sorted(cells, key=lambda c: (-statistics.median(c[2]), c[1]["strategy"]))
        out.append(_judge(setting, "runner-up", ranked[0], ranked[1], rule))
        reference = next((c for c in ranked[2:] if c[1]["strategy"] == REFERENCE), None)
        if reference is not None:
            out.append(_judge(setting, "reference", ranked[0], reference, rule))
    return out


def adapt(
    rule: AdaptiveRule,
    read_records: Callable[[], list[Record]],
    run_round: Callable[[set[str], int], None],
    rounds_done: int,
) -> AdaptiveOutcome:
    """Add rounds (``run_round(cell_ids, round_index)``) while questions are open and the budget lasts."""
    rounds = rounds_done
    first_rounds_s: float | None = None
    while True:
        records = read_records()
        spent = sum(r.run_total_s or 0.0 for r in records if not r.profiler)
        if first_rounds_s is None:
            first_rounds_s = spent
        limit = rule.limit_s(first_rounds_s)
        asked = questions(records, rule)
        open_cells = {c for q in asked if q.status == "open" for c in (q.best, q.other)}
        if not open_cells:
            stopped = "every question decided"
        elif rounds >= rule.max_rounds:
            stopped = f"{rule.max_rounds} rounds reached"
        elif spent >= limit:
            stopped = f"budget of {limit:.0f} s of runs spent" + (
                f" (raised from {rule.budget_s:g} s: the first rounds took {first_rounds_s:.0f} s)"
                if limit > rule.budget_s
                else ""
            )
        else:
            run_round(open_cells, rounds)
            rounds += 1
            continue
        return AdaptiveOutcome(rule, rounds, stopped, spent, asked)
