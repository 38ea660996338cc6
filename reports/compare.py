"""Comparing two runs cell by cell: is the candidate worse, better, the same, or can these runs not tell?

Per cell of the base run (matched on ``cell_id``, a stable hash of the cell's fields, and per
machine), over the measured runs of each side:

- **good runs**: a run is good when its outcome is ``ok`` *and* its bytes were verified (a record
  that says ``verified: null`` is one nobody could check, e.g. a pytest-benchmark import). A lower
  share of good runs in the candidate (a crash, an oom, a timeout, wrong bytes) is a regression,
  whatever the clock says; a base cell missing from the candidate is one too, unless
  ``allow_missing``.
- **throughput and peak RSS** of the good runs, each through the one decision rule
  (:mod:`harness.common.decision`): the typical ratio candidate / base with its distribution-free
  95% interval and Mann-Whitney's p, adjusted with Holm's method (or Benjamini-Hochberg) over the
  cells compared, one family per metric. ``same`` only when the whole interval lies within
  ``--fail-on``; ``worse``/``better`` when the adjusted test is significant and the change is beyond
  it; otherwise ``undecided``, with the runs a side that would likely decide it.

The comparison's outcome: ``regression`` (exit 1) when any cell is worse or missing, else
``undecided`` (exit 3) when any cell cannot be decided, else ``no change`` (exit 0; improvements
are listed). Absence of evidence is never read as evidence of absence.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup
from rich.table import Table

from streambench.harness.common.decision import (
    CORRECTIONS,
    MAX_RUNS_ADVISED,
    Change,
    Judgement,
    change,
    judge,
    runs_needed,
)
from streambench.harness.common.text import printable
from streambench.harness.results.identity import REFERENCE
from streambench.harness.results.record import Record
from streambench.reports import svg
from streambench.reports.frame import records_to_frame
from streambench.reports.stats import cell_label
from streambench.reports.templating import ENV, fmt_bytes, fmt_change, fmt_num, fmt_p
from streambench.reports.work import COUNTERS

ALPHA = 0.05
FIELDS_SHOWN = ("strategy", "workload", "size_bytes", "sink", "chunk_bytes", "cache")
# What a cell's verdict is called, and whether it fails the gate.
VERDICT_WORDS = {
    "worse": "REGRESSION",
    "missing": "MISSING",
    "better": "improved",
    "same": "no change",
    "undecided": "cannot decide",
    "machine": "MACHINE CHANGED",
}


@dataclass(frozen=True)
class Runs:
    """One side's measured runs of a cell: how many, how many good, and how the others ended."""

    total: int
    good: int
    failed: dict[str, int] = field(default_factory=dict)  # outcome (or "unverified") -> runs

    @property
    def share(self) -> float:
        return self.good / self.total if self.total else math.nan

    def describe(self) -> str:
        text = f"{self.good} of {self.total} good"
        if self.failed:
            text += " (" + ", ".join(f"{n} {k}" for k, n in sorted(self.failed.items())) + ")"
        return text


@dataclass(frozen=True)
class MetricChange:
    """One metric of one cell, base against candidate, judged."""

    base_median: float
    cand_median: float
    change: Change
    p_adjusted: float
    judgement: Judgement

    @property
    def ratio(self) -> float:
        return self.change.ratio

    @property
    def ci_low(self) -> float:
        return self.change.low if self.change.bounded else math.nan

    @property
    def ci_high(self) -> float:
        return self.change.high if self.change.bounded else math.nan

    @property
    def significant(self) -> bool:
        return self.judgement in ("worse", "better")

    def interval_text(self) -> str:
        if math.isnan(self.ratio):
            return "–"
        if not self.change.bounded:
            return (
                f"{fmt_change(self.ratio)} [no interval from {self.change.n_base}+{self.change.n_cand} runs]"
            )
        return f"{fmt_change(self.ratio)} [{fmt_change(self.ci_low)}, {fmt_change(self.ci_high)}]"


NO_METRIC = MetricChange(math.nan, math.nan, change([], []), math.nan, "undecided")


@dataclass(frozen=True)
class CellComparison:
    cell_id: str
    label: str
    fields: dict[str, Any]
    base: Runs
    cand: Runs
    throughput: MetricChange
    memory: MetricChange
    verdict: str  # worse, better, same, undecided, missing
    reasons: tuple[str, ...] = ()
    runs_needed: int | None = None  # runs a side that would likely decide an undecided cell
    missing_allowed: bool = False  # a missing cell the user accepted (--allow-missing)
    # Per work counter (COUNTERS): its change and its range verdict (None: it did not vote).
    counters: dict[str, tuple[MetricChange, Judgement | None]] = field(default_factory=dict)
    # The reference (cat) of the same setting in both runs: its change, and this cell's throughput
    # change against it (nan when the setting has no reference in both runs).
    reference_ratio: float = math.nan
    normalised_ratio: float = math.nan

    @property
    def regression(self) -> bool:
        return self.verdict == "worse" or (self.verdict == "missing" and not self.missing_allowed)

    @property
    def base_runs(self) -> int:
        return self.base.good

    @property
    def cand_runs(self) -> int:
        return self.cand.good

    @property
    def words(self) -> str:
        return VERDICT_WORDS[self.verdict]


@dataclass(frozen=True)
class Comparison:
    cells: list[CellComparison]
    only_cand: list[str]  # labels of cells measured in the candidate only (never a failure)
    fail_on_fraction: float
    alpha: float = ALPHA
    correction: str = "holm"
    allow_missing: bool = False
    notes: list[str] = field(default_factory=list)

    def with_verdict(self, verdict: str) -> list[CellComparison]:
        return [c for c in self.cells if c.verdict == verdict]

    @property
    def regressions(self) -> list[CellComparison]:
        return [c for c in self.cells if c.regression]

    @property
    def has_regression(self) -> bool:
        return bool(self.regressions)

    @property
    def undecided(self) -> list[CellComparison]:
        return self.with_verdict("undecided")

    @property
    def only_base(self) -> list[str]:
        """Base cells the candidate lacks that were allowed to be missing."""
        return [c.label for c in self.cells if c.verdict == "missing" and self.allow_missing]

    @property
    def runs_needed(self) -> int:
        """Runs a side that would likely decide the undecided cells that more runs can decide."""
        needs = [c.runs_needed or 0 for c in self.undecided]
        return max((n for n in needs if n <= MAX_RUNS_ADVISED), default=max(needs, default=0))

    @property
    def beyond_advice(self) -> list[CellComparison]:
        """Undecided cells that would need more than ``MAX_RUNS_ADVISED`` runs a side."""
        return [c for c in self.undecided if (c.runs_needed or 0) > MAX_RUNS_ADVISED]

    @property
    def outcome(self) -> str:
        """``regression``, ``undecided`` (these runs cannot tell), or ``no change``."""
        if self.has_regression:
            return "regression"
        if not self.cells or self.undecided:
            return "undecided"
        if self.with_verdict("machine"):
            return "machine changed"
        return "no change"

    @property
    def exit_status(self) -> int:
        """0 no change, 1 a regression, 3 cannot decide with these runs, 5 the machine changed (the
        reference moved with the cells: not the code's doing)."""
        return {"regression": 1, "undecided": 3, "machine changed": 5, "no change": 0}[self.outcome]

    def summary_line(self) -> str:
        margin = f"{self.fail_on_fraction:.0%}"
        if self.outcome == "regression":
            worse, missing = (
                len(self.with_verdict("worse")),
                len(self.regressions) - len(self.with_verdict("worse")),
            )
            parts = [f"{worse} regression(s) beyond --fail-on {margin}" if worse else ""]
            parts.append(f"{missing} cell(s) missing from the candidate" if missing else "")
            return "; ".join(p for p in parts if p)
        if self.outcome == "undecided":
            if not self.cells:
                return "cannot decide: no cell was measured in both runs"
            n, hard = len(self.undecided), len(self.beyond_advice)
            advice = [f"re-run both with --repeat {self.runs_needed} or more" if hard < n else ""]
            if hard:
                advice.append(
                    f"{hard} cell(s) would need more than {MAX_RUNS_ADVISED} runs a side (the spread is "
                    "wide, or the change sits on the margin)"
                )
            return (
                f"cannot decide: {n} of {len(self.cells)} cells are neither within ±{margin} nor a "
                f"significant change beyond it; " + "; ".join(a for a in advice if a)
            )
        if self.outcome == "machine changed":
            n = len(self.with_verdict("machine"))
            return (
                f"the machine changed: {n} cell(s) moved beyond ±{margin} with the reference ({REFERENCE}) "
                "of their setting, and within it against the reference; re-run both on one quiet machine"
            )
        better = len(self.with_verdict("better"))
        missing = len(self.only_base)
        return (
            f"no regression: every cell within ±{margin}"
            + (f" or better ({better} improved)" if better else "")
            + (f"; {missing} missing cell(s) accepted" if missing else "")
        )


def _runs(group: pd.DataFrame) -> tuple[Runs, pd.DataFrame]:
    """The side's runs of one cell, and its good ones."""
    # False, not None: None is a record nobody could check (a pytest-benchmark import).
    verified_false = group["verified"].map(lambda v: isinstance(v, bool | np.bool_) and not v).astype(bool)
    good_mask = group["ok"] & ~verified_false
    failed: dict[str, int] = {}
    for outcome, bad_verify in zip(group["outcome"], verified_false & group["ok"], strict=True):
        if outcome != "ok":
            failed[str(outcome)] = failed.get(str(outcome), 0) + 1
        elif bad_verify:
            failed["unverified"] = failed.get("unverified", 0) + 1
    return Runs(len(group), int(good_mask.sum()), failed), group[good_mask]


@dataclass(frozen=True)
class Sample:
    """One side's measured runs of one cell, as the rule reads them."""

    label: str
    fields: dict[str, Any]
    runs: Runs
    throughput: list[float]  # bytes/s of the good runs
    memory: list[float]  # peak RSS bytes of the good runs
    # Work counters of the good runs, per MiB moved (COUNTERS): nearly deterministic, so they can
    # decide at 3 runs a side where time cannot.
    counters: dict[str, list[float]] = field(default_factory=dict)


def samples(records: Sequence[Record]) -> dict[str, Sample]:
    """Per cell id (and machine): its runs and the throughput and peak RSS of its good runs."""
    df = records_to_frame(records)
    out: dict[str, Sample] = {}
    if df.empty:
        return out
    measured = df[df["measured"]]
    # A run on several machines compares cell by cell *and* machine by machine (by hostname).
    for (cell_id, machine), group in measured.groupby(["cell_id", "machine_label"], sort=True):
        first = group.iloc[0].to_dict()
        runs, good = _runs(group)
        out[f"{cell_id}@{machine}" if machine else str(cell_id)] = Sample(
            label=cell_label(first),
            fields={
                k: first[k] for k in ("strategy", "workload", "size_bytes", "sink", "chunk_bytes", "cache")
            },
            runs=runs,
            throughput=good["throughput_bps"].dropna().to_list(),
            memory=good["peak_rss_bytes"].dropna().to_list(),
            counters=_counters(good),
        )
    return out


# A counter decides by its range only while each side's runs agree within this share of the margin
# (their own noise, A/A); a noisier counter does not vote and time decides alone.
COUNTER_NOISE_SHARE = 0.25


def _counters(good: pd.DataFrame) -> dict[str, list[float]]:
    return {name: good[name].dropna().to_list() if name in good else [] for name in COUNTERS}


def counter_judgement(base: list[float], cand: list[float], margin: float) -> Judgement | None:
    """A work counter's verdict by its range: ``worse`` when every candidate run did more than every
    base run by more than the margin, ``better`` the reverse, ``same`` when the whole range of
    ratios lies within it, else ``undecided``; None (no vote) with fewer than 3 runs a side or when
    a side's own runs disagree by more than a quarter of the margin (the counter is noisy here)."""
    if len(base) < 3 or len(cand) < 3 or min(base) <= 0 or min(cand) <= 0:
        return None
    if max(max(v) / min(v) - 1 for v in (base, cand)) > COUNTER_NOISE_SHARE * margin:
        return None
    low, high = min(cand) / max(base), max(cand) / min(base)
    if low > 1 + margin:
        return "worse"
    if high < 1 - margin:
        return "better"
    if low >= 1 - margin and high <= 1 + margin:
        return "same"
    return "undecided"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass(frozen=True)
class _Raw:
    key: str
    base: Sample
    cand: Sample | None
    throughput: Change
    memory: Change


def compare(
    base_records: Sequence[Record],
    cand_records: Sequence[Record],
    fail_on_fraction: float,
    *,
    alpha: float = ALPHA,
    correction: str = "holm",
    allow_missing: bool = False,
) -> Comparison:
    """Compare two runs' records cell by cell (pure; see the module doc for the rules)."""
    comparison = compare_samples(samples(base_records), samples(cand_records), fail_on_fraction,
                                 alpha=alpha, correction=correction, allow_missing=allow_missing)  # fmt: skip
    changed = subject_notes(base_records, cand_records)
    return replace(comparison, notes=[*comparison.notes, *changed]) if changed else comparison


def _fingerprints(records: Sequence[Record]) -> dict[str, dict[str, str]]:
    """Per cell: what identifies the user's own subjects in it (a module's sha256, a file's xxh3-64, a
    server's command), as its first timed record says."""
    out: dict[str, dict[str, str]] = {}
    for r in records:
        if r.warmup or r.profiler or r.cell_id in out or not r.user_code:
            continue
        prints: dict[str, str] = {}
        for role, facts in r.user_code.items():
            if isinstance(facts, Mapping):
                mark = facts.get("sha256") or facts.get("xxh3_64") or facts.get("command") or facts.get("url")
                if mark:
                    prints[role] = str(mark)
        out[r.cell_id] = prints
    return out


def subject_notes(base_records: Sequence[Record], cand_records: Sequence[Record]) -> list[str]:
    """A cell whose user module (or file, or server command) is not the same in both runs: said, so two
    versions of the user's code are never compared as one subject without a word."""
    base, cand = _fingerprints(base_records), _fingerprints(cand_records)
    labels = {r.cell_id: r.strategy for r in cand_records}
    notes = []
    for cell_id in sorted(set(base) & set(cand)):
        for role in sorted(set(base[cell_id]) | set(cand[cell_id])):
            before, after = base[cell_id].get(role, "-"), cand[cell_id].get(role, "-")
            if before != after:
                notes.append(
                    f"{labels.get(cell_id, cell_id)}: your {role} changed between the runs ({before[:16]} -> "
                    f"{after[:16]}): this compares two versions of it"
                )
    return notes


def compare_samples(
    base: Mapping[str, Sample],
    cand: Mapping[str, Sample],
    fail_on_fraction: float,
    *,
    alpha: float = ALPHA,
    correction: str = "holm",
    allow_missing: bool = False,
) -> Comparison:
    """The comparison of two runs' samples (what ``compare`` reads from records; simulations
    hand them in directly, so the gate they measure is the very one ``compare`` applies)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; valid: {', '.join(CORRECTIONS)}")
    raws = []
    for key in sorted(base):
        other = cand.get(key)
        raws.append(_Raw(key, base[key], other,
                         change(base[key].throughput, other.throughput if other else []),
                         change(base[key].memory, other.memory if other else [])))  # fmt: skip
    compared = [r for r in raws if r.cand is not None]
    adjust = CORRECTIONS[correction]
    tp_adj = dict(
        zip((r.key for r in compared), adjust([r.throughput.p_value for r in compared]), strict=True)
    )
    mem_adj = dict(zip((r.key for r in compared), adjust([r.memory.p_value for r in compared]), strict=True))
    family = max(1, len(compared))
    references = {_setting(r.base): r for r in compared if r.base.fields.get("strategy") == REFERENCE}
    cells = []
    for r in raws:
        ref = None if r.base.fields.get("strategy") == REFERENCE else references.get(_setting(r.base))
        ref_p = tp_adj.get(ref.key, 1.0) if ref is not None else 1.0
        tp_p, mem_p = tp_adj.get(r.key, 1.0), mem_adj.get(r.key, 1.0)
        cells.append(_cell(r, tp_p, mem_p, fail_on_fraction, alpha, family, allow_missing, ref, ref_p))
    only_cand = sorted(cand[k].label for k in set(cand) - set(base))
    comparison = Comparison(cells, only_cand, fail_on_fraction, alpha, correction, allow_missing)
    return Comparison(
        cells, only_cand, fail_on_fraction, alpha, correction, allow_missing, _notes(comparison)
    )


def _setting(sample: Sample) -> tuple[Any, ...]:
    """What the cells of one setting share (the reference is matched on it; it has no chunk size)."""
    return tuple(sample.fields.get(k) for k in ("workload", "size_bytes", "sink", "cache"))


def _metric(ch: Change, p_adjusted: float, margin: float, alpha: float, higher_is_better: bool,
            base: list[float], cand: list[float]) -> MetricChange:  # fmt: skip
    if math.isnan(ch.ratio):
        return MetricChange(_median(base), _median(cand), ch, math.nan, "undecided")
    verdict = judge(ch, margin, higher_is_better=higher_is_better, p_adjusted=p_adjusted, alpha=alpha)
    return MetricChange(_median(base), _median(cand), ch, p_adjusted, verdict)


def _cell(
    r: _Raw, tp_p: float, mem_p: float, margin: float, alpha: float, family: int, allow_missing: bool,
    reference: _Raw | None = None, reference_p: float = 1.0,
) -> CellComparison:  # fmt: skip
    b = r.base
    base_runs = b.runs
    if r.cand is None or r.cand.runs.total == 0:
        reason = "measured in the base run, not in the candidate" + (
            " (accepted: --allow-missing)" if allow_missing else " (--allow-missing to accept)"
        )
        return CellComparison(r.key, b.label, dict(b.fields), base_runs, Runs(0, 0), NO_METRIC, NO_METRIC,
                              "missing", (reason,), missing_allowed=allow_missing)  # fmt: skip
    c = r.cand
    cand_runs = c.runs
    tp = _metric(r.throughput, tp_p, margin, alpha, True, b.throughput, c.throughput)
    mem = _metric(r.memory, mem_p, margin, alpha, False, b.memory, c.memory)
    reasons: list[str] = []
    judgements: list[str] = []
    if cand_runs.share < base_runs.share:
        judgements.append("worse")
        reasons.append(f"good runs {cand_runs.describe()}, base {base_runs.describe()}")
    elif cand_runs.share > base_runs.share:
        judgements.append("better")
        reasons.append(f"good runs {cand_runs.describe()}, base {base_runs.describe()}")
    elif base_runs.good == 0:
        judgements.append("same")  # both sides failed alike: nothing else to weigh
        reasons.append(f"no good run on either side (base {base_runs.describe()})")
    # The machine's own drift: the setting's reference (cat) measured in both runs. A throughput change
    # the reference shares, and that vanishes against it, is the machine's, not the code's.
    reference_ratio = normalised = math.nan
    # The reference itself moving is the machine's pace changing, by definition.
    machine = b.fields.get("strategy") == REFERENCE and tp.judgement in ("worse", "better")
    if machine:
        reasons.append(f"the reference ({REFERENCE}) itself {fmt_change(tp.ratio)}: the machine's pace moved")
    if reference is not None and reference.cand is not None and not math.isnan(tp.ratio):
        ref = _metric(reference.throughput, reference_p, margin, alpha, True, reference.base.throughput,
                      reference.cand.throughput)  # fmt: skip
        reference_ratio = ref.ratio
        if reference_ratio > 0:
            normalised = tp.ratio / reference_ratio
            machine = (
                tp.judgement in ("worse", "better")
                and ref.judgement == tp.judgement
                and abs(normalised - 1) <= margin
            )
            if machine:
                moved = f"the reference ({REFERENCE}) {fmt_change(reference_ratio)} on this setting"
                reasons.append(
                    f"throughput {fmt_change(tp.ratio)}, and {moved}: {fmt_change(normalised)} against it "
                    "(the machine changed)"
                )
    for name, m, p in (("throughput", tp, tp_p), ("peak RSS", mem, mem_p)):
        if math.isnan(m.ratio):
            continue  # no such figure on either side (a browser run has no throughput)
        if machine and name == "throughput":
            judgements.append("machine")
            continue
        judgements.append(m.judgement)
        if m.judgement in ("worse", "better"):
            reasons.append(f"{name} {m.interval_text()} (adjusted p {fmt_p(p)})")
        elif m.judgement == "undecided":
            reasons.append(f"{name} {m.interval_text()}: not within ±{margin:.0%}, not significant beyond it")
    counters: dict[str, tuple[MetricChange, Judgement | None]] = {}
    for name, (words, _) in COUNTERS.items():
        before, after = b.counters.get(name, []), c.counters.get(name, [])
        if not before or not after:
            continue
        vote = counter_judgement(before, after, margin)
        ch = change(before, after)
        shown = MetricChange(_median(before), _median(after), ch, math.nan, vote or "undecided")
        counters[name] = (shown, vote)
        if vote is None:
            continue
        judgements.append(vote)
        if vote in ("worse", "better"):
            ratio_low, ratio_high = min(after) / max(before), max(after) / min(before)
            every = f"every run: {fmt_change(ratio_low)} to {fmt_change(ratio_high)}"
            medians = f"{_median(before):,.0f} -> {_median(after):,.0f}"
            reasons.append(f"{words} {fmt_change(ch.ratio)} ({every}; {medians})")
    verdict = _combine(judgements)
    needed = None
    if verdict == "undecided":
        open_metrics = [m for m in (tp, mem) if m.judgement == "undecided" and not math.isnan(m.ratio)]
        needed = max((runs_needed(m.change, margin, family, alpha) for m in open_metrics), default=None)
    return CellComparison(r.key, b.label, dict(b.fields), base_runs, cand_runs, tp, mem,
                          verdict, tuple(reasons), needed, counters=counters,
                          reference_ratio=reference_ratio, normalised_ratio=normalised)  # fmt: skip


def _combine(judgements: list[str]) -> str:
    """A cell is worse if any part of it is; undecided if any is; the machine's if its throughput moved
    with the reference; better if any part is; else the same."""
    for verdict in ("worse", "undecided", "machine", "better"):
        if verdict in judgements:
            return verdict
    return "same" if judgements else "undecided"


def _notes(comparison: Comparison) -> list[str]:
    notes: list[str] = []
    cells = comparison.cells
    if not cells:
        notes.append("no cell was measured in the base run: nothing to compare")
        return notes
    missing = comparison.with_verdict("missing")
    if missing and comparison.allow_missing:
        notes.append(f"{len(missing)} cell(s) only in the base run (accepted: --allow-missing)")
    if comparison.only_cand:
        notes.append(f"{len(comparison.only_cand)} cell(s) only in the candidate run (not compared)")
    return notes


def machine_notes(base_meta: Mapping[str, Any], cand_meta: Mapping[str, Any]) -> list[str]:
    """What differs between the two runs' machines: a change may be the machine's, not the code's."""

    def mapping(meta: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = meta.get(key)
        return value if isinstance(value, Mapping) else {}

    notes: list[str] = []
    base_m, cand_m = mapping(base_meta, "machine"), mapping(cand_meta, "machine")
    for key, what in (("hostname", "machine"), ("cpu_model", "CPU"), ("cpu_count", "core count"),
                      ("kernel", "kernel"), ("python", "Python")):  # fmt: skip
        b, c = base_m.get(key), cand_m.get(key)
        if b is not None and c is not None and b != c:
            notes.append(f"the runs differ in {what}: {b} (base) vs {c} (candidate)")

    # Runs on a cluster list every machine that measured them: a comparison across them says so.
    def hosts(meta: Mapping[str, Any]) -> dict[str, str]:
        machines = meta.get("machines")
        listed = machines if isinstance(machines, list) else []
        return {str(m.get("machine_id")): str(m.get("hostname")) for m in listed if isinstance(m, dict)}

    base_hosts, cand_hosts = hosts(base_meta), hosts(cand_meta)
    if base_hosts and cand_hosts and set(base_hosts) != set(cand_hosts):
        notes.append(
            "the comparison crosses machines: base measured on "
            f"{', '.join(sorted(base_hosts.values()))}, candidate on {', '.join(sorted(cand_hosts.values()))}"
        )
    base_cal, cand_cal = mapping(base_meta, "calibration"), mapping(cand_meta, "calibration")
    for key in sorted(set(base_cal) & set(cand_cal)):
        b, c = base_cal[key], cand_cal[key]
        if isinstance(b, int | float) and isinstance(c, int | float) and b > 0 and abs(c / b - 1) > 0.2:
            notes.append(f"the machines' calibrations differ: {key} {b:.3g} (base) vs {c:.3g} (candidate)")
    return notes


def comparison_markdown(comparison: Comparison) -> str:
    """A Markdown table and the verdict (for ``--format md`` and ``$GITHUB_STEP_SUMMARY``)."""

    def cell(text: str) -> str:
        return printable(text).replace("|", "\\|")

    lines = [
        f"### streambench compare: {comparison.outcome}",
        "",
        comparison.summary_line(),
        "",
        "| cell | good runs b/c | GB/s base → cand | change [95% CI] | p adj | peak RSS change [95% CI] "
        "| p adj | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in comparison.cells:
        tp, mem = c.throughput, c.memory
        lines.append(
            f"| {cell(c.label)} | {c.base.good}/{c.base.total} → {c.cand.good}/{c.cand.total} | "
            f"{fmt_num(tp.base_median / 1e9)} → {fmt_num(tp.cand_median / 1e9)} | {tp.interval_text()} | "
            f"{fmt_p(tp.p_adjusted)} | {mem.interval_text()} | {fmt_p(mem.p_adjusted)} | {cell(c.words)} |"
        )
    reasons = [f"- {cell(c.label)}: {cell('; '.join(c.reasons))}" for c in comparison.cells
               if c.verdict != "same" and c.reasons]  # fmt: skip
    lines += ["", *reasons, *(f"- note: {cell(n)}" for n in comparison.notes), ""]
    return "\n".join(lines)


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """Everything the comparison decided, as plain data (``--format json``)."""

    def number(v: float) -> float | None:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    def metric(m: MetricChange) -> dict[str, Any]:
        ch = m.change
        return {
            "base_median": number(m.base_median),
            "cand_median": number(m.cand_median),
            "ratio": number(ch.ratio),
            "ci_low": number(m.ci_low),
            "ci_high": number(m.ci_high),
            "coverage": ch.coverage,
            "p_value": ch.p_value,
            "p_adjusted": number(m.p_adjusted),
            "judgement": m.judgement,
        }

    def runs(r: Runs) -> dict[str, Any]:
        return {"total": r.total, "good": r.good, "failed": dict(r.failed)}

    return {
        "outcome": comparison.outcome,
        "exit_status": comparison.exit_status,
        "summary": comparison.summary_line(),
        "runs_needed": comparison.runs_needed if comparison.outcome == "undecided" else None,
        "fail_on_fraction": comparison.fail_on_fraction,
        "alpha": comparison.alpha,
        "correction": comparison.correction,
        "allow_missing": comparison.allow_missing,
        "notes": list(comparison.notes),
        "only_base": comparison.only_base,
        "only_cand": comparison.only_cand,
        "cells": [
            {
                "cell_id": c.cell_id,
                "label": c.label,
                "fields": c.fields,
                "verdict": c.verdict,
                "regression": c.regression,
                "base_runs": runs(c.base),
                "cand_runs": runs(c.cand),
                "throughput": metric(c.throughput),
                "memory": metric(c.memory),
                "reasons": list(c.reasons),
                "runs_needed": c.runs_needed,
            }
            for c in comparison.cells
        ],
    }


# --- output ------------------------------------------------------------------


def comparison_table(comparison: Comparison) -> Table:
    """A terminal table: one row per compared cell."""
    table = Table(
        title=f"candidate vs base ({comparison.correction}-corrected, alpha {comparison.alpha:g}, "
        f"--fail-on {comparison.fail_on_fraction:.0%})"
    )
    for column in ("cell", "good b → c", "GB/s base → cand", "change [95% CI]", "p adj",
                   "peak RSS change [95% CI]", "p adj", "verdict"):  # fmt: skip
        table.add_column(column, no_wrap=column not in ("cell", "verdict"))
    for c in comparison.cells:
        tp, mem = c.throughput, c.memory
        style = {"worse": "bold red", "missing": "bold red", "undecided": "yellow", "better": "green"}
        table.add_row(
            printable(c.label),
            f"{c.base.good}/{c.base.total} → {c.cand.good}/{c.cand.total}",
            f"{fmt_num(tp.base_median / 1e9)} → {fmt_num(tp.cand_median / 1e9)}",
            tp.interval_text(),
            fmt_p(tp.p_adjusted),
            mem.interval_text(),
            fmt_p(mem.p_adjusted),
            c.words,
            style=style.get(c.verdict, ""),
        )
    return table


def _ratio_chart(
    comparison: Comparison,
    what: str,
    title: str,
    metric: Callable[[CellComparison], MetricChange],
    fail: float,
) -> Markup | None:
    """A dot per cell at the ratio, whiskers at its interval; --fail-on shaded."""
    colours = {"worse": "#b00020", "better": "#1b5e20", "undecided": "#f28e2b", "same": "#4e79a7"}
    items = []
    for c in comparison.cells:
        m = metric(c)
        if math.isnan(m.ratio):
            continue
        items.append(
            svg.Item(
                label=c.label,
                value=m.ratio,
                low=m.ci_low,
                high=m.ci_high,
                colour=colours[m.judgement],
                tooltip=f"{c.label}: {what} {m.interval_text()}, adjusted p {fmt_p(m.p_adjusted)}: "
                f"{m.judgement}",
            )
        )
    if not items:
        return None
    return Markup(
        svg.interval_chart(
            items,
            title=title,
            axis_label="typical ratio (dot), 95% interval (whiskers); shaded: within --fail-on",
            ref_lines=[svg.RefLine(1.0, "no change", band=(1 - fail, 1 + fail))],
            value_format=fmt_change,
            dots=True,
            width=900,
        )
    )


def render_comparison(
    comparison: Comparison,
    base_meta: Mapping[str, Any] | None = None,
    cand_meta: Mapping[str, Any] | None = None,
) -> str:
    """The comparison as one self-contained HTML page (pure)."""
    base_meta, cand_meta = base_meta or {}, cand_meta or {}
    fail = comparison.fail_on_fraction
    charts = [
        _ratio_chart(comparison, "throughput", "throughput, candidate / base", lambda c: c.throughput, fail),
        _ratio_chart(comparison, "peak RSS", "peak RSS, candidate / base", lambda c: c.memory, fail),
    ]
    return ENV.get_template("compare.html.j2").render(
        comparison=comparison,
        charts=[c for c in charts if c is not None],
        base_id=str(base_meta.get("run_id", "base")),
        cand_id=str(cand_meta.get("run_id", "candidate")),
        gbps=lambda bps: fmt_num(bps / 1e9) if bps == bps else "–",
        fmt_bytes=fmt_bytes,
    )
