"""Statistics over measured runs: per cell, across sizes, across chunk sizes, against the machine.

Rules kept here:
- warm-up runs never enter a statistic;
- a run whose outcome is not ``ok`` is counted (and shown) but gives no timing or memory figure;
- quartiles use linear interpolation (numpy's default), so a hand computation can check them;
- the interval of a median is distribution-free, from order statistics (``median_interval``):
  [x(k), x(n+1-k)] covers the true median with probability 1 - 2 P(Bin(n, 1/2) < k), exactly, for
  any continuous distribution; k is the largest that reaches 95%. Below 6 runs no k does: the
  interval is the range and says its own coverage ("n = 3: range, 75%"). (A percentile bootstrap
  of the median returns [min, max] at n = 3 and calls it 95%: it covers 75% of the time.)
- the bootstrap (kept for ratios in ``compare``) is deterministic: a fixed seed mixed with the
  cell id, so a cell's interval does not depend on which other cells share the run.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from streambench.harness.common.decision import TIE_FRACTION, change, judge
from streambench.harness.common.intervals import median_interval
from streambench.harness.common.units import format_bytes
from streambench.harness.results.identity import cell_label as identity_label
from streambench.harness.results.identity import setting_label as identity_setting_label
from streambench.reports import scaling
from streambench.reports.frame import CELL_COLUMNS, PAGE_BYTES
from streambench.reports.scaling import complexity_label

Values = Sequence[float] | np.ndarray

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 7
CONFIDENCE = 0.95
TUKEY_K = 1.5
# Stability warnings (after pyperf): a spread this wide, or fewer repeats than this.
SPREAD_WARN_FRACTION = 0.10
MIN_REPEATS = 3
# The knee of a chunk-size sweep: the smallest chunk within this share of the best median.
KNEE_SHARE = 0.95

# Columns that, with the strategy and the chunk size, make a cell: strategies are
# compared within one setting.
# A cell's statistics are per machine: runs of one cell on two machines are two rows (the label of a
# one-machine run is "", so its rows are the cells themselves).
MACHINE = "machine_label"
SUMMARY_COLUMNS = [*CELL_COLUMNS, MACHINE]
# A runtime is compared within its setting, as a strategy is (node-pipe on node, on bun, ...).
SETTING_COLUMNS = [c for c in SUMMARY_COLUMNS if c not in ("strategy", "chunk_bytes", "cell_runtime")]
# Across sizes: everything but the size (and the seed, which follows the workload).
SIZE_SWEEP_COLUMNS = [c for c in SUMMARY_COLUMNS if c not in ("size_bytes", "seed")]
# Across chunk sizes: everything but the chunk size.
CHUNK_SWEEP_COLUMNS = [c for c in SUMMARY_COLUMNS if c != "chunk_bytes"]

# Which calibration figure bounds a cell, by sink (bytes/s keys of run.json "calibration").
LIMIT_KEYS = {"tcp": "loopback_tcp_bps", "file": "page_cache_write_bps", "null": "warm_read_bps"}
LIMIT_NAMES = {
    "loopback_tcp_bps": "loopback TCP",
    "page_cache_write_bps": "page-cache write",
    "warm_read_bps": "warm read",
    "cold_read_bps": "cold read",
    "memcpy_bps": "memcpy",
}

_MEDIAN_COLUMNS = {
    "wall_s": "wall_s",
    "cpu_s": "cpu_s",
    "sys_s": "strategy_sys_s",
    "peak_rss_bytes": "peak_rss_bytes",
    "peak_rss_anon_bytes": "peak_rss_anon_bytes",
    "peak_rss_file_bytes": "peak_rss_file_bytes",
    "peak_rss_over_baseline_bytes": "peak_rss_over_baseline_bytes",
    "ttfb_s": "ttfb_s",
    "sink_last_byte_s": "sink_last_byte_s",
    "pauses": "pauses",
    "drains": "drains",
    "max_buffered_bytes": "max_buffered_bytes",
    "records_per_s": "records_per_s",
    "syscalls_per_mib": "syscalls_per_mib",
    "kernel_bytes_per_mib": "kernel_bytes_per_mib",
}


def quartiles(values: Values) -> tuple[float, float, float]:
    """(Q1, median, Q3) with linear interpolation; NaNs when there is no value."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return (math.nan, math.nan, math.nan)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return (float(q1), float(med), float(q3))


def rng_for(key: str) -> np.random.Generator:
    """A generator seeded by the fixed seed and ``key``: same key, same numbers."""
    return np.random.default_rng([BOOTSTRAP_SEED, zlib.crc32(key.encode())])


def tukey_outliers(values: Values, k: float = TUKEY_K) -> tuple[int, int]:
    """How many values lie below Q1 - k*IQR and above Q3 + k*IQR (counted, never dropped)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size < 2:
        return (0, 0)
    q1, _, q3 = quartiles(arr)
    iqr = q3 - q1
    return (int((arr < q1 - k * iqr).sum()), int((arr > q3 + k * iqr).sum()))


def cell_label(row: Mapping[Any, Any]) -> str:
    """The same words as ``harness.plan.config.Cell.label`` (viewers included for http cells), and
    the machine when the run had more than one."""
    machine = row.get(MACHINE) or ""
    return identity_label(row) + (f" on {machine}" if machine else "")


def setting_label(row: Mapping[Any, Any]) -> str:
    """What the strategies of one setting share (``harness.results.identity.setting_label``), and the
    machine when the run had more than one."""
    machine = f" on {row[MACHINE]}" if row.get(MACHINE) else ""
    return identity_setting_label(row) + machine


def sweep_label(row: Mapping[Any, Any], columns: Sequence[str]) -> str:
    """A short label of the fields in ``columns`` that are not at their usual value."""
    parts: list[str] = []
    for column in columns:
        value = row[column]
        if column == "strategy":
            parts.append(str(value))
        elif column == "workload":
            parts.append(
                str(value) + (f":{format_bytes(row['size_bytes'])}" if "size_bytes" in columns else "")
            )
        elif column == "sink":
            parts.append(f"-> {value}" + (f" ({row['dest']})" if value == "file" else ""))
        elif column == "chunk_bytes":
            parts.append(f"chunk {format_bytes(value)}")
        elif column == "cache":
            parts.append(str(value))
        elif column == "transform" and value != "none":
            parts.append(f"|{value}")
        elif column == "consumer_rate_bps" and value:
            parts.append(f"@{format_bytes(value)}/s")
        elif column == "high_water_mark_bytes" and value:
            parts.append(f"hwm {format_bytes(value)}")
        elif column == MACHINE and value:
            parts.append(f"on {value}")
    return " ".join(parts)


def machine_limit(sink: str, cache: str, calibration: Mapping[str, Any] | None) -> tuple[float | None, str]:
    """(bytes/s, what it is) bounding a cell on this machine, or (None, why not)."""
    if not calibration:
        return None, "no calibration"
    key = LIMIT_KEYS.get(sink)
    if key is None:
        return None, f"no calibrated limit for sink {sink}"
    if key == "warm_read_bps" and cache == "cold":
        key = "cold_read_bps"
    value = calibration.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        return None, f"calibration has no {key}"
    return float(value), LIMIT_NAMES.get(key, key)


@dataclass(frozen=True)
class _Columns:
    """The numeric columns of the measured runs, as arrays (one extraction, many cells)."""

    ok: np.ndarray
    verified_true: np.ndarray
    verified_false: np.ndarray
    cache_bad: np.ndarray
    under_load: np.ndarray
    throughput: np.ndarray
    wall: np.ndarray
    outcome: np.ndarray
    index: np.ndarray
    medians: dict[str, np.ndarray]


def _median(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(np.median(finite)) if finite.size else math.nan


# The kinds of stability warning, in the order the summary lists them, with what they mean.
WARNING_KINDS = {
    "no value": "no successful run",
    "few runs": f"fewer than {MIN_REPEATS} successful runs: too few for a stable median",
    "unstable": f"unstable: the IQR is over {SPREAD_WARN_FRACTION:.0%} of the median",
    "outliers": "outlier runs beyond the Tukey fences (1.5 IQR; counted, kept)",
    "failed": "failed runs (counted, left out of timings)",
    "expected": "runs that ended as the scenario's claims expect (an oom at the cap): the answer, no failure",
    "not verified": "runs whose bytes did not verify",
    "cache": "runs whose cache state was not confirmed",
    "under load": "runs taken while other processes used the CPU (record's noise.other_cpu_s)",
}


def _warnings(
    runs: int,
    ok_runs: int,
    spread: float,
    outliers: int,
    failed: dict[str, int],
    unverified: int,
    cache_bad: int,
    under_load: int = 0,
) -> list[tuple[str, str]]:
    """(kind, text) pairs; the kinds are the keys of ``WARNING_KINDS``."""
    out: list[tuple[str, str]] = []
    if ok_runs == 0:
        out.append(("no value", "no successful run"))
    elif ok_runs < MIN_REPEATS:
        out.append(("few runs", f"only {ok_runs} successful run{'s' if ok_runs != 1 else ''}"))
    if spread > SPREAD_WARN_FRACTION:
        out.append(("unstable", f"IQR {spread:.0%} of the median"))
    if outliers:
        out.append(("outliers", f"{outliers} outlier run{'s' if outliers != 1 else ''} (kept)"))
    if failed:
        what = ", ".join(f"{n} {outcome}" for outcome, n in sorted(failed.items()))
        out.append(("failed", f"{sum(failed.values())} of {runs} runs failed ({what})"))
    if unverified:
        out.append(("not verified", f"{unverified} run{'s' if unverified != 1 else ''} not verified"))
    if cache_bad:
        out.append(("cache", f"cache state not confirmed in {cache_bad} run{'s' if cache_bad != 1 else ''}"))
    if under_load:
        out.append(("under load", f"{under_load} run{'s' if under_load != 1 else ''} taken under load"))
    return out


def cell_summary(df: pd.DataFrame, calibration: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per cell: counts, throughput quartiles and bootstrap CI, memory medians, warnings.

    ``representative`` is the frame index of the ok run closest to the median throughput
    (the first measured run when none is ok): the run a timeline chart shows.
    """
    if df.empty or not df["measured"].any():
        return pd.DataFrame(columns=["cell_id", *SUMMARY_COLUMNS])
    measured = df[df["measured"]]
    cols = _Columns(
        ok=measured["ok"].to_numpy(bool),
        verified_true=(measured["verified"].astype(object) == True).to_numpy(bool),  # noqa: E712 - elementwise
        verified_false=(measured["verified"].astype(object) == False).to_numpy(bool),  # noqa: E712 - elementwise
        cache_bad=(measured["cache_state_ok"].astype(object) == False).to_numpy(bool),  # noqa: E712
        under_load=measured["under_load"].to_numpy(bool),
        throughput=measured["throughput_bps"].to_numpy(float),
        wall=measured["wall_s"].to_numpy(float),
        outcome=measured["outcome"].to_numpy(object),
        index=measured.index.to_numpy(),
        medians={name: measured[col].to_numpy(float) for name, col in _MEDIAN_COLUMNS.items()},
    )
    groups = measured.groupby(["cell_id", *SUMMARY_COLUMNS], dropna=False, sort=False).indices
    rows: list[dict[str, Any]] = []
    for key, positions in groups.items():
        row: dict[str, Any] = dict(
            zip(["cell_id", *SUMMARY_COLUMNS], cast(tuple[Any, ...], key), strict=True)
        )
        rows.append(_cell_row(row, np.asarray(positions), cols, calibration))
    summary = pd.DataFrame(rows)
    summary["share_of_cat"] = reference_ratios(summary)
    # The stream doctor's reading of the cell: that of its representative run (the median one).
    readings = [_reading(df, rep) for rep in summary["representative"]]
    summary["diagnosis_bound"] = [r.get("bound", "-") for r in readings]
    summary["diagnosis_fault"] = [bool(r.get("fault")) for r in readings]
    summary["diagnosis_sentence"] = [str(r.get("sentence", "")) for r in readings]
    return summary.sort_values(
        [*SETTING_COLUMNS, "throughput_gbps_median", "strategy", "chunk_bytes"],
        ascending=[True] * len(SETTING_COLUMNS) + [False, True, True],
        na_position="last",
    ).reset_index(drop=True)


def _reading(df: pd.DataFrame, index: Any) -> dict[str, Any]:
    if "diagnosis" not in df:
        return {}
    value = df.at[index, "diagnosis"]
    return value if isinstance(value, dict) else {}


def _cell_row(
    row: dict[str, Any], positions: np.ndarray, cols: _Columns, calibration: Mapping[str, Any] | None
) -> dict[str, Any]:
    ok = cols.ok[positions]
    ok_pos = positions[ok]
    runs, ok_runs = int(positions.size), int(ok.sum())
    failed: dict[str, int] = {}
    for outcome in cols.outcome[positions[~ok]]:
        failed[str(outcome)] = failed.get(str(outcome), 0) + 1
    tput = cols.throughput[ok_pos]
    tput = tput[~np.isnan(tput)]
    q1, med, q3 = quartiles(tput)
    interval = median_interval(tput)
    ci_low, ci_high = interval.low, interval.high
    w_q1, _, w_q3 = quartiles(cols.wall[ok_pos])
    low_out, high_out = tukey_outliers(tput)
    spread = (q3 - q1) / med if med and med > 0 else 0.0
    unverified = int((cols.verified_false[positions] & ok).sum())
    cache_bad = int(cols.cache_bad[positions].sum())
    under_load = int(cols.under_load[positions].sum())
    if ok_pos.size and tput.size:
        ok_tput = cols.throughput[ok_pos]
        distance = np.where(np.isnan(ok_tput), np.inf, np.abs(ok_tput - med))
        representative = cols.index[ok_pos[int(np.argmin(distance))]]
    else:
        representative = cols.index[positions[0]]
    limit_bps, limit_name = machine_limit(str(row["sink"]), str(row["cache"]), calibration)
    row.update(
        label=cell_label(row),
        setting=setting_label(row),
        runs=runs,
        ok_runs=ok_runs,
        failed_runs=runs - ok_runs,
        verified_runs=int(cols.verified_true[positions].sum()),
        unverified_runs=unverified,
        cache_bad_runs=cache_bad,
        cache_state_ok=cache_bad == 0,
        under_load_runs=under_load,
        throughput_gbps_median=med / 1e9,
        throughput_gbps_q1=q1 / 1e9,
        throughput_gbps_q3=q3 / 1e9,
        throughput_gbps_iqr=(q3 - q1) / 1e9,
        throughput_gbps_ci_low=ci_low / 1e9,
        throughput_gbps_ci_high=ci_high / 1e9,
        ci_coverage=interval.coverage,
        ci_enough=interval.enough,
        ci_text=interval.describe(),
        throughput_gbps_min=float(tput.min()) / 1e9 if tput.size else math.nan,
        throughput_gbps_runs=[float(v) / 1e9 for v in tput],
        throughput_gbps_max=float(tput.max()) / 1e9 if tput.size else math.nan,
        spread=spread,
        wall_s_q1=w_q1,
        wall_s_iqr=w_q3 - w_q1,
        wall_s_q3=w_q3,
        outliers_low=low_out,
        outliers_high=high_out,
        limit_bps=limit_bps,
        limit_name=limit_name,
        share_of_limit=(med / limit_bps) if limit_bps else math.nan,
        representative=representative,
    )
    items = _warnings(runs, ok_runs, spread, low_out + high_out, failed, unverified, cache_bad, under_load)
    row["warnings"] = [text for _, text in items]
    row["warning_kinds"] = [kind for kind, _ in items]
    for name, values in cols.medians.items():
        row[f"{name}_median"] = _median(values[ok_pos])
    return row


def reference_ratios(summary: pd.DataFrame, reference: str = "cat") -> pd.Series:
    """Each cell's median throughput as a share of the reference tool's in the same setting.

    cat has no chunk size of its own: its cells are matched on everything else.
    """
    ref = summary[summary["strategy"] == reference]
    if ref.empty:
        return pd.Series([math.nan] * len(summary), index=summary.index, dtype=float)
    ref_by_setting = ref.groupby(SETTING_COLUMNS, dropna=False)["throughput_gbps_median"].median()
    idx = summary.set_index(SETTING_COLUMNS).index
    values = [ref_by_setting.get(i, math.nan) for i in idx]
    return summary["throughput_gbps_median"] / pd.Series(values, index=summary.index, dtype=float)


def classify_slope(slope: float) -> str:
    return complexity_label(slope)


def loglog_fit(sizes: Values, growth: Values) -> tuple[float, float]:
    """Least squares of log(growth floored at one page) on log(size): (slope, intercept), natural logs."""
    return scaling.loglog_fit(np.asarray(sizes, dtype=float), np.asarray(growth, dtype=float), PAGE_BYTES)


def memory_scaling(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Per strategy and fixed setting, over >= 2 sizes: slope of peak-over-baseline vs size.

    One point per size (the cell's median growth over its baseline RSS).
    """
    out: list[dict[str, Any]] = []
    if summary.empty:
        return out
    usable = summary[summary["peak_rss_over_baseline_bytes_median"].notna() & (summary["size_bytes"] > 0)]
    for key, group in usable.groupby(SIZE_SWEEP_COLUMNS, dropna=False, sort=True):
        by_size = group.groupby("size_bytes")["peak_rss_over_baseline_bytes_median"].median()
        if len(by_size) < 2:
            continue
        slope, intercept = loglog_fit(by_size.index.to_numpy(float), by_size.to_numpy(float))
        fields = dict(zip(SIZE_SWEEP_COLUMNS, key, strict=True))
        out.append(
            {
                **fields,
                "group": sweep_label(fields, [c for c in SIZE_SWEEP_COLUMNS if c != "strategy"]),
                "sizes": [int(s) for s in by_size.index],
                "growth": [float(g) for g in by_size.to_numpy(float)],
                "slope": slope,
                "intercept": intercept,
                "complexity": classify_slope(slope),
            }
        )
    return out


def chunk_knees(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Per cell minus the chunk size, over >= 2 chunk sizes: the smallest chunk within 95% of the best."""
    out: list[dict[str, Any]] = []
    if summary.empty:
        return out
    usable = summary[summary["throughput_gbps_median"].notna() & (summary["chunk_bytes"] > 0)]
    for key, group in usable.groupby(CHUNK_SWEEP_COLUMNS, dropna=False, sort=True):
        by_chunk = group.groupby("chunk_bytes")["throughput_gbps_median"].median().sort_index()
        if len(by_chunk) < 2:
            continue
        best = float(by_chunk.max())
        knee = int(by_chunk.index[by_chunk.to_numpy(float) >= KNEE_SHARE * best][0])
        fields = dict(zip(CHUNK_SWEEP_COLUMNS, key, strict=True))
        out.append(
            {
                **fields,
                "setting": setting_label(fields),
                "chunks": [int(c) for c in by_chunk.index],
                "throughput_gbps": [float(v) for v in by_chunk.to_numpy(float)],
                "best_gbps": best,
                "best_chunk_bytes": int(cast(int, by_chunk.idxmax())),
                "knee_chunk_bytes": knee,
                "knee_gbps": float(by_chunk[knee]),
            }
        )
    return out


def pareto_front(memory: Values, throughput: Values) -> np.ndarray:
    """Mask of the points no other point beats on both (less memory, more throughput)."""
    m = np.asarray(memory, dtype=float)
    t = np.asarray(throughput, dtype=float)
    if m.size == 0:
        return np.zeros(0, dtype=bool)
    no_worse = (m[None, :] <= m[:, None]) & (t[None, :] >= t[:, None])
    better = (m[None, :] < m[:, None]) | (t[None, :] > t[:, None])
    dominated = (no_worse & better).any(axis=1)
    return np.asarray(~dominated & ~np.isnan(m) & ~np.isnan(t))


def _ranked_settings(summary: pd.DataFrame) -> Iterator[tuple[Any, pd.DataFrame]]:
    """Per setting (its key), the cells with a throughput, fastest first (ties by strategy name)."""
    if summary.empty:
        return
    ranked = summary[summary["throughput_gbps_median"].notna()]
    for key, group in ranked.groupby(SETTING_COLUMNS, dropna=False, sort=True):
        yield key, group.sort_values(["throughput_gbps_median", "strategy"], ascending=[False, True])


def best_per_setting(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Per setting (workload, size, sink, ...): the cell with the best median throughput and the
    runner-up (``judge_pair`` says whether the lead is decided)."""
    out: list[dict[str, Any]] = []
    for _, ordered in _ranked_settings(summary):
        best = ordered.iloc[0].to_dict()
        runner_up = ordered.iloc[1].to_dict() if len(ordered) > 1 else None
        out.append({"best": best, "runner_up": runner_up, "cells": len(ordered)})
    return out


def judge_pair(above: Mapping[str, Any], below: Mapping[str, Any], tie_fraction: float = TIE_FRACTION) -> str:
    """``decided``, ``tie`` or ``undecided`` for two summary rows (``above`` the faster), by the one
    decision rule ``--repeat auto`` stops on and ``compare`` gates on (:mod:`harness.common.decision`)."""
    ch = change(below["throughput_gbps_runs"] or [], above["throughput_gbps_runs"] or [])
    verdict = judge(ch, tie_fraction, higher_is_better=True)
    return {"better": "decided", "worse": "decided", "same": "tie"}.get(verdict, "undecided")


def ranking_per_setting(summary: pd.DataFrame, max_rows: int = 12) -> list[dict[str, Any]]:
    """Per setting: its strategies ranked by median throughput (each at its best chunk size), each
    judged against the one below it (``judge_pair``); ``rows`` holds at most ``max_rows``.

    ``status`` of a setting is that of its first place: decided when the best is decidedly ahead of
    the runner-up, else tie or undecided (one strategy alone: ``alone``)."""
    out: list[dict[str, Any]] = []
    for key, ordered in _ranked_settings(summary):
        best_per_strategy = cast(
            list[dict[str, Any]], ordered.drop_duplicates("strategy").to_dict(orient="records")
        )
        for above, below in itertools.pairwise(best_per_strategy):
            above["vs_next"] = judge_pair(above, below)
            above["next_strategy"] = below["strategy"]
        first = best_per_strategy[0]
        out.append(
            {
                "fields": dict(zip(SETTING_COLUMNS, cast(tuple[Any, ...], key), strict=True)),
                "setting": first["setting"],
                "status": first.get("vs_next", "alone"),
                "chunks": int(ordered["chunk_bytes"].nunique()),
                "strategies": len(best_per_strategy),
                "rows": best_per_strategy[:max_rows],
                "more": max(0, len(best_per_strategy) - max_rows),
                "cells": ordered,
            }
        )
    return out
