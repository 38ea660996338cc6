"""``calibrate``, ``bench-overhead`` and ``bench-generate``: the machine and the harness measured."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from streambench.harness.cli.console import err_console, out_console
from streambench.harness.cli.run import resolve_data_dir
from streambench.harness.common.errors import UsageError
from streambench.harness.common.units import format_bytes, parse_count, parse_fraction, parse_size
from streambench.strategies.registry import load_registry


def cmd_calibrate(args: argparse.Namespace) -> int:
    from streambench.harness.machine import calibrate

    data_dir = resolve_data_dir(args.data_dir)
    size_bytes, runs = parse_size(args.size), parse_count(args.runs, "--runs", 1, 100)
    err_console.print("measuring this machine's limits (about half a minute) ...")
    results = calibrate.measure(data_dir, size_bytes, runs)
    path = calibrate.save(data_dir, results)
    calibrate.save(calibrate.machine_calibration_path().parent, results)  # every data folder's
    table = Table(title="machine limits (median)")
    table.add_column("limit")
    table.add_column("GB/s", justify="right")
    for key in ("warm_read_bps", "cold_read_bps", "page_cache_write_bps", "memcpy_bps", "loopback_tcp_bps"):
        table.add_row(key.removesuffix("_bps").replace("_", " "), f"{results[key] / 1e9:.2f}")
    out_console.print(table)
    out_console.print(
        f"cold reads asked the disk for {[format_bytes(b) for b in results['cold_read_disk_bytes']]} "
        "(on a VM, the rest came from the host's cache)"
    )
    print(path)
    return 0


def cmd_bench_overhead(args: argparse.Namespace) -> int:
    from streambench.harness.machine.bench import measure_overhead

    load_registry(plugins=False).resolve(args.strategy)  # an unknown name is one line, before any work
    # The standalone time is hyperfine's run minus its --noop start-up: from fewer than 3 rounds of
    # each, the difference is noise (one round printed negative times).
    rounds = parse_count(args.rounds, "--rounds", 3, 1000)
    result = measure_overhead(
        args.strategy,
        parse_size(args.size),
        parse_size(args.chunk_size),
        resolve_data_dir(args.data_dir),
        rounds,
    )
    print(result.describe())
    return 0


def cmd_bench_signals(args: argparse.Namespace) -> int:
    from streambench.harness.machine.bench import measure_signals

    rounds = parse_count(args.rounds, "--rounds", 3, 1000)
    for name in str(args.runtime).split(","):
        print(measure_signals(name.strip(), rounds).describe())
    return 0


def cmd_bench_generate(args: argparse.Namespace) -> int:
    from streambench.harness.machine.bench import measure_generation
    from streambench.workloads.registry import kinds

    rounds = parse_count(args.rounds, "--rounds", 1, 1000)
    only = [k.strip() for k in str(args.kind or "").split(",") if k.strip()]
    if unknown := [k for k in only if k not in kinds()]:
        raise UsageError(f"unknown --kind {unknown[0]!r}; valid kinds: {', '.join(kinds())}")
    size_bytes = parse_size(args.size)
    print(measure_generation(size_bytes, resolve_data_dir(args.data_dir), rounds, only).describe())
    return 0


def cmd_bench_gate(args: argparse.Namespace) -> int:
    """The gate measured: how often compare's rule alarms on A/A pairs, and catches planted slowdowns."""
    if args.real:
        return _bench_gate_real(args)
    from streambench.reports.gate import MODELS, simulate_table

    trials = parse_count(args.trials, "--trials", 10, 100_000)
    cells = parse_count(args.cells, "--cells", 1, 10_000)
    runs = [parse_count(n, "--runs", 2, 200) for n in str(args.runs or "3,5,10,20").split(",")]
    rows = simulate_table(runs=runs, models=MODELS, cells=cells, trials=trials)
    print(f"simulated: {trials} comparisons per row of {cells} cells; a planted ratio in one cell (1.0: A/A)")
    print(f"{'noise':48} {'ratio':>6} {'runs':>5} {'regression':>11} {'undecided':>10} {'no change':>10} "
          f"{'caught':>7}")  # fmt: skip
    for r in rows:
        print(f"{r.noise:48} {r.planted_ratio:6.2f} {r.runs:5d} {r.regression:11.1%} {r.undecided:10.1%} "
              f"{r.no_change:10.1%} {r.planted_caught:7.1%}")  # fmt: skip
    return 0


def _bench_gate_real(args: argparse.Namespace) -> int:
    """A/A and planted pairs of real runs, judged by time, by time against cat, by the work counters."""
    import tempfile
    from pathlib import Path

    from streambench.harness.machine.gate_runs import SUBJECT, GateSetting, measure_pairs
    from streambench.reports.gate import METHODS, real_rates
    from streambench.workloads.cache import WorkloadSpec

    runs = parse_count(args.runs or "3", "--runs", 3, 200)
    pairs = parse_count(args.pairs, "--pairs", 1, 1000)
    fail_on = parse_fraction(args.fail_on)
    size_bytes, chunk_bytes = parse_size(args.size), parse_size(args.chunk_size)
    if not 0 < chunk_bytes <= size_bytes:
        raise UsageError(
            f"--chunk-size must be above 0 and at most --size, got {args.chunk_size} of {args.size}"
        )
    setting = GateSetting(WorkloadSpec("video", size_bytes), "null", chunk_bytes, runs)
    with tempfile.TemporaryDirectory(prefix="streambench-gate-") as out:
        measured = measure_pairs(setting, pairs, Path(out), resolve_data_dir(args.data_dir),
                                 lambda text: err_console.print(text))  # fmt: skip
    rows = real_rates([(p.plant.name, p.base, p.cand) for p in measured], SUBJECT, fail_on)
    print(f"real pairs: video:{format_bytes(setting.workload.size_bytes)} -> null, chunk "
          f"{format_bytes(setting.chunk_bytes)}, {runs} runs a side of {SUBJECT} and cat interleaved, "
          f"--fail-on {fail_on:.0%}, {pairs} pair(s) per plant")  # fmt: skip
    print(
        "each cell: share of pairs judged worse (an alarm) / no change / cannot decide"
        " (counters: / no vote, too noisy or absent)"
    )
    head = f"{'plant':30} {'time change':>11}"
    for method in METHODS:
        head += f" {method:>24}"
    print(head)
    for r in rows:
        line = f"{r.plant:30} {r.time_change:+11.1%}"
        for method in METHODS:
            s = r.shares[method]
            cell = f"{s['worse']:.0%}/{s['same']:.0%}/{s['undecided']:.0%}"
            if method == "counters":
                cell += f"/{s['no vote']:.0%}"
            line += f" {cell:>24}"
        print(line)
    return 0


def add_commands(sub: Any) -> None:
    gate = sub.add_parser(
        "bench-gate",
        help="compare's false alarms and misses: simulated at n runs a side, or (--real) from real A/A and "
        "planted pairs",
    )
    gate.add_argument(
        "--runs", help="runs a side: a comma list when simulated (default 3,5,10,20), one number with --real "
        "(default 3, the quick default's)"
    )  # fmt: skip
    gate.add_argument("--cells", default="44", help="cells per comparison (default 44, the quick default's)")
    gate.add_argument("--trials", default="400", help="comparisons per row (default 400)")
    gate.add_argument(
        "--real", action="store_true", help="measure real pairs: A/A, 2/5/10/30%% slower, an extra copy, "
        "twice the write() calls (the planted strategy), judged by time, time against cat, and the work "
        "counters"
    )  # fmt: skip
    gate.add_argument("--pairs", default="10", help="with --real: pairs per plant (default 10)")
    gate.add_argument("--size", default="256MiB", help="with --real: the video workload (default 256MiB)")
    gate.add_argument("--chunk-size", default="64KiB", help="with --real: chunk size (default 64KiB)")
    gate.add_argument("--fail-on", default="5%", help="the margin, as compare's (default 5%%)")
    gate.add_argument("--data-dir")
    gate.set_defaults(func=cmd_bench_gate)

    bench = sub.add_parser("bench-overhead", help="the harness's overhead vs the same code under hyperfine")
    bench.add_argument("--strategy", default="pipe")
    bench.add_argument("--size", default="1GiB")
    bench.add_argument("--chunk-size", default="1MiB")
    bench.add_argument("--rounds", default="10")
    bench.add_argument("--data-dir")
    bench.set_defaults(func=cmd_bench_overhead)

    signals = sub.add_parser(
        "bench-signals",
        help="the stream doctor's JS signals (loop delay, utilisation, GC) on vs off: their cost",
    )
    signals.add_argument("--runtime", default="node", help="JS runtimes, a comma list (default node)")
    signals.add_argument("--rounds", default="20", help="A B B A rounds (default 20)")
    signals.set_defaults(func=cmd_bench_signals)

    bench_gen = sub.add_parser("bench-generate", help="workload generation throughput vs dd on the same disk")
    bench_gen.add_argument("--size", default="2GiB")
    bench_gen.add_argument("--rounds", default="3")
    bench_gen.add_argument("--kind", help="only these kinds, a comma list (default every kind)")
    bench_gen.add_argument("--data-dir")
    bench_gen.set_defaults(func=cmd_bench_generate)

    calibrate = sub.add_parser("calibrate", help="measure this machine's limits; runs store them")
    calibrate.add_argument("--size", default="512MiB", help="file size to measure with (default 512MiB)")
    calibrate.add_argument("--runs", default="3", help="repeats per measurement (default 3)")
    calibrate.add_argument("--data-dir")
    calibrate.set_defaults(func=cmd_calibrate)
