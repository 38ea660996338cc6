"""The median's distribution-free interval from order statistics, with its exact coverage.

For n independent draws of a continuous variable, [x(k), x(n+1-k)] covers the true median with
probability 1 - 2 P(Bin(n, 1/2) < k), whatever the distribution. ``median_interval`` takes the
largest k that reaches the asked confidence; below 6 runs no k reaches 95%, so the interval is the
range and says its own coverage ("n = 3: range, 75%"). The report's intervals and the claims'
bounds read it; whether one set of runs differs from another is :mod:`harness.common.decision`'s.
Pure Python: the plan uses it without pandas or numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True)
class MedianInterval:
    """An order-statistic interval of the median: its bounds, its exact coverage, and what it is."""

    low: float
    high: float
    coverage: float  # exact, for continuous data: 1 - 2 P(Bin(n, 1/2) < k)
    n: int
    k: int  # the interval is [x(k), x(n+1-k)], 1-based; 0: no value
    confidence: float = CONFIDENCE

    @property
    def enough(self) -> bool:
        """Whether the interval reaches the asked confidence (6 runs at least for 95%)."""
        return self.n > 0 and self.coverage >= self.confidence

    def describe(self) -> str:
        if self.n == 0:
            return "no value"
        if self.n == 1:
            return "n = 1: no interval"
        what = "range" if self.k == 1 else f"x({self.k})..x({self.n + 1 - self.k})"
        text = f"n = {self.n}: {what}, {self.coverage:.1%}"
        return text if self.enough else f"{text}; too few runs for {self.confidence:.0%}"


def order_coverage(n: int, k: int) -> float:
    """P(x(k) <= median <= x(n+1-k)) for n independent draws of a continuous variable."""
    if n < 1 or not 1 <= k <= (n + 1) // 2:
        return 0.0
    below = sum(math.comb(n, i) for i in range(k)) / (1 << n)
    return 1.0 - 2.0 * below


def runs_for_confidence(confidence: float = CONFIDENCE) -> int:
    """The fewest runs whose range reaches ``confidence`` (6 for 95%: 1 - 2/64 = 96.9%)."""
    n = 1
    while order_coverage(n, 1) < confidence:
        n += 1
    return n


def median_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> MedianInterval:
    """The distribution-free interval of the median with the highest k reaching ``confidence``.

    When even the range (k = 1) falls short, the range is returned with its coverage.
    """
    arr = sorted(float(v) for v in values if not math.isnan(float(v)))
    n = len(arr)
    if n == 0:
        return MedianInterval(math.nan, math.nan, 0.0, 0, 0, confidence)
    if n == 1:
        return MedianInterval(arr[0], arr[0], 0.0, 1, 1, confidence)
    k = 1
    while k + 1 <= (n + 1) // 2 and order_coverage(n, k + 1) >= confidence:
        k += 1
    return MedianInterval(arr[k - 1], arr[n - k], order_coverage(n, k), n, k, confidence)
