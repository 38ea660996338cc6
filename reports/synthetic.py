"""Deterministic synthetic runs: records with the shape of real ones, for benchmarks and fixtures.

Each strategy has a throughput and a memory model (whole-file holds the file, a copy
loop one chunk, mmap maps the file, ...); runs get lognormal noise from a seeded
generator, so the same arguments always give the same records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streambench.reports.frame import cell_id_for

MiB = 1 << 20
# strategy -> (GB/s into a null sink at 64 KiB, chunk-size sensitivity, memory model)
PROFILES: dict[str, tuple[float, float, str]] = {
    "whole-file": (1.2, 0.0, "size"),
    "pipe": (3.0, 0.25, "chunk"),
    "pause-drain": (3.2, 0.2, "2chunk"),
    "mmap": (3.5, 0.05, "file"),
    "readinto": (2.8, 0.3, "chunk"),
    "unbounded": (2.0, 0.1, "quarter"),
    "cat": (2.5, 0.0, "none"),
}
SINK_FACTOR = {"null": 1.0, "file": 0.8, "tcp": 0.6}
BASELINE_ANON = 14 * MiB
BASELINE_FILE = 11 * MiB


def _growth(model: str, size: int, chunk: int) -> tuple[int, int]:
    """(anon, file-backed) growth over the baseline."""
    return {
        "size": (size, 0),
        "chunk": (chunk, 0),
        "2chunk": (2 * chunk, 0),
        "file": (64 << 10, size),
        "quarter": (size // 4, 0),
        "none": (0, 0),
    }[model]


def synthetic_run(
    strategies: Sequence[str] = tuple(PROFILES),
    sizes: Sequence[int] = (8 * MiB, 32 * MiB),
    sinks: Sequence[str] = ("null", "tcp"),
    chunks: Sequence[int] = (64 << 10, 1 << 20),
    caches: Sequence[str] = ("warm",),
    repeat: int = 3,
    warmup: int = 1,
    seed: int = 0,
    run_id: str = "20260101-000000-synt",
    timeline_points: int = 40,
    noise: float = 0.04,
    speed: Mapping[str, float] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(run.json-like meta, records) for the product of the axes, rounds interleaved like the runner's.

    ``speed``: strategy -> a factor on its throughput (a planted regression or improvement)."""
    rng = np.random.default_rng(seed)
    cells: list[dict[str, Any]] = []
    for size in sizes:
        for strategy in strategies:
            for sink in sinks:
                for chunk in chunks:
                    for cache in caches:
                        key = {
                            "strategy": strategy,
                            "workload": "video",
                            "size_bytes": int(size),
                            "seed": 0,
                            "sink": sink,
                            "chunk_bytes": int(chunk),
                            "cache": cache,
                            "dest": "existing" if sink == "file" else "-",
                            "transform": "none",
                            "consumer_rate_bps": 0,
                            "high_water_mark_bytes": 0,
                        }
                        cells.append({"cell_id": cell_id_for(key), **key})
    records: list[dict[str, Any]] = []
    rounds = [(w, True) for w in range(warmup)] + [(r, False) for r in range(repeat)]
    for index, is_warmup in rounds:
        for cell in cells:
            factor = (speed or {}).get(str(cell["strategy"]), 1.0)
            records.append(_record(cell, index, is_warmup, rng, run_id, timeline_points, noise, factor))
    meta = {
        "run_id": run_id,
        "started_at_utc": "2026-01-01T00:00:00Z",
        "finished_at_utc": "2026-01-01T00:10:00Z",
        "argv": ["run", "--synthetic"],
        "config": {"repeat": repeat, "warmup": warmup, "rss_sample_interval_s": 0.01, "timeout_s": 600.0},
        "cells": cells,
        "skipped_cells": [],
        "machine": {"hostname": "synthetic", "cpu_count": 2, "kernel": "6.0", "python": "3.11.7"},
    }
    return meta, records


SLICE_S = 0.01


def _delivered(size: int, wall: float) -> list[list[float]]:
    """The receiver's 10 ms slices over the run: a steady rate, a deterministic wobble, summing to size."""
    n = max(1, int(np.ceil(wall / SLICE_S)))
    weights = 1.0 + 0.15 * np.sin(np.arange(n) * 0.7)
    counts = np.floor(weights / weights.sum() * size).astype(np.int64)
    counts[-1] += size - int(counts.sum())
    return [[round((k + 1) * SLICE_S, 6), int(c)] for k, c in enumerate(counts)]


def _record(
    cell: dict[str, Any],
    index: int,
    warmup: bool,
    rng: np.random.Generator,
    run_id: str,
    points: int,
    noise: float,
    factor: float = 1.0,
) -> dict[str, Any]:
    strategy, size, chunk = cell["strategy"], int(cell["size_bytes"]), int(cell["chunk_bytes"])
    base_gbps, sensitivity, model = PROFILES.get(strategy, (2.0, 0.1, "chunk"))
    gbps = base_gbps * SINK_FACTOR.get(cell["sink"], 1.0) * (chunk / (64 << 10)) ** sensitivity
    gbps = min(gbps, 6.0) * (0.5 if cell["cache"] == "cold" else 1.0)
    gbps *= float(rng.lognormal(0.0, noise)) * (0.8 if warmup else 1.0) * factor
    wall = size / (gbps * 1e9)
    anon, file = _growth(model, size, chunk)
    t = np.linspace(-0.02, wall + 0.01, points)
    ramp = np.clip(t / wall, 0.0, 1.0)
    timeline = [
        [round(float(ti), 4), float(BASELINE_ANON + anon * r), float(BASELINE_FILE + file * r)]
        for ti, r in zip(t, ramp, strict=True)
    ]
    queue = model in ("2chunk", "quarter")
    held = 2 * chunk if model == "2chunk" else size // 4
    buffered = (
        [[round(float(ti), 4), float(held * abs(np.sin(ti * 400)))] for ti in t[(t >= 0) & (t <= wall)]]
        if queue
        else []
    )
    delivered = _delivered(size, wall)
    digest = hashlib.sha256(json.dumps([cell["cell_id"], index, warmup]).encode()).hexdigest()[:6]
    return {
        "run_id": run_id,
        **cell,
        "repeat": index,
        "warmup": warmup,
        "outcome": "ok",
        "error": None,
        "wall_s": wall,
        "user_s": 0.05 + wall * 0.2,
        "sys_s": wall * 0.6,
        "strategy_user_s": wall * 0.2,
        "strategy_sys_s": wall * 0.5,
        "ttfb_s": 0.0005,
        "sink_last_byte_s": wall * 1.01,
        "peak_rss_bytes": BASELINE_ANON + BASELINE_FILE + anon + file,
        "baseline_rss_bytes": BASELINE_ANON + BASELINE_FILE,
        "peak_rss_anon_bytes": BASELINE_ANON + anon,
        "peak_rss_file_bytes": BASELINE_FILE + file,
        "baseline_rss_anon_bytes": BASELINE_ANON,
        "baseline_rss_file_bytes": BASELINE_FILE,
        "peak_rss_method": "VmHWM after clear_refs",
        "rss_sample_interval_s": 0.01,
        "rss_timeline": timeline,
        "bytes_moved": size,
        "bytes_received": size,
        "verified": True,
        "verify_detail": "size and xxh3-64 match",
        "io": {"rchar": size, "wchar": size, "syscr": size // chunk, "syscw": size // chunk},
        "chunks": size // chunk,
        "largest_chunk_bytes": chunk,
        "pauses": int(size // chunk // 8) if queue else None,
        "drains": int(size // chunk // 8) if queue else None,
        "max_buffered_bytes": held if queue else None,
        "buffered_timeline": buffered,
        "delivered_timeline": delivered,
        "delivered_slice_s": SLICE_S,
        "sink_detail": {"synthetic": digest},
        "resident_bytes_before": size if cell["cache"] == "warm" else 0,
        "resident_method": "cachestat",
        "cache_state_ok": True,
        "started_at_utc": "2026-01-01T00:00:00Z",
        "strategy_notes": {},
        "schema_version": 2,
    }
