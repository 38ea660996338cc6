"""Bun: JavaScriptCore with its own implementation of ``node:fs``, ``node:stream`` and ``node:http``.

Installed from npm (``streambench runtimes install bun``; the package ``bun`` carries the binary). The
seeds' code runs on it unchanged; ``bun-file`` is its own ``Bun.file(...).stream()``. Its profilers
take Node's flags (``--cpu-prof``, ``--heap-prof``). It has no libuv, so no io_uring switch. Its
``node:http`` cannot listen on an inherited socket, so its server binds 127.0.0.1 port 0 itself.
"""

from __future__ import annotations

from typing import ClassVar

from streambench.harness.plan.config import Cell
from streambench.harness.runtimes.js import JsRuntime
from streambench.harness.runtimes.node import URING_OPTION
from streambench.strategies.base import Strategy
from streambench.strategies.registry import split_spec


class BunRuntime(JsRuntime):
    base: ClassVar[str] = "bun"
    title: ClassVar[str] = "Bun"
    npm_package: ClassVar[str] = "bun"
    binary_in: ClassVar[str] = "node_modules/bun/bin/bun.exe"
    # Bun's node:http ignores listen({fd}) (it binds a random port on ::) and its net.Socket cannot
    # read an inherited pipe: its server binds its own port and opens its pipes through /proc.
    listens_on_fd: ClassVar[bool] = False
    reopens_fds: ClassVar[bool] = True

    def own_skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        if URING_OPTION in split_spec(cell.strategy)[1]:
            return "the io_uring switch is libuv's (Node's): Bun has no libuv"
        return None


BUN = BunRuntime()
