"""How long the report takes for a large run: ``python -m reports.bench [--records N]``.

Builds a deterministic synthetic run of about N records (default 10,000: 7 strategies,
5 sizes, 3 sinks, 6 chunk sizes, 2 cache states = 1,260 cells, 1 warm-up + 7 measured
runs each, 40-point RSS timelines) and prints the seconds ``render_report`` takes.
"""

from __future__ import annotations

import argparse
import math
import time

from streambench.harness.results.record import Record
from streambench.reports.html import render_report
from streambench.reports.synthetic import PROFILES, MiB, synthetic_run

SIZES = (8 * MiB, 32 * MiB, 128 * MiB, 512 * MiB, 1024 * MiB)
SINKS = ("null", "file", "tcp")
CHUNKS = (16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20)
CACHES = ("warm", "cold")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    cells = len(PROFILES) * len(SIZES) * len(SINKS) * len(CHUNKS) * len(CACHES)
    repeat = max(1, math.ceil(args.records / cells) - 1)
    t0 = time.perf_counter()
    meta, records = synthetic_run(
        sizes=SIZES, sinks=SINKS, chunks=CHUNKS, caches=CACHES, repeat=repeat, warmup=1
    )
    t1 = time.perf_counter()
    html = render_report(meta, [Record.from_json(r) for r in records])
    t2 = time.perf_counter()
    print(
        f"{len(records)} records ({cells} cells x (1 warm-up + {repeat} measured)): "
        f"report built in {t2 - t1:.2f} s ({len(html) / 1e6:.1f} MB of HTML; records made in {t1 - t0:.2f} s)"
    )


if __name__ == "__main__":
    main()
