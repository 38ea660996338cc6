"""Exporters: records in, bytes out (the caller decides where they go).

``csv`` and ``parquet`` hold one row per record: every scalar field as is, the
``io`` counters as ``io_<name>`` columns, other nested values (timelines, notes,
sink details, profiles) as JSON text, plus the derived ``throughput_gbps``.
``pytest-benchmark`` is the JSON of ``reports.pytest_benchmark.to_pytest_benchmark``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from streambench.harness.results.record import Record
from streambench.reports.export_formats import FORMATS  # noqa: F401 - re-exported
from streambench.reports.frame import records_to_frame
from streambench.reports.pytest_benchmark import to_pytest_benchmark

_DERIVED = ("measured", "ok", "throughput_bps", "peak_rss_over_baseline_bytes", "cpu_s")


class MissingDependency(RuntimeError):
    """An optional package the format needs is not installed."""


def export_frame(records: Sequence[Record]) -> pd.DataFrame:
    """One flat row per record (see the module doc)."""
    df = records_to_frame(records)
    if df.empty:
        return df
    df = df.drop(columns=[c for c in _DERIVED if c in df.columns])
    if "io" in df.columns:
        counters = pd.json_normalize([v if isinstance(v, dict) else {} for v in df["io"]]).add_prefix("io_")
        counters.index = df.index
        df = pd.concat([df.drop(columns=["io"]), counters], axis=1)
    for column in df.columns:
        if df[column].map(lambda v: isinstance(v, dict | list)).any():
            df[column] = df[column].map(
                lambda v: json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict | list) else v
            )
    return df


def to_csv_bytes(records: Sequence[Record], meta: Mapping[str, Any]) -> bytes:
    del meta  # a CSV has nowhere to keep it
    return export_frame(records).to_csv(index=False).encode()


def to_parquet_bytes(records: Sequence[Record], meta: Mapping[str, Any]) -> bytes:
    """Parquet (needs pyarrow); run.json travels in the file's metadata as ``streambench.run``."""
    try:
        import pyarrow as pa  # type: ignore[import-untyped, import-not-found, unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise MissingDependency("parquet export needs pyarrow: pip install pyarrow") from None
    table = pa.Table.from_pandas(export_frame(records), preserve_index=False)
    existing = table.schema.metadata or {}
    table = table.replace_schema_metadata(
        {**existing, b"streambench.run": json.dumps(meta, default=str).encode()}
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def to_pytest_benchmark_bytes(records: Sequence[Record], meta: Mapping[str, Any]) -> bytes:
    return json.dumps(to_pytest_benchmark(records, meta), indent=2, default=str).encode()


EXPORTERS: dict[str, Callable[[Sequence[Record], Mapping[str, Any]], bytes]] = {
    "parquet": to_parquet_bytes,
    "csv": to_csv_bytes,
    "pytest-benchmark": to_pytest_benchmark_bytes,
}
