"""The Python runtime: the interpreter running streambench runs the Python strategies.

Its worker is ``python -m harness.worker JOB``, forked already imported by the forkserver
(:mod:`harness.common.forkserver`) unless a profiler runs it; its server is the aiohttp one
(``harness.http.server_child``); its profilers are memray (memory) and py-spy (CPU, two passes).
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streambench.harness.measure import profilers
from streambench.harness.plan.applicability import (
    browser_skip_reason,
    python_http_skip_reason,
    transform_skip_reason,
)
from streambench.harness.plan.config import Cell, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.runtimes import WorkerCommand, check_in_child
from streambench.strategies.base import Strategy
from streambench.strategies.user_module import UserModule
from streambench.workloads.cache import Workload

if TYPE_CHECKING:
    from streambench.harness.http.server_config import ServerConfig
    from streambench.harness.http.server_handle import ServerHandle

# A user's module loaded apart: checked at plan time, or a transform's reference output.
CHECK_MODULE = "streambench.harness.worker.user_code"
WORKER_MODULE = "streambench.harness.worker"


class PythonRuntime:
    name = "python"
    language = "python"

    def unavailable(self) -> str | None:
        return None  # it runs streambench itself

    def version(self) -> str:
        return platform.python_version()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "executable": sys.executable, "version": self.version()}

    def skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        if cell.sink == "http":
            return python_http_skip_reason(cell, strategy.name)
        if cell.sink == "browser":
            from streambench.strategies.http_serving import skip_reason as http_skip_reason

            why = http_skip_reason(strategy.name)
            return f"{strategy.name} cannot serve HTTP: {why}" if why else browser_skip_reason(cell)
        return transform_skip_reason(cell, strategy)

    def worker_command(
        self, job: dict[str, Any], run: PlannedRun, profile_dir: Path | None, rate_hz: int
    ) -> WorkerCommand:
        if run.profiler == "memory" and profile_dir is not None:
            capture = profilers.memray_capture_path(profile_dir)
            capture.unlink(missing_ok=True)  # memray never overwrites a capture
            job["memray_path"] = str(capture)
        argv = [sys.executable, "-m", WORKER_MODULE, json.dumps(job)]
        if run.profiler is None or profile_dir is None:
            return WorkerCommand(argv, fork_module=WORKER_MODULE)
        profiled = profilers.worker_argv(run.profiler, argv, profile_dir, run.cell.strategy, rate_hz)
        return WorkerCommand(profiled, through=profiled[0] != sys.executable)

    def far_end_decodes(self, cell: Cell) -> str | None:
        return None  # our transforms' bytes are the reference's own

    def start_server(
        self, cell: Cell, config: ServerConfig, run: RunConfig, cgroup_procs: Path | None
    ) -> ServerHandle:
        from streambench.harness.http.server_handle import ServerProcess

        # Forked already imported (harness.common.forkserver): aiohttp's imports cost ~0.3-0.5 s a run.
        return ServerProcess.start(config, cgroup_procs=cgroup_procs, forked=True)

    def preflight(self, cell: Cell, workload: Workload, run: RunConfig) -> None:
        """Nothing: its worker and server are streambench's own."""

    def body_file(self, cell: Cell, workload: Workload, run: RunConfig) -> Path | None:
        return workload.path

    def check_module(self, module: UserModule, role: str) -> str | None:
        return check_in_child(
            [sys.executable, "-m", CHECK_MODULE, "check", role, str(module.path) + _export(module)]
        )

    def transform_command(self, module: UserModule, source: Path, chunk_bytes: int) -> list[str]:
        spec = str(module.path) + _export(module)
        return [sys.executable, "-m", CHECK_MODULE, "reference", spec, str(source), str(chunk_bytes)]

    def profile_passes(self, kind: str) -> tuple[str, ...]:
        return profilers.PASSES[kind]

    def profiler_unavailable(self, kind: str) -> str | None:
        return profilers.unavailable_reason(kind)

    def summarize_profile(
        self, pass_name: str, out_dir: Path, run_dir: Path
    ) -> tuple[dict[str, Any], dict[str, str]]:
        return profilers.summarize(pass_name, out_dir, run_dir)

    def standalone_command(self, strategy: str, source: Path, dest: Path, chunk_bytes: int) -> list[str]:
        return [sys.executable, "-m", "streambench.harness.worker.standalone", strategy, str(source),
                str(dest), "--chunk-size", str(chunk_bytes)]  # fmt: skip

    def reported_version(self, notes: Mapping[str, Any]) -> str | None:
        return None  # the harness's own interpreter ran it


def _export(module: UserModule) -> str:
    return f":{module.export}" if module.export else ""


PYTHON = PythonRuntime()
