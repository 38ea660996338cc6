"""``streambench bench overhead``: the harness's own cost, measured against hyperfine.

The same strategy, file and destination are timed twice, interleaved per round:
by the harness (wall time around ``strategy.run`` in a worker) and standalone
(``python -m harness.worker.standalone`` under hyperfine, minus hyperfine's time for the
same command with ``--noop``, i.e. the interpreter's start and imports). It also
reports the harness's fixed cost per run (everything a run costs beyond the
strategy: sink and cache set-up, worker start, verification).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streambench.harness import runtimes
from streambench.harness.cell_session import cell_session
from streambench.harness.common.errors import UsageError
from streambench.harness.plan.config import Cell
from streambench.harness.sinks.handles import FileSink, dest_path_for
from streambench.workloads import cache
from streambench.workloads.cache import WorkloadSpec
from streambench.workloads.registry import GENERATORS, kinds


@dataclass(frozen=True)
class OverheadResult:
    strategy: str
    size_bytes: int
    rounds: int
    harness_wall_s: list[float]
    harness_fixed_cost_s: list[float]
    standalone_s: list[float]
    startup_s: list[float]

    @property
    def ratio(self) -> float:
        """Harness-timed over standalone-timed (1.0: the harness adds nothing)."""
        standalone = statistics.median(self.standalone_s) - statistics.median(self.startup_s)
        return statistics.median(self.harness_wall_s) / standalone

    def describe(self) -> str:
        med = statistics.median
        standalone = med(self.standalone_s) - med(self.startup_s)
        if standalone <= 0:
            return (
                f"{self.strategy}, {self.size_bytes / 2**30:g} GiB: the standalone run took no longer "
                f"than its start-up alone ({med(self.standalone_s):.4f} s vs {med(self.startup_s):.4f} s): "
                "too small or too few rounds to tell the strategy's time; use a larger --size"
            )
        return (
            f"{self.strategy}, {self.size_bytes / 2**30:g} GiB -> existing file, {self.rounds} rounds\n"
            f"  harness wall_s (median)             {med(self.harness_wall_s):.4f} s\n"
            f"  hyperfine standalone (median)       {med(self.standalone_s):.4f} s\n"
            f"  hyperfine --noop (start + imports)  {med(self.startup_s):.4f} s\n"
            f"  standalone strategy time            {standalone:.4f} s\n"
            f"  harness / standalone                {self.ratio:.3f}\n"
            f"  harness fixed cost per run (median) {med(self.harness_fixed_cost_s) * 1000:.0f} ms"
        )


def _hyperfine_once(argv: list[str], prepare: str, runs: int) -> list[float]:
    hyperfine = shutil.which("hyperfine")
    if hyperfine is None:
        raise UsageError("hyperfine is not installed (apt-get install hyperfine)")
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        subprocess.run(
            [hyperfine, "--runs", str(runs), "--prepare", prepare, "--style", "none",
             "--export-json", export.name, shlex.join(argv)],
            check=True, capture_output=True,
        )  # fmt: skip
        return [float(t) for t in json.loads(Path(export.name).read_text())["results"][0]["times"]]


def measure_overhead(
    strategy: str, size_bytes: int, chunk_bytes: int, data_dir: Path, rounds: int = 5
) -> OverheadResult:
    workload = cache.ensure(WorkloadSpec("video", size_bytes), data_dir)
    spec = workload.spec
    cell = Cell(strategy, spec, "file", chunk_bytes, "warm", dest="existing")
    with tempfile.TemporaryDirectory() as out, cell_session(cell, Path(out), data_dir) as session:
        dest = dest_path_for(session.runner.scratch_dir, workload.manifest.size_bytes)
        FileSink(dest, workload.manifest.size_bytes, "existing").release_child_fd()  # the runner's own file
        standalone = runtimes.for_cell(cell).standalone_command(strategy, workload.path, dest, chunk_bytes)
        # Flushed dest, warm source, as the harness does. Quoted: a data dir with
        # a space, ';' or '$(...)' is a path, never shell code.
        prepare = f"sync; cat {shlex.quote(str(workload.path))} > /dev/null"
        standalone_s: list[float] = []
        startup_s: list[float] = []
        session.run(warmup=True)  # not kept
        for _ in range(rounds):  # A B A B: drift hits both sides alike
            session.run()
            standalone_s += _hyperfine_once(standalone, prepare, 1)
            startup_s += _hyperfine_once([*standalone, "--noop"], prepare, 1)
        records = [asdict(r) for r in session.records if not r.warmup]
    return OverheadResult(
        strategy=strategy,
        size_bytes=workload.manifest.size_bytes,
        rounds=rounds,
        harness_wall_s=[float(r["wall_s"]) for r in records],
        harness_fixed_cost_s=[float(r["run_total_s"]) - float(r["wall_s"]) for r in records],
        standalone_s=standalone_s,
        startup_s=startup_s,
    )


# What each kind should reach against dd, side by side (issue 29): random bytes are one PRNG pass,
# text is formatted.
GOAL_VS_DD = {"binary": 0.8, "text": 0.4}


def goal_vs_dd(kind: str) -> float:
    return GOAL_VS_DD["binary" if GENERATORS[kind].media_type.startswith("video/") else "text"]


@dataclass(frozen=True)
class GenerationResult:
    size_bytes: int
    rounds: int
    # kind (or "dd") -> one time per round: generate() inside the child, dd as a whole process
    seconds: dict[str, list[float]]
    start_s: list[float]  # a child's wall time beyond its generate(): interpreter start and imports
    peak_rss_bytes: dict[str, int]
    written_bytes: dict[str, int]
    # kind -> its first generation's time (a 1 MiB file) where it made assets it keeps (mp4's clip)
    assets_s: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        med = statistics.median
        dd = self.seconds["dd"]
        lines = [
            f"generation vs dd, {self.size_bytes / 2**30:g} GiB new files in the page cache, "
            f"{self.rounds} rounds side by side (median [min, max] of each round's ratio)",
            f"  dd       {self.size_bytes / med(dd) / 1e9:5.2f} GB/s",
        ]
        for kind, times in self.seconds.items():
            if kind == "dd":
                continue
            bps = self.written_bytes.get(kind, self.size_bytes) / med(times)
            ratios = sorted(
                (self.written_bytes.get(kind, self.size_bytes) / t) / (self.size_bytes / d)
                for t, d in zip(times, dd, strict=True)
            )
            goal = goal_vs_dd(kind)
            verdict = "meets" if med(ratios) >= goal else "below"
            lines.append(
                f"  {kind:13s} {bps / 1e9:5.2f} GB/s = {med(ratios):4.2f}x dd "
                f"[{ratios[0]:.2f}, {ratios[-1]:.2f}]  {verdict} the {goal:g}x goal, "
                f"peak RSS {self.peak_rss_bytes.get(kind, 0) / 2**20:.0f} MiB"
            )
        for kind, took_s in self.assets_s.items():
            lines.append(
                f"  {kind}: what it keeps for every size (an mp4's clip, per seed and ffmpeg build) was "
                f"made before the rounds in {took_s:.2f} s (a 1 MiB file); every round above used it"
            )
        lines.append(
            f"  (generate() and dd each timed inside a child; a child took {med(self.start_s):.2f} s)"
        )
        return "\n".join(lines)


def _generate_child(kind: str, size_bytes: int, data_dir: Path) -> None:
    """In a child process: generate, then report own VmHWM and bytes (the parent's HWM is not ours)."""
    from streambench.harness.measure.probes import read_status

    # Untimed, just before the timed write: on this VM a page frame the guest has handed back to the
    # host (free page reporting) costs a host fault on its next touch, so a write that came a second
    # after the last file's removal ran at 0.2-0.5 GB/s and one that came at once at 3-5 GB/s, dd
    # included. Writing and removing a file of the same size first gives each the same footing.
    _dd(data_dir / "prime.out", size_bytes)
    if kind == "dd":  # dd started the same way, so it pays what a kind pays
        print(
            json.dumps(
                {
                    "peak_rss_bytes": 0,
                    "bytes": size_bytes,
                    "generation_s": _dd(data_dir / "dd.out", size_bytes),
                }
            )
        )
        return
    workload = cache.generate(WorkloadSpec(kind, size_bytes), data_dir)
    print(
        json.dumps(
            {
                "peak_rss_bytes": read_status().get("VmHWM"),
                "bytes": workload.manifest.size_bytes,
                "generation_s": workload.manifest.generation_s,
            }
        )
    )


def _dd(path: Path, size_bytes: int) -> float:
    t0 = time.perf_counter()
    argv = ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_bytes >> 20}", "status=none"]
    subprocess.run(argv, check=True)
    took_s = time.perf_counter() - t0
    path.unlink()
    return took_s


def measure_generation(
    size_bytes: int, data_dir: Path, rounds: int = 3, only: Sequence[str] = ()
) -> GenerationResult:
    """Each kind (or ``only`` these) and dd in turn, ``rounds`` times, each in a new child."""
    scratch = data_dir / "bench-generate"
    scratch.mkdir(parents=True, exist_ok=True)
    measured = [*(only or kinds()), "dd"]
    seconds: dict[str, list[float]] = {k: [] for k in measured}
    start_s: list[float] = []
    peaks: dict[str, int] = {}
    written: dict[str, int] = {}
    assets_s: dict[str, float] = {}

    def child(kind: str, size: int) -> tuple[float, dict[str, Any]]:
        os.sync()  # untimed: each starts with no dirty pages for its writes to wait behind
        t0 = time.perf_counter()
        argv = [sys.executable, "-m", "streambench.harness.machine.bench", "generate-child", kind, str(size)]
        out = subprocess.run([*argv, str(scratch)], check=True, capture_output=True, text=True)
        wall_s = time.perf_counter() - t0
        cache.clean(scratch, keep_assets=True)
        return wall_s, json.loads(out.stdout)

    try:
        # What a kind makes once and keeps for every size (mp4's clip) is made before the rounds,
        # and its time said on its own line: the rounds compare what each size costs.
        for kind in measured[:-1]:
            assets_before = _assets(scratch)
            _, report = child(kind, 1 << 20)
            if _assets(scratch) != assets_before:
                assets_s[kind] = float(report["generation_s"])
        for _ in range(rounds):  # kind A, kind B, ..., dd, then again: drift hits all alike
            for kind in measured:
                wall_s, report = child(kind, size_bytes)
                seconds[kind].append(float(report["generation_s"]))
                start_s.append(wall_s - float(report["generation_s"]))
                if kind != "dd":
                    peaks[kind] = max(peaks.get(kind, 0), int(report["peak_rss_bytes"]))
                    written[kind] = int(report["bytes"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return GenerationResult(size_bytes, rounds, seconds, start_s, peaks, written, assets_s)


def _assets(data_dir: Path) -> set[str]:
    folder = cache.assets_dir(data_dir)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


if __name__ == "__main__":
    if sys.argv[1:2] == ["generate-child"]:
        _generate_child(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))


@dataclass(frozen=True)
class SignalsCost:
    """The stream doctor's signals switched on and off in one JS process (harness/node/signals_cost.mjs)."""

    runtime: str
    phase_ms: int
    busy_ratios: list[float]  # per round: work done with the signals on / with them off
    idle_on_ms_per_s: list[float]  # the process's CPU per second of an idle loop, signals on
    idle_off_ms_per_s: list[float]

    def describe(self) -> str:
        from streambench.harness.common.intervals import median_interval

        interval = median_interval(self.busy_ratios)
        slowdown = 1 - statistics.median(self.busy_ratios)
        idle_on, idle_off = (
            statistics.median(self.idle_on_ms_per_s),
            statistics.median(self.idle_off_ms_per_s),
        )
        return (
            f"{self.runtime}: the stream doctor's signals on vs off, {len(self.busy_ratios)} rounds A B B A\n"
            f"  CPU-bound work done, on / off (median)  {statistics.median(self.busy_ratios):.3f} "
            f"[{interval.low:.3f}, {interval.high:.3f}] ({interval.describe()})\n"
            f"  overhead on a busy section              {slowdown:+.1%}\n"
            f"  idle loop CPU, signals on / off         {idle_on:.1f} / {idle_off:.1f} ms per s "
            f"(their own cost: {(idle_on - idle_off) / 10:.1f}% of a core while the section waits)"
        )


def measure_signals(runtime_name: str, rounds: int, phase_ms: int = 250) -> SignalsCost:
    """Run signals_cost.mjs on a JS runtime; one line (UsageError) when the runtime has no signals."""
    from streambench.harness.runtimes.js import NODE_DIR, JsRuntime

    runtime = runtimes.get(runtime_name)
    if not isinstance(runtime, JsRuntime):
        raise UsageError(
            f"{runtime_name} has no event-loop signals: only the JS runtimes' workers record them"
        )
    if reason := runtime.unavailable():
        raise UsageError(f"{runtime_name}: {reason}")
    argv = runtime.script(NODE_DIR / "signals_cost.mjs", str(rounds), str(phase_ms))
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60 + rounds * phase_ms * 6 / 1e3, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"signals_cost.mjs on {runtime_name} failed: {done.stderr.strip()[-300:]}")
    out = json.loads(done.stdout)
    return SignalsCost(runtime_name, phase_ms, out["busy_ratios"], out["idle_cpu_ms_per_s_on"],
                       out["idle_cpu_ms_per_s_off"])  # fmt: skip
