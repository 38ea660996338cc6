"""The executor seam: one planned run of one kind of cell -> a Measurement.

``executor_for`` is the only place that reads the kind of a cell (its sink and route); the
runtime that runs its strategy comes from :mod:`harness.runtimes`. A new kind of subject (a
browser, an S3 client) is a new module here with one class that has ``run(planned, ctx) ->
Measurement``, and one line below; a new runtime is a file in ``harness/runtimes/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from streambench.harness.common.forkserver import close as close_forkservers
from streambench.harness.execute.context import RunContext
from streambench.harness.execute.measurement import Measurement
from streambench.harness.plan.config import Cell
from streambench.harness.plan.planning import PlannedRun


class Executor(Protocol):
    """Runs one planned run of one kind of cell and says what it saw. Never builds records."""

    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement: ...


# What the runner asks for each cell's executor (tests hand in a fake one).
ExecutorFactory = Callable[[Cell], Executor]

# What executors keep from one run to the next within a session (a browser), and how each is closed.
_KEPT: dict[str, Callable[[], object]] = {}


def keep(name: str, close: Callable[[], object]) -> None:
    """An executor keeps something for the session's later runs; the runner's ``finish`` closes it."""
    _KEPT[name] = close


def close_kept() -> None:
    """The session is over: close whatever its executors kept, and this process's forkservers (the
    first run that needed each started it); each starts anew if asked again."""
    while _KEPT:
        _, close = _KEPT.popitem()
        close()
    close_forkservers()


def executor_for(cell: Cell) -> Executor:
    # Imported here: each executor pulls in only its own world (aiohttp, boto3's helpers).
    from streambench.harness import runtimes

    runtime = runtimes.for_cell(cell)
    if cell.sink in ("null", "tcp", "file"):
        from streambench.harness.execute.executors.sink import SinkExecutor
        from streambench.harness.sinks.handles import consumer_sink, file_sink

        return SinkExecutor(runtime, file_sink if cell.sink == "file" else consumer_sink)
    if cell.sink == "browser":
        from streambench.harness.execute.executors.browser import BrowserExecutor

        return BrowserExecutor(runtime, missing_first=cell.http_route == "missing-first")
    if cell.http_route == "s3-upload":
        from streambench.harness.execute.executors.s3 import S3Executor

        return S3Executor()
    from streambench.harness.execute.executors.http import ROUTES, HttpExecutor

    return HttpExecutor(ROUTES[cell.http_route], runtime)
