"""pytest-benchmark JSON <-> streambench records, both ways (pure: dicts in, dicts out).

- ``to_pytest_benchmark(records, meta)``: one benchmark per cell, its ``stats`` computed by
  pytest-benchmark's own ``Stats`` over the wall times of the successful measured runs, the
  cell's fields as ``params``, and every record of the cell (warm-ups and failures too) kept
  in ``extra_info["streambench_records"]``, so a file converted back loses nothing. Cells
  without a successful run have no timing, so pytest-benchmark cannot hold them: they are
  left out and named in ``machine_info["streambench_cells_without_timing"]``.
- ``records_from_pytest_benchmark(obj)``: the reverse. A benchmark carrying
  ``streambench_records`` (ours, or the ``streambench_cell`` fixture's) gives those records;
  any other benchmark gives one record per timed round (``stats.data``; the median alone
  when the file was saved without data): strategy = the test's name, workload = its group,
  ``bytes_moved`` from ``extra_info["bytes_moved"]`` when present (else no throughput).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_benchmark import __version__ as PYTEST_BENCHMARK_VERSION
from pytest_benchmark.stats import Stats

from streambench.harness.results.identity import cell_key
from streambench.harness.results.record import Record
from streambench.reports.frame import normalise_record
from streambench.reports.stats import cell_label

RECORDS_KEY = "streambench_records"


def is_pytest_benchmark(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("benchmarks"), list) and "machine_info" in obj


def _stats(values: Sequence[float]) -> dict[str, Any]:
    # pytest-benchmark's own statistics (its quartile method, its outlier counts): exact format.
    stats = Stats()  # type: ignore[no-untyped-call]
    for value in values:
        stats.update(value)  # type: ignore[no-untyped-call]
    out: dict[str, Any] = stats.as_dict()  # type: ignore[no-untyped-call]
    out["data"] = list(values)
    out["iterations"] = 1
    return out


def to_pytest_benchmark(records: Sequence[Record], meta: Mapping[str, Any]) -> dict[str, Any]:
    """A valid pytest-benchmark JSON document (as a dict) for a run's records."""
    by_cell: dict[str, list[Record]] = {}
    for record in records:
        by_cell.setdefault(record.cell_id, []).append(record)
    benchmarks: list[dict[str, Any]] = []
    without_timing: list[str] = []
    for cell_id, cell_records in by_cell.items():
        normal = [normalise_record(r) for r in cell_records]
        first = normal[0]
        label = cell_label(first)
        # Timed runs only: not warm-ups, not profiler passes, not failures.
        timed = [r for r in normal if not r["warmup"] and r["profiler"] is None and r["outcome"] == "ok"]
        walls = [
            float(r["wall_s"]) for r in timed if isinstance(r.get("wall_s"), int | float) and r["wall_s"] > 0
        ]
        if not walls:
            without_timing.append(label)
            continue
        moved = [float(r["bytes_moved"]) for r in timed if isinstance(r.get("bytes_moved"), int | float)]
        extra: dict[str, Any] = {
            "cell_id": cell_id,
            "label": label,
            "bytes_moved": max(moved) if moved else None,
            RECORDS_KEY: [r.to_dict() for r in cell_records],
        }
        benchmarks.append(
            {
                "group": f"{first['workload']} -> {first['sink']}",
                "name": f"streambench[{label}]",
                "fullname": f"streambench::{cell_id}",
                "params": cell_key(first),
                "param": cell_id,
                "extra_info": extra,
                "options": {
                    "disable_gc": False,
                    "timer": "streambench worker wall_s",
                    "min_rounds": len(walls),
                    "max_time": None,
                    "min_time": None,
                    "precision": None,
                    "confidence": None,
                    "warmup": any(r["warmup"] for r in normal),
                },
                "stats": _stats(walls),
            }
        )
    machine = meta.get("machine") if isinstance(meta.get("machine"), dict) else {}
    assert isinstance(machine, dict)
    machine_info: dict[str, Any] = {
        "node": machine.get("hostname", ""),
        "processor": machine.get("cpu_model", ""),
        "machine": "",
        "python_compiler": "",
        "python_implementation": machine.get("python_implementation", ""),
        "python_implementation_version": machine.get("python", ""),
        "python_version": machine.get("python", ""),
        "python_build": [],
        "release": machine.get("kernel", ""),
        "system": "Linux",
        "cpu": {"brand_raw": machine.get("cpu_model", ""), "count": machine.get("cpu_count")},
        "streambench_run": {k: v for k, v in meta.items() if k not in ("cells", "machine")},
        "streambench_machine": machine,
        "streambench_cells_without_timing": without_timing,
    }
    commit = meta.get("commit_info") if isinstance(meta.get("commit_info"), dict) else None
    return {
        "machine_info": machine_info,
        "commit_info": commit
        or {
            "id": None,
            "time": None,
            "author_time": None,
            "dirty": None,
            "project": "streambench",
            "branch": None,
        },
        "benchmarks": benchmarks,
        "datetime": str(meta.get("finished_at_utc") or meta.get("started_at_utc") or ""),
        "version": PYTEST_BENCHMARK_VERSION,
    }


def meta_from_pytest_benchmark(obj: Mapping[str, Any]) -> dict[str, Any]:
    """run.json-like metadata for a pytest-benchmark file (ours gives the original back)."""
    machine_info = obj.get("machine_info") if isinstance(obj.get("machine_info"), dict) else {}
    assert isinstance(machine_info, dict)
    run = machine_info.get("streambench_run")
    if isinstance(run, dict):
        meta = dict(run)
        meta["machine"] = machine_info.get("streambench_machine", {})
        return meta
    commit = obj.get("commit_info") if isinstance(obj.get("commit_info"), dict) else {}
    assert isinstance(commit, dict)
    datetime = str(obj.get("datetime", ""))
    return {
        "run_id": f"pytest-benchmark {datetime}".strip(),
        "started_at_utc": datetime,
        "machine": {k: v for k, v in machine_info.items() if not isinstance(v, dict | list)},
        "config": {
            "source": "pytest-benchmark JSON",
            "pytest_benchmark_version": obj.get("version"),
            "commit": commit.get("id"),
            "branch": commit.get("branch"),
        },
        "notes": [],
    }


def records_from_pytest_benchmark(obj: Any) -> list[dict[str, Any]]:
    """Records for every benchmark of a pytest-benchmark JSON document (see the module doc).

    Raises ``ValueError`` on a document that is not pytest-benchmark JSON.
    """
    if not is_pytest_benchmark(obj):
        raise ValueError("not pytest-benchmark JSON (no 'benchmarks' list and 'machine_info')")
    run_id = f"pytest-benchmark {obj.get('datetime', '')}".strip()
    records: list[dict[str, Any]] = []
    for number, bench in enumerate(obj["benchmarks"], start=1):
        if not isinstance(bench, dict):
            raise ValueError(f"benchmark #{number} is not an object")
        extra = bench.get("extra_info") if isinstance(bench.get("extra_info"), dict) else {}
        assert isinstance(extra, dict)
        ours = extra.get(RECORDS_KEY)
        if isinstance(ours, list) and all(isinstance(r, dict) for r in ours):
            records.extend(ours)
            continue
        records.extend(_foreign_records(bench, extra, run_id, number))
    return records


def _foreign_records(
    bench: dict[str, Any], extra: dict[str, Any], run_id: str, number: int
) -> list[dict[str, Any]]:
    stats = bench.get("stats")
    if not isinstance(stats, dict):
        raise ValueError(f"benchmark #{number} ({bench.get('name', '?')}) has no stats")
    data = stats.get("data")
    values: list[float]
    if isinstance(data, list) and data:
        values = [float(v) for v in data if isinstance(v, int | float)]
    elif isinstance(stats.get("median"), int | float):
        values = [float(stats["median"])]
    else:
        raise ValueError(f"benchmark #{number} ({bench.get('name', '?')}) has neither data nor a median")
    moved = extra.get("bytes_moved")
    base: dict[str, Any] = {
        "run_id": run_id,
        "strategy": str(bench.get("name") or bench.get("fullname") or f"benchmark-{number}"),
        "workload": str(bench.get("group") or "pytest-benchmark"),
        "size_bytes": int(extra["size_bytes"]) if isinstance(extra.get("size_bytes"), int) else 0,
        "sink": str(extra.get("sink", "-")),
        "chunk_bytes": int(extra["chunk_bytes"]) if isinstance(extra.get("chunk_bytes"), int) else 0,
        "warmup": False,
        "outcome": "ok",
        "verified": None,
        "verify_detail": "not checked (pytest-benchmark)",
        "bytes_moved": float(moved) if isinstance(moved, int | float) and not math.isnan(moved) else 0,
        "strategy_notes": {
            "pytest_benchmark": {"fullname": bench.get("fullname"), "params": bench.get("params")}
        },
    }
    return [{**base, "repeat": i, "wall_s": value} for i, value in enumerate(values)]
