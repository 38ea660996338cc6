"""Records -> pandas DataFrame, with derived columns computed in one place.

Records arrive as :class:`harness.results.record.Record`: every field present and typed, older
schemas already upgraded (``Record.from_json``, the one place). Here they become rows, with the
columns the reports derive from them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from streambench.harness.results.identity import CELL_DEFAULTS, cell_id, cell_key
from streambench.harness.results.record import Record
from streambench.reports.work import COUNTERS, per_mib

# The fields that make a cell (harness.results.identity, shared with the plan's Cell).
CELL_COLUMNS = list(CELL_DEFAULTS)

NUMERIC_COLUMNS = (
    "wall_s",
    "user_s",
    "sys_s",
    "strategy_user_s",
    "strategy_sys_s",
    "ttfb_s",
    "sink_last_byte_s",
    "peak_rss_bytes",
    "baseline_rss_bytes",
    "peak_rss_anon_bytes",
    "peak_rss_file_bytes",
    "baseline_rss_anon_bytes",
    "baseline_rss_file_bytes",
    "bytes_moved",
    "bytes_received",
    "pauses",
    "drains",
    "max_buffered_bytes",
    "resident_bytes_before",
    "workload_records",
    "delivered_slice_s",
)

# One page: the floor of a memory growth on a log axis (a strategy that grew by
# nothing still has a point to draw and a slope to fit).
PAGE_BYTES = 4096


def cell_id_for(key: dict[str, Any]) -> str:
    """The same stable id as ``harness.plan.config.Cell.cell_id`` for the same cell fields."""
    return cell_id(cell_key({**CELL_DEFAULTS, **key}))


def normalise_record(record: Record) -> dict[str, Any]:
    """A record as a row: its fields, and ``under_load`` (other processes used the CPU during it)."""
    row = record.to_dict()
    if not row["cell_id"]:
        row["cell_id"] = cell_id(cell_key(row))
    # Records before schema 7 cannot say: False.
    row["under_load"] = bool(record.noise.get("under_load"))
    for name in COUNTERS:  # the work counters per MiB moved, as compare and claims weigh them
        value = per_mib(record.io, record.bytes_moved, name)
        row[name] = math.nan if value is None else value
    return row


def machine_labels(df: pd.DataFrame) -> pd.Series:
    """Per record, the machine it ran on, by hostname; "" when the records come from one machine
    (or say nothing of it: before schema 9), so a one-machine report reads as before."""
    machines = df["machine"] if "machine" in df else pd.Series([None] * len(df), index=df.index)
    ids = [str(m.get("machine_id", "")) if isinstance(m, dict) else "" for m in machines]
    if len(set(ids)) <= 1:
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    hosts = {
        i: str(m.get("hostname", "?")) for i, m in zip(ids, machines, strict=True) if isinstance(m, dict)
    }
    same_name = {h for h in hosts.values() if list(hosts.values()).count(h) > 1}
    labels = {i: (f"{h} ({i[:8]})" if h in same_name else h) for i, h in hosts.items()}
    return pd.Series([labels.get(i, "unknown machine") for i in ids], index=df.index, dtype=object)


def records_to_frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per record (non-object lines are ignored), plus derived columns.

    Derived: ``measured`` (neither a warm-up nor a profiler pass), ``ok`` (outcome ok), ``strategy``
    shown with the runtime its cell named (``node-pipe [bun]``),
    ``machine_label`` (the machine's hostname when the records come from more than one), ``throughput_bps``
    and ``throughput_gbps`` (bytes moved over the worker's wall time, only for ok
    runs that moved bytes, never for browser runs), ``records_per_s`` (the same for the workload's
    records, text kinds only), ``peak_rss_over_baseline_bytes``, ``cpu_s``.
    """
    rows = [normalise_record(r) for r in records]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for column in NUMERIC_COLUMNS:
        df[column] = pd.to_numeric(df[column], errors="coerce").astype(float)
    df["measured"] = ~df["warmup"].astype(bool) & df["profiler"].isna()
    df["ok"] = df["outcome"] == "ok"
    wall = df["wall_s"].to_numpy(float)
    moved = df["bytes_moved"].to_numpy(float)
    # A browser run lasts as long as its player's script (play, seek, watch), whatever it moved:
    # bytes over that time is no throughput.
    timed = df["ok"].to_numpy() & (df["sink"] != "browser").to_numpy()  # a browser run plays for a set time
    with np.errstate(divide="ignore", invalid="ignore"):
        bps = np.where(timed & (wall > 0) & (moved > 0), moved / wall, np.nan)
    df["throughput_bps"] = bps
    df["throughput_gbps"] = bps / 1e9
    # Records (rows, lines, objects) per second, for the kinds that have records (binary kinds say 0).
    records = df["workload_records"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["records_per_s"] = np.where(timed & (wall > 0) & (records > 0), records / wall, np.nan)
    df["machine_label"] = machine_labels(df)
    df["peak_rss_over_baseline_bytes"] = df["peak_rss_bytes"] - df["baseline_rss_bytes"]
    df["cpu_s"] = df["strategy_user_s"] + df["strategy_sys_s"]
    # A strategy on a runtime its cell named is shown as such everywhere (node-pipe [bun]); the cell's
    # identity keeps both columns apart.
    named = df["cell_runtime"].fillna("").astype(str)
    df["strategy"] = np.where(named != "", df["strategy"].astype(str) + " [" + named + "]", df["strategy"])
    return df
