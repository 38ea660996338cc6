"""One strategy run with no harness around it: the baseline the harness's overhead is measured against.

``python -m harness.worker.standalone STRATEGY SOURCE DEST --chunk-size N`` opens DEST
(existing, overwritten in place) and runs the strategy once, exactly as the
worker would, but with no probes, no consumer and no report. ``--noop`` does
all the same imports and opens, and moves nothing: hyperfine's time for it is
the interpreter's start, which the comparison subtracts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from streambench.harness.common.units import parse_size
from streambench.strategies.base import RunStats, Sink, Source, StrategyParams
from streambench.strategies.registry import load_registry


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.worker.standalone")
    parser.add_argument("strategy")
    parser.add_argument("source")
    parser.add_argument("dest")
    parser.add_argument("--chunk-size", default="64KiB")
    parser.add_argument("--noop", action="store_true")
    args = parser.parse_args()
    cls, options = load_registry(plugins=False).resolve(args.strategy)
    strategy = cls()
    source = Source(Path(args.source), os.path.getsize(args.source))
    fd = os.open(args.dest, os.O_WRONLY)
    sink = Sink.on_fd("file", fd)
    if not args.noop:
        strategy.run(source, sink, StrategyParams(parse_size(args.chunk_size), options), RunStats())
        sink.end()
    os.close(fd)


if __name__ == "__main__":
    main()
