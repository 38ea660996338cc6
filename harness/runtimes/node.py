"""The Node.js runtime: the seeds' own stream code (``harness/node/*.mjs``) run by ``node``.

Its worker is ``node harness/node/worker.mjs JOB`` (the Python worker's contract: the harness owns
the sink and passes its fd, Node wraps it as a socket or a file stream and reports the same keys);
its server is ``harness/node/server.mjs`` (the aiohttp server's protocol). Node cannot set its own
parent-death signal, so it starts through ``setpriv --pdeathsig KILL``. Node's gzip writes other
bytes than Python's zlib, so the far end decodes the stream and checks the workload's bytes. Its
profilers are V8's own: ``--cpu-prof`` (a ``.cpuprofile`` with idle and on-CPU time both) and
``--heap-prof`` (sampled allocations live at exit).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streambench.harness.common.lifeline import dies_with_us
from streambench.harness.common.paths import PACKAGE_ROOT
from streambench.harness.plan.applicability import browser_skip_reason
from streambench.harness.plan.config import Cell, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.runtimes import WorkerCommand, check_in_child
from streambench.strategies.base import Capability, Strategy
from streambench.strategies.transforms import GREP_PATTERN, GZIP_LEVEL
from streambench.strategies.user_module import UserModule, is_user_module, parse_user_module
from streambench.workloads.cache import Workload

if TYPE_CHECKING:
    from streambench.harness.http.server_config import ServerConfig
    from streambench.harness.http.server_handle import ServerHandle

NODE_DIR = PACKAGE_ROOT / "harness" / "node"
# The Node servers (harness/node/server.mjs): the seed's endpoint, and one that honours Range.
SERVERS = ("node-pipe", "node-pipeline")
PASSES: dict[str, tuple[str, ...]] = {"memory": ("memory",), "cpu": ("cpu",)}
ARTIFACTS = {"cpu": "node.cpuprofile", "memory": "node.heapprofile"}
# Frames of the streambench Node code (the strategies), and V8's idle pseudo-frame.
CODE_MARK = "/harness/node/"
V8_IDLE = "(idle)"
TOP_N = 10


class NodeRuntime:
    name = "node"
    language = "js"

    def binary(self) -> str | None:
        return shutil.which("node")

    def unavailable(self) -> str | None:
        if self.binary() is None:
            return "node is not installed (apt-get install nodejs)"
        if shutil.which("setpriv") is None:
            return "setpriv (util-linux) is missing: a Node worker could outlive the harness"
        return None

    def version(self) -> str | None:
        binary = self.binary()
        return _version(binary) if binary else None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "executable": self.binary(), "version": self.version()}

    def skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        if cell.transform != "none" and Capability.TRANSFORMS not in strategy.capabilities:
            return f"{strategy.name} holds the whole file and writes it once: it runs no transform"
        if cell.sink in ("http", "browser"):
            if strategy.name not in SERVERS:
                return "a Node server is node-pipe (the seed's, no Range) or node-pipeline (Range-aware)"
            if cell.sink == "browser":
                return browser_skip_reason(cell)
            if cell.http_route != "file" or cell.transform != "none":
                return "a Node server serves the file route only (no export, upload, s3 or transform)"
            return None
        if cell.transform == "csv-select":
            return "csv-select has no Node transform (gzip, sha256 and grep do)"
        return None

    def worker_command(
        self, job: dict[str, Any], run: PlannedRun, profile_dir: Path | None, rate_hz: int
    ) -> WorkerCommand:
        job["gzip_level"] = GZIP_LEVEL
        job["grep_pattern"] = GREP_PATTERN.decode("latin1")
        # A user's module (strategy or transform) by its absolute path, export and options.
        if is_user_module(job["strategy"]):
            module = parse_user_module(job["strategy"])
            job["user_module"] = {"path": str(module.path), "export": module.export or "default",
                                  "options": dict(module.options)}  # fmt: skip
        if is_user_module(job["transform"]):
            module = parse_user_module(job["transform"])
            job["transform_module"] = {"path": str(module.path), "export": module.export or "default"}
        flags: list[str] = []
        if profile_dir is not None and run.profiler in ARTIFACTS:
            flag = "cpu-prof" if run.profiler == "cpu" else "heap-prof"
            flags = [f"--{flag}", f"--{flag}-dir={profile_dir}", f"--{flag}-name={ARTIFACTS[run.profiler]}"]
        # setpriv: Node dies with the harness (it cannot ask for a parent-death signal itself).
        argv = dies_with_us([self.binary() or "node", *flags, str(NODE_DIR / "worker.mjs"), json.dumps(job)])
        return WorkerCommand(argv, through=True)

    def far_end_decodes(self, cell: Cell) -> str | None:
        return "gzip" if cell.transform == "gzip" else None

    def start_server(
        self, cell: Cell, config: ServerConfig, run: RunConfig, cgroup_procs: Path | None
    ) -> ServerHandle:
        from streambench.harness.http.server_handle import ServerProcess

        program = dies_with_us([self.binary() or "node", str(NODE_DIR / "server.mjs")])
        return ServerProcess.start(config, program=program, cgroup_procs=cgroup_procs)

    def preflight(self, cell: Cell, workload: Workload, run: RunConfig) -> None:
        """Nothing: its worker and server are streambench's own."""

    def body_file(self, cell: Cell, workload: Workload, run: RunConfig) -> Path | None:
        return workload.path

    def check_module(self, module: UserModule, role: str) -> str | None:
        argv = [self.binary() or "node", str(NODE_DIR / "user_code.mjs"), "check", role, str(module.path),
                module.export or "default"]  # fmt: skip
        return check_in_child(argv)

    def transform_command(self, module: UserModule, source: Path, chunk_bytes: int) -> list[str]:
        script = str(NODE_DIR / "user_code.mjs")
        export = module.export or "default"
        node = self.binary() or "node"
        return dies_with_us(
            [node, script, "reference", str(module.path), export, str(source), str(chunk_bytes)]
        )

    def profile_passes(self, kind: str) -> tuple[str, ...]:
        return PASSES[kind]

    def profiler_unavailable(self, kind: str) -> str | None:
        return None  # V8's profilers come with node

    def summarize_profile(
        self, pass_name: str, out_dir: Path, run_dir: Path
    ) -> tuple[dict[str, Any], dict[str, str]]:
        path = out_dir / ARTIFACTS[pass_name]
        doc = json.loads(path.read_text())
        summary = summarize_cpuprofile(doc) if pass_name == "cpu" else summarize_heapprofile(doc)
        return summary, {f"{pass_name}_profile": str(path.relative_to(run_dir))}

    def standalone_command(self, strategy: str, source: Path, dest: Path, chunk_bytes: int) -> list[str]:
        return [self.binary() or "node", str(NODE_DIR / "standalone.mjs"), strategy, str(source), str(dest),
                str(chunk_bytes)]  # fmt: skip

    def reported_version(self, notes: Mapping[str, Any]) -> str | None:
        reported = notes.get("node_version")
        return str(reported) if reported else None


@cache
def _version(binary: str) -> str | None:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


# --- V8's profiles ------------------------------------------------------------------------------


def _v8_label(frame: dict[str, Any]) -> str:
    url = str(frame.get("url") or "")
    where = f" {url.rsplit('/', 1)[-1]}:{int(frame.get('lineNumber', -1)) + 1}" if url else ""
    return f"{frame.get('functionName') or '(anonymous)'}{where}"


def summarize_cpuprofile(doc: dict[str, Any]) -> dict[str, Any]:
    """Top functions by self and total samples of a V8 ``.cpuprofile``; on-CPU share; strategy share."""
    nodes = {int(n["id"]): n for n in doc["nodes"]}
    parent: dict[int, int] = {}
    for n in doc["nodes"]:
        for child in n.get("children", ()):
            parent[int(child)] = int(n["id"])
    samples = [int(s) for s in doc.get("samples", ())]
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    idle = in_code = 0
    for sample in samples:
        frame = nodes[sample]["callFrame"]
        if frame.get("functionName") == V8_IDLE:
            idle += 1
            continue
        self_counts[_v8_label(frame)] += 1
        seen: set[str] = set()
        node_id: int | None = sample
        ours = False
        while node_id is not None:
            f = nodes[node_id]["callFrame"]
            seen.add(_v8_label(f))
            ours = ours or CODE_MARK in str(f.get("url") or "")
            node_id = parent.get(node_id)
        total_counts.update(seen)
        in_code += ours
    n = max(1, len(samples))

    def top(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": f, "samples": c, "share": c / n} for f, c in counter.most_common(TOP_N)]

    return {
        "samples": len(samples),
        "profiler": "node --cpu-prof",
        "active_share": (len(samples) - idle) / n,
        "strategy_share": in_code / n,
        "top_self": top(self_counts),
        "top_total": top(total_counts),
        # py-spy's summaries carry this; V8 shows waiting as (idle), counted above.
        "wait_leaf_share": idle / n,
    }


def summarize_heapprofile(doc: dict[str, Any]) -> dict[str, Any]:
    """Sampled bytes still allocated at exit by site, from a V8 ``.heapprofile`` (sampling heap profiler)."""
    sites: Counter[str] = Counter()
    todo = [doc["head"]]
    while todo:
        node = todo.pop()
        if node.get("selfSize"):
            sites[_v8_label(node["callFrame"])] += int(node["selfSize"])
        todo.extend(node.get("children", ()))
    total = sum(sites.values())
    return {
        "profiler": "node --heap-prof (sampled, live at exit)",
        "sampled_live_bytes": total,
        "top_allocations": [{"location": s, "size_bytes": b} for s, b in sites.most_common(TOP_N)],
    }


NODE = NodeRuntime()
