"""Deno: V8 with its own implementation of ``node:fs``, ``node:stream`` and ``node:http``.

Installed from npm (``streambench runtimes install deno``; the binary ships in
``@deno/linux-x64-glibc``). Scripts run with ``deno run -A``. The seeds' code runs on it unchanged,
but Deno's ``node:fs`` cannot use an inherited descriptor, so the file sink and the result pipe are
opened again through ``/proc/self/fd/N`` (the same file or pipe); ``deno-file`` is its own
``Deno.open(...).readable``. It has no ``--cpu-prof``/``--heap-prof`` and no io_uring switch.
"""

from __future__ import annotations

from typing import ClassVar

from streambench.harness.plan.config import Cell
from streambench.harness.runtimes.js import JsRuntime
from streambench.harness.runtimes.node import URING_OPTION
from streambench.strategies.base import Strategy
from streambench.strategies.registry import split_spec


class DenoRuntime(JsRuntime):
    base: ClassVar[str] = "deno"
    title: ClassVar[str] = "Deno"
    npm_package: ClassVar[str] = "deno"
    binary_in: ClassVar[str] = "node_modules/@deno/linux-x64-glibc/deno"
    run_flags: ClassVar[tuple[str, ...]] = ("run", "-A", "--quiet")
    profilers: ClassVar[tuple[str, ...]] = ()
    reopens_fds: ClassVar[bool] = True

    def own_skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        if URING_OPTION in split_spec(cell.strategy)[1]:
            return "the io_uring switch is libuv's (Node's): Deno has no libuv"
        return None


DENO = DenoRuntime()
