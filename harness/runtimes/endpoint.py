"""The endpoint runtime: a user's own HTTP server is the subject (``--serve 'CMD'``, ``--url URL``).

It runs the cells whose strategy is ``serve:CMD`` or ``url:URL`` (strategies.user_endpoint), and
only as servers: into the ``http`` sink (N viewers, Range windows, pacing) or the ``browser`` sink
(Chromium pages). Its server is the user's command, started and watched by
:class:`harness.http.endpoint_handle.EndpointProcess` (the whole process tree's memory and CPU are the
record's), or for ``--url`` a server it neither starts nor measures. Bodies are checked against
``--expect FILE`` when given, else against the workload a ``--serve``'d server is handed
(``$FILE``, ``{file}``), else (``--url``) not at all, which each record says.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streambench.harness.plan.applicability import browser_skip_reason
from streambench.harness.plan.config import Cell, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.runtimes import WorkerCommand
from streambench.strategies.base import Strategy
from streambench.strategies.user_endpoint import LANGUAGE, UserEndpoint, parse_user_endpoint
from streambench.strategies.user_module import UserModule
from streambench.workloads.cache import Workload

if TYPE_CHECKING:
    from streambench.harness.http.server_config import ServerConfig
    from streambench.harness.http.server_handle import ServerHandle

NOT_A_WORKER = "a user's server has no measured worker: its viewers measure it"


class EndpointRuntime:
    name = "endpoint"
    language = LANGUAGE

    def unavailable(self) -> str | None:
        return None  # /bin/sh starts the command

    def version(self) -> str | None:
        return None  # the user's server says nothing of itself

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "executable": "/bin/sh -c CMD", "version": None}

    def skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        if cell.sink not in ("http", "browser"):
            return "a server is measured by its viewers: --sink http or browser"
        if cell.transform != "none":
            return "a server serves what it serves: no transform"
        if cell.sink == "browser":
            return browser_skip_reason(cell)
        if cell.http_route != "file":
            return "a user's server is asked for its path (route file), not export, upload or s3"
        return None

    def worker_command(
        self, job: dict[str, Any], run: PlannedRun, profile_dir: Path | None, rate_hz: int
    ) -> WorkerCommand:
        raise RuntimeError(NOT_A_WORKER)

    def far_end_decodes(self, cell: Cell) -> str | None:
        return None

    def start_server(
        self, cell: Cell, config: ServerConfig, run: RunConfig, cgroup_procs: Path | None
    ) -> ServerHandle:
        from streambench.harness.http.endpoint_handle import EndpointProcess, ExternalEndpoint

        endpoint = _endpoint(cell)
        if not endpoint.started_here:
            return ExternalEndpoint.start(endpoint.port, endpoint.path)
        return EndpointProcess.start(
            endpoint.command,
            file=config.file_path,
            path=run.endpoint.path,
            port=run.endpoint.port,
            cgroup_procs=cgroup_procs,
            ready_timeout_s=run.endpoint.ready_timeout_s,
        )

    def preflight(self, cell: Cell, workload: Workload, run: RunConfig) -> None:
        """The server started once and stopped, before any run: one that exits at once, never opens its
        port, or finds its port taken is one line (EndpointError), not a matrix of failed runs."""
        from streambench.harness.http.server_config import ServerConfig

        config = ServerConfig(file_path=workload.path, content_type=workload.manifest.media_type)
        server = self.start_server(cell, config, run, None)
        server.close()

    def body_file(self, cell: Cell, workload: Workload, run: RunConfig) -> Path | None:
        if run.endpoint.expect is not None:
            return run.endpoint.expect
        return workload.path if _endpoint(cell).serves_the_workload else None

    def check_module(self, module: UserModule, role: str) -> str | None:
        return "a user's server is named by --serve or --url, not by a module"

    def transform_command(self, module: UserModule, source: Path, chunk_bytes: int) -> list[str]:
        raise RuntimeError("a user's server runs no transform")

    def profile_passes(self, kind: str) -> tuple[str, ...]:
        return ()

    def profiler_unavailable(self, kind: str) -> str | None:
        return "a user's server is not profiled by streambench (run it under your own profiler)"

    def summarize_profile(
        self, pass_name: str, out_dir: Path, run_dir: Path
    ) -> tuple[dict[str, Any], dict[str, str]]:
        raise RuntimeError("a user's server is not profiled")

    def standalone_command(self, strategy: str, source: Path, dest: Path, chunk_bytes: int) -> list[str]:
        raise RuntimeError(NOT_A_WORKER)

    def reported_version(self, notes: Mapping[str, Any]) -> str | None:
        return None


def _endpoint(cell: Cell) -> UserEndpoint:
    return parse_user_endpoint(cell.strategy)


ENDPOINT = EndpointRuntime()
