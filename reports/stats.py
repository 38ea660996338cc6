"""Per-cell statistics over measured (non-warm-up) runs."""

from __future__ import annotations

import pandas as pd

from reports.frame import CELL_COLUMNS


def cell_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: medians of the measured runs, counts, verification."""
    if df.empty:
        return df
    measured = df[~df["warmup"].astype(bool)]
    grouped = measured.groupby(["cell_id", *CELL_COLUMNS], dropna=False, sort=False)
    summary = grouped.agg(
        runs=("repeat", "size"),
        ok_runs=("outcome", lambda s: int((s == "ok").sum())),
        verified_runs=("verified", lambda s: int(s.astype(bool).sum())),
        throughput_gbps_median=("throughput_gbps", "median"),
        throughput_gbps_min=("throughput_gbps", "min"),
        throughput_gbps_max=("throughput_gbps", "max"),
        wall_s_median=("wall_s", "median"),
        cpu_s_median=("cpu_s", "median"),
        sys_s_median=("strategy_sys_s", "median"),
        peak_rss_bytes_median=("peak_rss_bytes", "median"),
        peak_rss_over_baseline_bytes_median=("peak_rss_over_baseline_bytes", "median"),
        peak_rss_anon_bytes_median=("peak_rss_anon_bytes", "median"),
        peak_rss_file_bytes_median=("peak_rss_file_bytes", "median"),
        ttfb_s_median=("ttfb_s", "median"),
        cache_state_ok=("cache_state_ok", lambda s: bool(s.fillna(False).astype(bool).all())),
    ).reset_index()
    return summary.sort_values(
        ["workload", "size_bytes", "sink", "throughput_gbps_median"], ascending=[True, True, True, False]
    ).reset_index(drop=True)


def reference_ratios(summary: pd.DataFrame, reference: str = "cat") -> pd.Series:
    """Each cell's median throughput as a share of the reference tool's in the same setting."""
    keys = ["workload", "size_bytes", "sink", "chunk_bytes", "cache", "dest"]
    ref = summary[summary["strategy"] == reference].set_index(keys)["throughput_gbps_median"]
    if ref.empty:
        # cat has no chunk size of its own: match on everything else.
        return pd.Series([float("nan")] * len(summary), index=summary.index)
    ref_by_setting = ref.groupby(level=[k for k in keys if k != "chunk_bytes"]).median()
    idx = summary.set_index([k for k in keys if k != "chunk_bytes"]).index
    values = [ref_by_setting.get(i, float("nan")) for i in idx]
    return summary["throughput_gbps_median"] / pd.Series(values, index=summary.index)
