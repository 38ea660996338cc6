"""A user's own HTTP endpoint as the subject: ``--serve 'CMD'`` (started by streambench) or
``--url http://127.0.0.1:PORT/PATH`` (a server the user runs).

A cell's strategy is then ``serve:CMD`` or ``url:URL``: the server is what is measured, so no
strategy is needed beside it. Its runtime is :mod:`harness.runtimes.endpoint`, which starts the
command (``$PORT``/``{port}``, ``$FILE``/``{file}``) and watches its whole process tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from streambench.harness.common.errors import UsageError
from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams

SERVE_PREFIX = "serve:"
URL_PREFIX = "url:"
LANGUAGE = "endpoint"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def is_user_endpoint(spec: str) -> bool:
    return spec.startswith((SERVE_PREFIX, URL_PREFIX))


@dataclass(frozen=True)
class UserEndpoint:
    """``serve:CMD`` (command set) or ``url:URL`` (port and path set)."""

    spec: str
    command: str = ""
    port: int = 0
    path: str = ""

    @property
    def started_here(self) -> bool:
        return bool(self.command)

    @property
    def serves_the_workload(self) -> bool:
        """A server streambench starts is handed the workload (``$FILE``, ``{file}``) to serve; one the user
        runs (``--url``) was handed nothing."""
        return self.started_here


def parse_user_endpoint(spec: str) -> UserEndpoint:
    if not spec.isprintable():
        raise UsageError(f"bad endpoint {spec!r}: printable text only")
    if spec.startswith(SERVE_PREFIX):
        command = spec.removeprefix(SERVE_PREFIX).strip()
        if not command:
            raise UsageError("--serve needs a command, e.g. --serve 'node server.mjs'")
        return UserEndpoint(spec, command=command)
    url = spec.removeprefix(URL_PREFIX)
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        raise UsageError(f"bad --url {url!r}: expected http://127.0.0.1:PORT/PATH (a server on this machine)")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not port:
        raise UsageError(f"bad --url {url!r}: name the port, e.g. http://127.0.0.1:8080/video")
    path = parts.path or "/"
    return UserEndpoint(spec, port=port, path=path + (f"?{parts.query}" if parts.query else ""))


class EndpointStrategy:
    """Base of the class made for each endpoint: it never runs in a worker, its server is the subject."""

    endpoint: ClassVar[UserEndpoint]
    name: ClassVar[str]
    language: ClassVar[str] = LANGUAGE
    summary: ClassVar[str]
    node_analogue: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.HTTP})
    options: ClassVar[Mapping[str, str]] = {}

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        raise RuntimeError(f"{self.endpoint.spec} is a server: its viewers measure it")


def endpoint_strategy(spec: str) -> type[EndpointStrategy]:
    endpoint = parse_user_endpoint(spec)
    where = spec.removeprefix(URL_PREFIX)
    summary = f"your server: {endpoint.command}" if endpoint.started_here else f"your server at {where}"
    return type(
        "EndpointStrategy", (EndpointStrategy,), {"name": spec, "summary": summary, "endpoint": endpoint}
    )
