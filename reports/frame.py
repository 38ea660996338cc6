"""Records -> pandas DataFrame, with derived columns computed in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

CELL_COLUMNS = ["strategy", "workload", "size_bytes", "sink", "chunk_bytes", "cache", "dest"]


def records_to_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(list(records))
    if df.empty:
        return df
    # Throughput in GB/s (10^9, like dd and the field notes) over the worker's wall time.
    wall = pd.to_numeric(df["wall_s"], errors="coerce")
    df["throughput_gbps"] = (df["bytes_moved"] / wall / 1e9).where(df["outcome"] == "ok")
    df["peak_rss_over_baseline_bytes"] = df["peak_rss_bytes"] - df["baseline_rss_bytes"]
    df["cpu_s"] = df["strategy_user_s"] + df["strategy_sys_s"]
    return df
