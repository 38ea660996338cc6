"""--repeat auto with a fake executor: rounds are added while a question is open, and stop once decided."""

from __future__ import annotations

import random

from streambench.harness.plan.adaptive import AdaptiveRule, adapt, questions
from streambench.harness.results.record import Record

GB = 1e9


def record(strategy: str, repeat: int, gbps: float, run_s: float = 1.0) -> Record:
    return Record.from_json({
        "cell_id": f"{strategy}-video-null", "strategy": strategy, "workload": "video", "size_bytes": 1 << 30,
        "sink": "null", "chunk_bytes": 65536, "repeat": repeat, "warmup": False, "profiler": None,
        "outcome": "ok", "bytes_moved": int(gbps * GB), "wall_s": 1.0, "run_total_s": run_s,
    })  # fmt: skip


class FakeRuns:
    """Records as a runner would append them: each strategy's throughput drawn around its mean."""

    def __init__(self, means: dict[str, float], noise: float, run_s: float = 1.0) -> None:
        self.means, self.noise, self.run_s = means, noise, run_s
        self.records: list[Record] = []
        self.rng = random.Random(1)
        self.rounds_run: list[set[str]] = []

    def round(self, cell_ids: set[str], index: int) -> None:
        self.rounds_run.append(set(cell_ids))
        for name, mean in self.means.items():
            if f"{name}-video-null" in cell_ids:
                value = mean * (1 + self.rng.uniform(-self.noise, self.noise))
                self.records.append(record(name, index, value, self.run_s))

    def first(self, rounds: int) -> None:
        for i in range(rounds):
            self.round({f"{n}-video-null" for n in self.means}, i)
        self.rounds_run.clear()


def test_a_clear_difference_stops_as_soon_as_it_is_decided() -> None:
    runs = FakeRuns({"pipe": 3.0, "whole-file": 2.0, "mmap": 1.0}, noise=0.01)
    runs.first(3)
    outcome = adapt(AdaptiveRule(), lambda: runs.records, runs.round, 3)
    # Mann-Whitney reaches p < 0.05 at 4 runs a side (2 / C(8, 4) = 0.029): one more round, of the
    # best and the runner-up only.
    assert outcome.rounds == 4 and outcome.stopped == "every question decided"
    assert all(ids == {"pipe-video-null", "whole-file-video-null"} for ids in runs.rounds_run)
    (q,) = outcome.questions
    assert q.status == "decided" and q.answer.startswith("pipe +") and "vs whole-file" in q.answer


def test_an_undecided_comparison_keeps_going_until_the_rounds_or_the_budget_end() -> None:
    runs = FakeRuns({"pipe": 2.0, "readinto": 2.0}, noise=0.15)
    runs.first(3)
    outcome = adapt(AdaptiveRule(max_rounds=12), lambda: runs.records, runs.round, 3)
    assert outcome.rounds == 12 and outcome.stopped == "12 rounds reached"
    assert outcome.questions[0].status == "open"
    spendy = FakeRuns({"pipe": 2.0, "readinto": 2.0}, noise=0.15, run_s=10.0)
    spendy.first(3)
    outcome = adapt(AdaptiveRule(budget_s=100), lambda: spendy.records, spendy.round, 3)
    # 6 runs of 10 s first, then 2 a round: the round that reaches 100 s is the last.
    assert outcome.stopped == "budget of 100 s of runs spent" and 100 <= outcome.spent_s < 120


def test_first_rounds_that_spend_the_budget_still_leave_the_added_rounds_room() -> None:
    """On a slow machine the first rounds alone can take the budget: the added rounds still get half
    their time, and the stop says the budget was raised and why."""
    slow = FakeRuns({"pipe": 3.0, "whole-file": 2.0}, noise=0.01, run_s=30.0)
    slow.first(3)  # 6 runs of 30 s: 180 s, over a 150 s budget
    outcome = adapt(AdaptiveRule(budget_s=150), lambda: slow.records, slow.round, 3)
    assert outcome.rounds == 4 and outcome.stopped == "every question decided"
    stuck = FakeRuns({"pipe": 2.0, "readinto": 2.0}, noise=0.15, run_s=30.0)
    stuck.first(3)
    outcome = adapt(AdaptiveRule(budget_s=150), lambda: stuck.records, stuck.round, 3)
    assert outcome.stopped == "budget of 270 s of runs spent (raised from 150 s: the first rounds took 180 s)"
    assert outcome.rounds == 5 and 270 <= outcome.spent_s < 330


def test_a_tie_is_declared_when_the_ratios_interval_sits_within_the_threshold() -> None:
    runs = FakeRuns({"pipe": 2.0, "pause-drain": 2.005, "cat": 2.6}, noise=0.002)
    runs.first(3)
    outcome = adapt(AdaptiveRule(), lambda: runs.records, runs.round, 3)
    by_kind = {q.kind: q for q in outcome.questions}
    # cat is the best here; the runner-up question and no separate reference question.
    assert by_kind["runner-up"].status == "decided" and outcome.stopped == "every question decided"
    tie = FakeRuns({"pipe": 2.0, "pause-drain": 2.005, "cat": 1.0}, noise=0.002)
    tie.first(6)
    asked = {q.kind: q for q in questions(tie.records, AdaptiveRule())}
    assert asked["runner-up"].status == "tie" and "within 3%" in asked["runner-up"].answer
    assert asked["reference"].status == "decided"  # against cat, the reference
