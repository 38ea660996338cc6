"""Two-sample tests for comparing runs, in numpy alone (no scipy).

- ``mann_whitney_u``: the two-sided Mann-Whitney U test. Exact when the sample
  sizes allow it (every split of the pooled ranks enumerated, so ties are handled
  exactly too; without ties the count comes from the Gaussian binomial
  coefficient, as fast for larger samples); otherwise the normal approximation
  with tie and continuity corrections (as scipy's ``mannwhitneyu`` does).
- ``holm`` and ``benjamini_hochberg``: adjusted p-values for many cells at once.
- ``min_p_value``: the smallest two-sided p-value the exact test can give with
  ``n1`` and ``n2`` values, 2 / C(n1 + n2, n1). With 3 runs against 3 it is
  2/20 = 0.1: no difference, however large, is significant at 0.05. That bound is
  what ``compare`` reports when a comparison cannot detect anything.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Enumerate every split of the pooled ranks while there are at most this many.
EXACT_ENUMERATION_LIMIT = 20_000
# Without ties, count exactly via the Gaussian binomial up to this many values in all.
EXACT_NO_TIES_LIMIT = 200


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U of the first sample: pairs (x, y) with x > y, ties counting half
    p_value: float  # two-sided
    method: str  # "exact" or "normal"


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size, dtype=float)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    return ranks


def _u_distribution(n1: int, n2: int) -> np.ndarray:
    """Counts of each U = 0..n1*n2 over all C(n1+n2, n1) splits without ties.

    The generating function is the Gaussian binomial: prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i).
    Floats: C(200, 100) ~ 9e58 fits; p-values need only relative precision.
    """
    size = n1 * n2 + 1
    poly = np.zeros(size)
    poly[0] = 1.0
    for i in range(1, n1 + 1):
        shift = n2 + i
        if shift < size:  # multiply by (1 - q^shift)
            poly[shift:] = poly[shift:] - poly[: size - shift].copy()
        for k in range(i, size):  # divide by (1 - q^i): a running sum with stride i
            poly[k] += poly[k - i]
    return poly


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value of the exact test with these sample sizes."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def mann_whitney_u(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> MannWhitney:
    """Two-sided Mann-Whitney U test of x against y (NaNs dropped)."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    n1, n2 = a.size, b.size
    if n1 == 0 or n2 == 0:
        return MannWhitney(math.nan, 1.0, "none")
    pooled = np.concatenate([a, b])
    ranks = rankdata(pooled)
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    ties = np.unique(pooled).size != pooled.size
    n = n1 + n2
    if math.comb(n, n1) <= EXACT_ENUMERATION_LIMIT:
        # Every way to pick which n1 of the pooled values are "x": exact, ties included.
        combos = np.array(list(itertools.combinations(range(n), n1)), dtype=np.intp)
        us = ranks[combos].sum(axis=1) - n1 * (n1 + 1) / 2
        eps = 1e-9
        low = np.count_nonzero(us <= u + eps) / us.size
        high = np.count_nonzero(us >= u - eps) / us.size
        return MannWhitney(u, min(1.0, 2 * min(low, high)), "exact")
    if not ties and n <= EXACT_NO_TIES_LIMIT:
        counts = _u_distribution(min(n1, n2), max(n1, n2))
        k = round(u)
        total = counts.sum()
        low = counts[: k + 1].sum() / total
        high = counts[k:].sum() / total
        return MannWhitney(u, float(min(1.0, 2 * min(low, high))), "exact")
    # Normal approximation, tie-corrected variance, continuity correction.
    mean = n1 * n2 / 2
    _, tie_counts = np.unique(pooled, return_counts=True)
    tie_term = float((tie_counts**3 - tie_counts).sum()) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return MannWhitney(u, 1.0, "normal")
    z = (abs(u - mean) - 0.5) / sigma
    p = math.erfc(max(z, 0.0) / math.sqrt(2))
    return MannWhitney(u, min(1.0, p), "normal")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="mergesort")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


def repeats_needed(cells: int, alpha: float, correction: str = "holm") -> int:
    """Runs per side (equal on both) for the exact test to be able to reach ``alpha`` for one cell.

    Holm multiplies the smallest p-value by the number of cells, and so does
    Benjamini-Hochberg when a single cell changed.
    """
    del correction  # same bound for both, for one changed cell
    for n in range(2, 64):
        if min_p_value(n, n) * max(cells, 1) < alpha:
            return n
    return 64


def bootstrap_ratio_ci(
    base: np.ndarray, cand: np.ndarray, rng: np.random.Generator, resamples: int, confidence: float
) -> tuple[float, float]:
    """Percentile bootstrap of median(cand) / median(base), each side resampled on its own."""
    if base.size == 0 or cand.size == 0:
        return (math.nan, math.nan)
    b = np.median(base[rng.integers(0, base.size, size=(resamples, base.size))], axis=1)
    c = np.median(cand[rng.integers(0, cand.size, size=(resamples, cand.size))], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = c / b
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return (math.nan, math.nan)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return (float(low), float(high))
