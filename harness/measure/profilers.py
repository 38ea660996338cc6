"""Python's profiler hooks: memray (memory) and py-spy (CPU) as extra passes around a cell's run.

The Python runtime (:mod:`harness.runtimes.python`) asks these; another runtime brings its own.

A hook never runs inside a timed run: profiled passes are planned after every
measured run, and their records carry ``profiler`` so statistics leave them out.
Each hook has three small parts: what it adds to the worker's command line or
job, and how it summarises its artifacts afterwards (in the parent).

Artifacts live under ``RUN_DIR/profiles/<cell-id>/`` with stable names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILE_KINDS = ("memory", "cpu")
# The passes each kind plans: cpu runs twice, with py-spy's idle samples
# (speedscope, for the summary) and without (an SVG flamegraph of on-CPU time).
PASSES: dict[str, tuple[str, ...]] = {"memory": ("memory",), "cpu": ("cpu", "cpu-flamegraph")}
ARTIFACTS = {
    "memory": {
        "capture": "memray.bin",
        "flamegraph_html": "memray-flamegraph.html",
        "table_html": "memray-table.html",
    },
    "cpu": {"speedscope_json": "pyspy.speedscope.json"},
    "cpu-flamegraph": {"flamegraph_svg": "pyspy-flamegraph.svg"},
}
TOP_N = 10
SNAPSHOT_MAX_POINTS = 200
# Strategies that run more than one thread: py-spy must not pause them all.
THREADED_STRATEGIES = ("threaded", "unbounded", "async")


@dataclass(frozen=True)
class ProfileSettings:
    kinds: tuple[str, ...] = ()
    rate_hz: int = 100


def profiles_dir(run_dir: Path, cell_id: str) -> Path:
    path = run_dir / "profiles" / cell_id
    # Cell ids are made path-safe; this makes sure of it where it matters.
    if path.resolve().parent != (run_dir / "profiles").resolve():
        raise ValueError(f"cell id {cell_id!r} is not a single safe path component")
    return path


def py_spy_path() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def unavailable_reason(kind: str) -> str | None:
    """Why a profiler cannot run here, with what to do; None when it can."""
    if kind == "memory":
        try:
            import memray  # noqa: F401
        except ImportError as exc:
            return f"memray cannot be imported ({exc}); pip install memray (Linux/macOS, CPython)"
        return None
    spy = py_spy_path()
    if spy is None:
        return "py-spy is not installed; pip install py-spy"
    try:
        subprocess.run([spy, "--version"], capture_output=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"py-spy does not run here ({exc})"
    return None


def worker_argv(
    pass_name: str, worker_argv: list[str], out_dir: Path, strategy: str, rate_hz: int
) -> list[str]:
    """The command for a pass: the worker itself, or the worker launched under py-spy."""
    if not pass_name.startswith("cpu"):
        return worker_argv
    spy = py_spy_path() or "py-spy"
    argv = [spy, "record", "--rate", str(rate_hz), "--function"]
    if pass_name == "cpu":
        argv += ["--idle", "--format", "speedscope", "-o", str(out_dir / ARTIFACTS["cpu"]["speedscope_json"])]
    else:
        argv += ["--format", "flamegraph", "-o", str(out_dir / ARTIFACTS["cpu-flamegraph"]["flamegraph_svg"])]
    if strategy.split(":")[0] in THREADED_STRATEGIES:
        argv.append("--nonblocking")  # pausing every thread at each sample distorts them most
    return [*argv, "--", *worker_argv]


def memray_capture_path(out_dir: Path) -> Path:
    return out_dir / ARTIFACTS["memory"]["capture"]


def _rel(path: Path, run_dir: Path) -> str:
    return str(path.relative_to(run_dir))


def summarize(pass_name: str, out_dir: Path, run_dir: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The pass's summary for the record, and its artifacts (paths relative to the run)."""
    if pass_name == "memory":
        return _summarize_memray(out_dir, run_dir)
    if pass_name == "cpu":
        path = out_dir / ARTIFACTS["cpu"]["speedscope_json"]
        return summarize_speedscope(json.loads(path.read_text())), {"speedscope_json": _rel(path, run_dir)}
    path = out_dir / ARTIFACTS["cpu-flamegraph"]["flamegraph_svg"]
    return {"active_samples": svg_sample_count(path.read_text())}, {"flamegraph_svg": _rel(path, run_dir)}


def _frame_label(frame: tuple[str, str, int]) -> str:
    function, file, line = frame
    return f"{function} ({file}:{line})"


def _summarize_memray(out_dir: Path, run_dir: Path) -> tuple[dict[str, Any], dict[str, str]]:
    import memray

    capture = memray_capture_path(out_dir)
    artifacts = {"capture": _rel(capture, run_dir)}
    for reporter, key in (("flamegraph", "flamegraph_html"), ("table", "table_html")):
        target = out_dir / ARTIFACTS["memory"][key]
        subprocess.run(
            [sys.executable, "-m", "memray", reporter, "--force", "-o", str(target), str(capture)],
            capture_output=True,
            check=True,
            timeout=300,
        )
        artifacts[key] = _rel(target, run_dir)
    reader = memray.FileReader(str(capture))
    try:
        meta = reader.metadata
        frees = {memray.AllocatorType.FREE, memray.AllocatorType.MUNMAP, memray.AllocatorType.PYMALLOC_FREE}
        total_bytes = 0
        for record in reader.get_allocation_records():
            if record.allocator not in frees:
                total_bytes += record.size
        high = sorted(
            reader.get_high_watermark_allocation_records(merge_threads=True),
            key=lambda a: a.size,
            reverse=True,
        )
        top = []
        for record in high[:TOP_N]:
            stack = record.stack_trace()
            top.append(
                {
                    "location": _frame_label(stack[0]) if stack else "(unknown)",
                    "stack": [_frame_label(f) for f in stack[:6]],
                    "size_bytes": int(record.size),
                    "allocations": int(record.n_allocations),
                    "allocator": memray.AllocatorType(record.allocator).name,
                }
            )
        snapshots = list(reader.get_memory_snapshots())
    finally:
        reader.close()
    t0 = snapshots[0].time if snapshots else 0
    stride = max(1, -(-len(snapshots) // SNAPSHOT_MAX_POINTS))
    summary = {
        "tool": "memray",
        "peak_heap_bytes": int(meta.peak_memory),
        "peak_is": (
            "heap as memray sees it: every allocation it intercepts, a whole mmap mapping counted as "
            "allocated even where untouched; never the page cache, kernel buffers or thread stacks"
        ),
        "total_allocations": int(meta.total_allocations),
        "total_allocated_bytes": total_bytes,
        "top_allocations": top,
        "snapshots": [[(s.time - t0) / 1000, int(s.heap), int(s.rss)] for s in snapshots[::stride]],
        "snapshot_columns": ["t_s", "heap_bytes", "rss_bytes"],
    }
    return summary, artifacts


def _in_strategy(frame: dict[str, Any]) -> bool:
    """A frame of a strategy's code running (not its module being imported by the registry)."""
    file = str(frame.get("file") or "")
    return (
        frame.get("name") != "<module>"
        and f"{os.sep}strategies{os.sep}" in file
        and not file.endswith(f"{os.sep}registry.py")
    )


def summarize_speedscope(doc: dict[str, Any]) -> dict[str, Any]:
    """Top functions by self and total time from py-spy's speedscope output (idle included).

    py-spy samples the worker's whole life; the top lists keep only samples in
    which a strategy's own code is on the stack (interpreter start and imports
    are left out), and ``strategy_share`` says how much of the run that was.
    """
    frames = doc["shared"]["frames"]
    self_weight: Counter[int] = Counter()
    total_weight: Counter[int] = Counter()
    idle_weight = 0.0
    all_weight = 0.0
    strategy_weight = 0.0
    for profile in doc["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            all_weight += weight
            if not stack or not any(_in_strategy(frames[i]) for i in stack):
                continue
            strategy_weight += weight
            self_weight[stack[-1]] += weight
            for index in set(stack):
                total_weight[index] += weight
            if str(frames[stack[-1]]["name"]).rsplit(".", 1)[-1] in _WAIT_LEAVES:
                idle_weight += weight

    def label(index: int) -> str:
        f = frames[index]
        return f"{f['name']} ({Path(str(f.get('file') or '?')).name}:{f.get('line')})"

    def top(counter: Counter[int]) -> list[dict[str, Any]]:
        return [
            {"function": label(i), "share": w / strategy_weight if strategy_weight else 0.0, "seconds": w}
            for i, w in counter.most_common(TOP_N)
        ]

    return {
        "tool": "py-spy",
        "idle_included": True,
        "samples": sum(len(p["samples"]) for p in doc["profiles"]),
        "threads": len(doc["profiles"]),
        "sampled_s": all_weight,
        "strategy_share": strategy_weight / all_weight if all_weight else 0.0,
        "top_self": top(self_weight),
        "top_total": top(total_weight),
        "wait_leaf_share": idle_weight / strategy_weight if strategy_weight else 0.0,
        "note": (
            "samples include idle threads (py-spy --idle); shares are of the samples with strategy code "
            "on the stack; wait_leaf_share counts those whose innermost Python frame is a blocking call site"
        ),
    }


# Innermost frames that mean "waiting": blocking I/O and synchronisation call sites
# in the strategies and the standard library (py-spy --function names).
_WAIT_LEAVES = frozenset(
    {
        "write", "readinto", "read", "readall", "copyfileobj", "sendfile", "splice", "copy_file_range",
        "wait_drain", "_flush_some", "poll", "select", "wait", "get", "put", "join", "_run_tool",
        "communicate", "sleep", "_worker", "_run_once",
    }
)  # fmt: skip

_SVG_SAMPLES_RE = re.compile(r"all \(([\d,]+) samples?")


def svg_sample_count(svg: str) -> int | None:
    """The number of samples py-spy's flamegraph SVG says it drew."""
    match = _SVG_SAMPLES_RE.search(svg)
    return int(match.group(1).replace(",", "")) if match else None
