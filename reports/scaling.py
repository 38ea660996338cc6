"""A figure against workload size on log-log axes: one slope, one O(1)/O(n) reading.

The report's memory-vs-size labels and the scenarios' ``O(1)``/``O(n)`` claims
both read a slope here, with the same thresholds, so a chart and a verdict can
never disagree on the same data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

# At or below this slope a figure does not grow with the size; at or above ON it grows with it.
O1_MAX_SLOPE = 0.2
ON_MIN_SLOPE = 0.8


def loglog_fit(
    sizes: Sequence[float] | npt.NDArray[Any], values: Sequence[float] | npt.NDArray[Any], floor: float
) -> tuple[float, float]:
    """Least squares of log(value floored at ``floor``) on log(size): (slope, intercept), natural logs.

    The floor keeps log() finite: a page for bytes (nothing measurable below it),
    a microsecond for times.
    """
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.maximum(np.asarray(values, dtype=float), floor))
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def complexity(slope: float) -> str:
    """``O(1)``, ``O(n)`` or ``between``."""
    if slope <= O1_MAX_SLOPE:
        return "O(1)"
    if slope >= ON_MIN_SLOPE:
        return "O(n)"
    return "between"


def complexity_label(slope: float) -> str:
    kind = complexity(slope)
    return kind if kind != "between" else f"between O(1) and O(n) (slope {slope:.2f})"
