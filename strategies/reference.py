"""Reference points, not strategies to copy: the shell's own tools into the same sink.

``cat FILE`` and ``dd bs=CHUNK`` write to the sink fd as their stdout, so they
feed the very consumer (or destination file) the Python strategies feed, and a
strategy can be shown as a share of them, timed in the same run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import ClassVar

from streambench.harness.common.lifeline import pdeathsig_preexec
from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams


def _run_tool(argv: list[str], sink: Sink) -> None:
    # stdout is the sink fd itself: the tool's writes go where a strategy's would.
    # It dies with the worker (kill -9 of the harness kills the worker, and so
    # this tool): a leftover dd would keep writing into the next run.
    completed = subprocess.run(
        argv, stdout=sink.fd, stderr=subprocess.PIPE, check=False, preexec_fn=pdeathsig_preexec
    )
    if completed.returncode != 0:
        tail = completed.stderr.decode(errors="replace").strip()[-300:]
        raise RuntimeError(f"{argv[0]} exited {completed.returncode}: {tail}")


class Cat:
    name: ClassVar[str] = "cat"
    summary: ClassVar[str] = "reference: the shell's `cat FILE` writing into the same sink"
    node_analogue: ClassVar[str] = "(reference, no analogue: `cat FILE | consumer`)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.EXTERNAL})
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        _run_tool(["cat", str(source.path)], sink)
        # cat reports no count; the sink's own count and checksum verify the bytes.
        return source.size_bytes


class Dd:
    name: ClassVar[str] = "dd"
    summary: ClassVar[str] = "reference: `dd bs=CHUNK` (conv=notrunc onto an existing file)"
    node_analogue: ClassVar[str] = "(reference, no analogue: `dd if=FILE bs=1M conv=notrunc`)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.EXTERNAL})
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        # Writing to stdout, an fd the harness opened without O_TRUNC, is what
        # `of=DEST conv=notrunc` does: overwrite in place from offset 0.
        _run_tool(["dd", f"if={source.path}", f"bs={params.chunk_bytes}", "status=none"], sink)
        stats.chunks = -(-source.size_bytes // params.chunk_bytes)
        stats.largest_chunk_bytes = min(params.chunk_bytes, source.size_bytes)
        return source.size_bytes
