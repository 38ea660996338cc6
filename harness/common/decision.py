"""The one decision rule: is a candidate worse, better, the same, or can these runs not tell?

``compare``, ``history``, ``--repeat auto``, the report's ranking and the scenarios' ratio claims
all ask it, through :func:`change` and :func:`judge`:

- :func:`change` sets a candidate's values against a base's on one metric: the ratio of their
  typical values (the Hodges-Lehmann shift of the logs, i.e. the median of all pairwise log
  ratios), its distribution-free interval (Mann-Whitney inverted: the interval of pairwise log
  ratios between order statistics k and N + 1 - k, k from the exact null distribution of U), and
  the two-sided Mann-Whitney p-value. The interval and the test are one computation, so an
  interval that excludes "no change" and a significant test cannot disagree (a bootstrap of the
  medians' ratio, used before, could show [-48%, -6%] beside a p of 0.063).
- Each side without any spread over 3 runs or more (a deterministic count): the ratio is exact.
- :func:`judge` reads it against a margin (``--fail-on``, or the 3% tie of ``--repeat auto``):

  * ``same``: the whole interval lies within the margin. Absence of evidence is never read as
    evidence of absence: a wide interval around "no change" is ``undecided``.
  * ``worse`` / ``better``: the (multiplicity-corrected) test is significant and the ratio is
    beyond the margin.
  * ``undecided``: anything else, with :func:`runs_needed` saying how many runs a side would
    likely decide it.

Pure Python (the plan uses it without numpy); exact for any sample size (the null distribution
of U comes from a polynomial recurrence, not an enumeration of splits).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

CONFIDENCE = 0.95
# --repeat auto and the report's ranking: two strategies within this of each other are a tie.
TIE_FRACTION = 0.03
Judgement = Literal["worse", "better", "same", "undecided"]
# Runs a side, each side without any spread, for a ratio to count as exact.
MIN_EXACT_RUNS = 3
# Past this many runs a side, "more runs" is no answer: the change sits on the margin itself.
MAX_RUNS_ADVISED = 100


@cache
def u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """How many of the C(n1 + n2, n1) splits give each U = 0 .. n1 * n2 (no ties).

    The generating function is the Gaussian binomial prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i);
    integers throughout, so the counts are exact.
    """
    n1, n2 = min(n1, n2), max(n1, n2)
    size = n1 * n2 + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, n1 + 1):
        shift = n2 + i
        for k in range(size - 1, shift - 1, -1):  # multiply by (1 - q^shift)
            poly[k] -= poly[k - shift]
        for k in range(i, size):  # divide by (1 - q^i): a running sum with stride i
            poly[k] += poly[k - i]
    return tuple(poly)


@cache
def _cumulative(n1: int, n2: int) -> tuple[float, ...]:
    """P(U <= u) for u = 0 .. n1 * n2."""
    counts = u_counts(n1, n2)
    total = math.comb(n1 + n2, n1)
    out, running = [], 0
    for c in counts:
        running += c
        out.append(running / total)
    return tuple(out)


def mann_whitney_p(base: list[float], cand: list[float]) -> float:
    """Two-sided Mann-Whitney p-value (ties count half; the null distribution without ties)."""
    n1, n2 = len(cand), len(base)
    if n1 == 0 or n2 == 0:
        return 1.0
    u = sum(1.0 if c > b else 0.5 if c == b else 0.0 for c in cand for b in base)
    cdf = _cumulative(n1, n2)
    low = cdf[min(len(cdf) - 1, math.floor(u + 1e-9))]
    high_index = math.ceil(u - 1e-9) - 1  # P(U >= u) = 1 - P(U <= u - 1)
    high = 1.0 - (cdf[high_index] if high_index >= 0 else 0.0)
    return min(1.0, 2.0 * min(low, high))


def order_k(n1: int, n2: int, confidence: float = CONFIDENCE) -> tuple[int, float]:
    """The largest k with P(U <= k - 1) <= (1 - confidence) / 2, and the interval's exact coverage;
    k = 0 when even the extreme pairwise ratios cover less than ``confidence``."""
    if n1 == 0 or n2 == 0:
        return 0, 0.0
    cdf = _cumulative(n1, n2)
    tail = (1 - confidence) / 2
    k = 0
    while k < len(cdf) and cdf[k] <= tail + 1e-12:
        k += 1
    if k == 0:
        return 0, 1.0 - 2.0 * cdf[0]
    return k, 1.0 - 2.0 * cdf[k - 1]


def min_runs_for_interval(confidence: float = CONFIDENCE) -> int:
    """The fewest runs a side (equal) whose pairwise interval exists at ``confidence`` (4 for 95%)."""
    n = 1
    while order_k(n, n, confidence)[0] == 0:
        n += 1
    return n


@dataclass(frozen=True)
class Change:
    """A candidate's values against a base's on one metric."""

    ratio: float  # candidate / base, typical; nan when nothing to compare
    low: float  # the interval of the ratio; 0 and inf when these runs cannot bound it
    high: float
    coverage: float  # its exact coverage (shift model, continuous data)
    p_value: float  # two-sided Mann-Whitney
    n_base: int
    n_cand: int
    confidence: float = CONFIDENCE
    # Every run of each side gave the same value (3 runs a side at least): the ratio is known
    # exactly, whatever the test could say of so few runs (a deterministic count, a VmHWM).
    exact: bool = False

    @property
    def bounded(self) -> bool:
        return 0 < self.low <= self.high < math.inf

    def describe(self) -> str:
        if math.isnan(self.ratio):
            return "no values to compare"
        if not self.bounded:
            runs = f"{self.n_base} and {self.n_cand} runs"
            return f"{fmt_ratio(self.ratio)}, no {self.confidence:.0%} interval from {runs}"
        return f"{fmt_ratio(self.ratio)} [{fmt_ratio(self.low)}, {fmt_ratio(self.high)}]"


def fmt_ratio(ratio: float) -> str:
    """A ratio as a signed percentage change: 0.7 -> "-30.0%"."""
    if math.isnan(ratio):
        return "–"
    if math.isinf(ratio):
        return "+inf" if ratio > 0 else "-inf"
    return f"{(ratio - 1) * 100:+.1f}%"


NOTHING = Change(math.nan, 0.0, math.inf, 0.0, 1.0, 0, 0)


def _clean(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def change(base: Iterable[float], cand: Iterable[float], confidence: float = CONFIDENCE) -> Change:
    """The candidate against the base: typical ratio, its interval, and the test (see the module doc).

    Positive values are compared on a log scale (a ratio); values that include zero or below are
    compared as differences relative to the base's median (a counter that went from 0 to 2 has no
    ratio: it is reported as infinite, and decided by the test).
    """
    b, c = _clean(base), _clean(cand)
    n_base, n_cand = len(b), len(c)
    if not b or not c:
        return Change(math.nan, 0.0, math.inf, 0.0, 1.0, n_base, n_cand, confidence)
    p = mann_whitney_p(b, c)
    k, coverage = order_k(n_base, n_cand, confidence)
    log_scale = min(b) > 0 and min(c) > 0
    scale = 1.0 if log_scale else abs(_median(b))
    if min(n_base, n_cand) >= MIN_EXACT_RUNS and len(set(b)) == 1 and len(set(c)) == 1 and b[0] != 0:
        ratio = c[0] / b[0]
        return Change(ratio, ratio, ratio, 1.0, p, n_base, n_cand, confidence, exact=True)
    if scale == 0:  # a counter at zero in the base: no ratio, only "same" or a direction
        same = all(v == b[0] for v in (*b, *c))
        ratio = 1.0 if same else math.inf if _median(c) > 0 else -math.inf
        low, high = (1.0, 1.0) if same else (0.0, math.inf)
        return Change(ratio, low, high, coverage, p, n_base, n_cand, confidence)
    if log_scale:
        diffs = sorted(math.log(y) - math.log(x) for y in c for x in b)
    else:
        diffs = sorted((y - x) / scale for y in c for x in b)

    def as_ratio(d: float) -> float:
        return math.exp(d) if log_scale else 1.0 + d

    ratio = as_ratio(_median(diffs))
    if k == 0:
        return Change(ratio, 0.0, math.inf, coverage, p, n_base, n_cand, confidence)
    low, high = as_ratio(diffs[k - 1]), as_ratio(diffs[len(diffs) - k])
    return Change(ratio, low, high, coverage, p, n_base, n_cand, confidence)


def _median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def judge(
    ch: Change, margin: float, *, higher_is_better: bool, p_adjusted: float | None = None, alpha: float = 0.05
) -> Judgement:
    """``same`` when the interval lies within ``margin``; ``worse``/``better`` when the (adjusted)
    p-value is below ``alpha`` (or the ratio is exact) and the ratio is beyond the margin; else
    ``undecided``."""
    if math.isnan(ch.ratio):
        return "undecided"
    if ch.bounded and ch.low >= 1 - margin and ch.high <= 1 + margin:
        return "same"
    p = ch.p_value if p_adjusted is None else p_adjusted
    if (ch.exact or p < alpha) and (ch.ratio < 1 - margin or ch.ratio > 1 + margin):
        up = ch.ratio > 1
        return "better" if up == higher_is_better else "worse"
    return "undecided"


def runs_needed(ch: Change, margin: float, family: int = 1, alpha: float = 0.05) -> int:
    """Runs a side that would likely decide an undecided change (same, or beyond the margin).

    The interval narrows as 1/sqrt(n): the present width is scaled to what deciding needs (inside
    the margin around the ratio, or away from 1 when the ratio is beyond it), at least the runs
    the exact test needs to reach ``alpha`` over a family of ``family`` comparisons.
    ``MAX_RUNS_ADVISED + 1`` when no number of runs is likely to do (the ratio sits on the margin).
    """
    floor = _runs_for_alpha(alpha / max(family, 1))
    n_now = max(1, (ch.n_base + ch.n_cand) // 2)
    if math.isnan(ch.ratio) or not ch.bounded or ch.ratio <= 0 or math.isinf(ch.ratio):
        # No interval yet: at least the runs that give one and let the test reach alpha.
        return max(floor, min_runs_for_interval(ch.confidence), n_now + 1)
    shift = abs(math.log(ch.ratio))
    half = (math.log(ch.high) - math.log(ch.low)) / 2
    edge = min(abs(math.log(1 - margin)) if margin < 1 else math.inf, math.log(1 + margin))
    if shift < 0.9 * edge:
        target = edge - shift  # the whole interval inside the margin
    elif shift > 1.1 * edge:
        target = shift * _z(alpha / 2) / _z(alpha / (2 * max(family, 1)))  # away from 1, corrected
    else:
        return MAX_RUNS_ADVISED + 1
    if half <= target:
        return max(floor, n_now + 1)
    needed = math.ceil(n_now * (half / target) ** 2)
    return min(MAX_RUNS_ADVISED + 1, max(floor, needed, n_now + 1))


def _runs_for_alpha(alpha: float) -> int:
    """The fewest equal runs a side whose exact two-sided test can reach ``alpha`` at all."""
    for n in range(1, MAX_RUNS_ADVISED + 1):
        if 2.0 / math.comb(2 * n, n) < alpha:
            return n
    return MAX_RUNS_ADVISED + 1


def _z(tail: float) -> float:
    """The standard normal quantile 1 - tail (bisection on erfc: no scipy here)."""
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(mid / math.sqrt(2)) > tail:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, p_values[i] * m / (rank + 1))
        adjusted[i] = min(1.0, running)
    return adjusted


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}
