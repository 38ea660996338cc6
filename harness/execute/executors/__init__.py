"""The executor seam: one planned run of one kind of cell -> a Measurement.

``executor_for`` is the only place that reads the kind of a cell. A new kind of
subject (a Node.js runtime, a browser, a remote machine) is a new module here
with one class that has ``run(planned, ctx) -> Measurement``, and one line below.
"""

from __future__ import annotations

from typing import Protocol

from harness.execute.context import RunContext
from harness.execute.measurement import Measurement
from harness.plan.config import Cell
from harness.plan.planning import PlannedRun


class Executor(Protocol):
    """Runs one planned run of one kind of cell and says what it saw. Never builds records."""

    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement: ...


def executor_for(cell: Cell) -> Executor:
    # Imported here: each executor pulls in only its own world (aiohttp, boto3's helpers).
    if cell.sink in ("null", "tcp", "file"):
        from harness.sinks.handles import consumer_sink, file_sink
        from strategies.registry import runtime_of

        open_sink = file_sink if cell.sink == "file" else consumer_sink
        if runtime_of(cell.strategy) == "node":
            from harness.execute.executors.node import NodeExecutor

            return NodeExecutor(open_sink)
        from harness.execute.executors.worker import WorkerExecutor

        return WorkerExecutor(open_sink)
    if cell.sink == "browser":
        from harness.execute.executors.browser import BrowserExecutor
        from strategies.registry import runtime_of

        missing_first = cell.http_route == "missing-first"
        if runtime_of(cell.strategy) == "node":
            from harness.execute.executors.node import node_server_program

            return BrowserExecutor(node_server_program(), runtime="node", missing_first=missing_first)
        return BrowserExecutor(missing_first=missing_first)
    if cell.http_route == "s3-upload":
        from harness.execute.executors.s3 import S3Executor

        return S3Executor()
    from harness.execute.executors.http import ROUTES, HttpExecutor
    from strategies.registry import runtime_of

    if runtime_of(cell.strategy) == "node":
        from harness.execute.executors.node import node_server_program

        return HttpExecutor(ROUTES[cell.http_route], node_server_program(), runtime="node")
    return HttpExecutor(ROUTES[cell.http_route])
