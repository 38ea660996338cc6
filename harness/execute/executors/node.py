"""The Node.js executor: the same cells, sinks, probes and verification, with Node moving the bytes.

``node harness/node/worker.mjs JOB`` replaces ``python -m harness.worker JOB``:
the harness owns the sink and passes its fd number; Node wraps it as it wraps a
pipe or a socket (``net.Socket({fd})``) or a file (``fs.createWriteStream(null,
{fd})``), reports the measured section under the same keys, and the parent
watches, reaps and verifies it exactly as it does a Python worker. Node cannot
set its own parent-death signal, so it starts through ``setpriv --pdeathsig
KILL``. Node's gzip is judged by what it compressed: its zlib writes other bytes
than Python's, so the far end decodes the stream and checks the workload's bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from typing import Any

from harness.common.lifeline import dies_with_us
from harness.common.paths import PACKAGE_ROOT
from harness.execute.context import RunContext
from harness.execute.executors.worker import WorkerExecutor
from harness.execute.expected import Expected
from harness.execute.measurement import MeasuredReport, Measurement
from harness.measure.profilers import NODE_ARTIFACTS
from harness.plan.planning import PlannedRun
from strategies.transforms import GREP_PATTERN, GZIP_LEVEL

NODE_WORKER = PACKAGE_ROOT / "harness" / "node" / "worker.mjs"
NODE_STANDALONE = PACKAGE_ROOT / "harness" / "node" / "standalone.mjs"
NODE_SERVER = PACKAGE_ROOT / "harness" / "node" / "server.mjs"
CPU_PROFILE_NAME = NODE_ARTIFACTS["cpu"]
HEAP_PROFILE_NAME = NODE_ARTIFACTS["memory"]


def node_binary() -> str | None:
    return shutil.which("node")


@cache
def node_version() -> str | None:
    node = node_binary()
    if node is None:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


class NodeExecutor(WorkerExecutor):
    runtime = "node"

    def decode(self, planned: PlannedRun) -> str | None:
        return "gzip" if planned.cell.transform == "gzip" else None

    def command(self, planned: PlannedRun, ctx: RunContext, job: dict[str, Any]) -> tuple[list[str], bool]:
        node = node_binary()
        if node is None:
            raise RuntimeError("node is not installed")
        job["gzip_level"] = GZIP_LEVEL
        job["grep_pattern"] = GREP_PATTERN.decode("latin1")
        flags: list[str] = []
        if ctx.profile_dir is not None and planned.profiler == "cpu":
            flags = ["--cpu-prof", f"--cpu-prof-dir={ctx.profile_dir}", f"--cpu-prof-name={CPU_PROFILE_NAME}"]
        elif ctx.profile_dir is not None and planned.profiler == "memory":
            flags = [
                "--heap-prof",
                f"--heap-prof-dir={ctx.profile_dir}",
                f"--heap-prof-name={HEAP_PROFILE_NAME}",
            ]
        # setpriv: Node dies with the harness (it cannot ask for a parent-death signal itself).
        argv = dies_with_us([node, *flags, str(NODE_WORKER), json.dumps(job)])
        return argv, True

    def runtime_version(self, report: MeasuredReport | None) -> str:
        reported = report.strategy_notes.get("node_version") if report is not None else None
        return str(reported or node_version() or "?")

    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        if planned.cell.transform == "gzip":
            # What arrives is decoded at the far end: it must be the workload itself.
            manifest = ctx.workload.manifest
            ctx.expected = Expected(manifest.size_bytes, manifest.xxh3_64)
        return super().run(planned, ctx)


def node_server_program() -> list[str]:
    """The Node HTTP server (the seed's endpoint, or Range-aware), dying with the harness."""
    return dies_with_us([node_binary() or "node", str(NODE_SERVER)])
