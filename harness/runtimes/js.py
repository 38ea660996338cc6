"""What the JavaScript runtimes share: the seeds' code (``harness/node/*.mjs``) run by a JS engine.

Node, Bun and Deno all run the same worker (``harness/node/worker.mjs``: the Python worker's contract;
the harness owns the sink and passes its fd, the runtime wraps it as a socket or a file stream and
reports the same keys) and the same server (``harness/node/server.mjs``), through ``node:fs``,
``node:stream``, ``node:net`` and ``node:http``, which Bun and Deno implement. :class:`JsRuntime` is
that shared part; each runtime's own file (``node.py``, ``bun.py``, ``deno.py``) says how its binary
is found or installed, how it runs a script, what its profilers are and what it cannot do. A
runtime named with a version (``node@22``) is one installed from npm into streambench's cache
(``streambench runtimes install node@22``, :mod:`harness.runtimes.installed`); unversioned, it is
the one on ``PATH`` (the system ``node``), else the one installed under its bare name.

A JS runtime cannot set its own parent-death signal, so it starts through ``setpriv --pdeathsig
KILL``. Its gzip writes other bytes than Python's zlib, so the far end decodes the stream and checks
the workload's bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from streambench.harness.common.lifeline import dies_with_us
from streambench.harness.common.paths import PACKAGE_ROOT
from streambench.harness.measure.flame import flame_svg
from streambench.harness.plan.applicability import browser_skip_reason
from streambench.harness.plan.config import Cell, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.runtimes import WorkerCommand, check_in_child, installed
from streambench.strategies.base import Capability, Strategy
from streambench.strategies.transforms import GREP_PATTERN, GZIP_LEVEL
from streambench.strategies.user_module import UserModule, is_user_module, parse_user_module
from streambench.workloads.cache import Workload

if TYPE_CHECKING:
    from streambench.harness.http.server_config import ServerConfig
    from streambench.harness.http.server_handle import ServerHandle

NODE_DIR = PACKAGE_ROOT / "harness" / "node"
# The JS servers (harness/node/server.mjs): the seed's endpoint, one that honours Range (both on
# node:http), and each runtime's native server (Bun.serve, Deno.serve: Range-aware).
SERVERS = ("node-pipe", "node-pipeline", "bun-serve", "deno-serve")
ARTIFACTS = {"cpu": "js.cpuprofile", "memory": "js.heapprofile"}
# Frames of the streambench JS code (the strategies), and V8's idle pseudo-frame.
CODE_MARK = "/harness/node/"
V8_IDLE = "(idle)"
TOP_N = 10


class JsRuntime:
    """One JS runtime at one version: the shared worker, server and profiles; hooks for its own ways."""

    language = "js"
    # Set by each runtime's file:
    base: ClassVar[str]  # "node", "bun", "deno": its name without a version
    title: ClassVar[str]  # "Node.js", "Bun", "Deno"
    npm_package: ClassVar[str]  # what npm installs it from
    binary_in: ClassVar[str]  # the binary's path inside an npm install
    run_flags: ClassVar[tuple[str, ...]] = ()  # before the script: ("run", "-A") for deno
    # The V8-style profilers it has (--cpu-prof, --heap-prof), by pass name.
    profilers: ClassVar[tuple[str, ...]] = ("cpu", "memory")
    # Inherited files and pipes (the file sink, the result pipe) opened again through /proc/self/fd/N:
    # a runtime whose node:fs cannot use an inherited descriptor (Deno's).
    reopens_fds: ClassVar[bool] = False
    # Its node:http can listen on an inherited socket (Bun's cannot: it binds a port of its own).
    listens_on_fd: ClassVar[bool] = True
    # For the plan's estimate: the runtime's start, and what its streams move into a reading process
    # here (0.8-1.9 GB/s measured at 1 GiB on Node, Bun and Deno).
    start_s: ClassVar[float] = 0.15
    typical_bps: ClassVar[float] = 1.0e9

    def __init__(self, version: str = "") -> None:
        self.requested = version
        self.name = f"{self.base}@{version}" if version else self.base

    def at(self, version: str) -> JsRuntime:
        """This runtime at a version installed from npm (``node@22``)."""
        return type(self)(version)

    def install_spec(self) -> tuple[str, str]:
        """(npm package spec, the binary's path inside the install): what ``runtimes install`` runs."""
        return (
            f"{self.npm_package}@{self.requested}" if self.requested else self.npm_package
        ), self.binary_in

    def binary(self) -> str | None:
        if not self.requested:
            found = shutil.which(self.base)
            if found:
                return found
        manifest = installed.load(self.name)
        return manifest.binary if manifest else None

    def script(self, script: Path, *args: str, flags: tuple[str, ...] = ()) -> list[str]:
        return [self.binary() or self.base, *self.run_flags, *flags, str(script), *args]

    def unavailable(self) -> str | None:
        if self.binary() is None:
            return f"{self.name} is not installed (streambench runtimes install {self.name})"
        if shutil.which("setpriv") is None:
            return "setpriv (util-linux) is missing: a JS worker could outlive the harness"
        return None

    def version(self) -> str | None:
        binary = self.binary()
        return _version(binary, self.base) if binary else None

    def describe(self) -> dict[str, Any]:
        manifest = installed.load(self.name)
        return {"name": self.name, "executable": self.binary(), "version": self.version(),
                "installed": manifest.package if manifest else "on PATH"}  # fmt: skip

    def own_skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        """What this runtime cannot do of a cell the shared rules allow (its file says)."""
        return None

    def skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        only = getattr(strategy, "only_runtime", None)
        if only is not None and only != self.base:
            return f"{strategy.name} is {only}'s own API"
        if cell.transform != "none" and Capability.TRANSFORMS not in strategy.capabilities:
            return f"{strategy.name} holds the whole file and writes it once: it runs no transform"
        native_server = getattr(strategy, "native_server", False)
        if native_server and cell.sink not in ("http", "browser"):
            return f"{strategy.name} is a server: --sink http or browser"
        if cell.sink in ("http", "browser"):
            if strategy.name not in SERVERS:
                return (
                    "a JS server is node-pipe (the seed's, no Range), node-pipeline (Range-aware), "
                    "bun-serve or deno-serve (the runtimes' own)"
                )
            if cell.sink == "browser":
                return browser_skip_reason(cell)
            if cell.http_route != "file" or cell.transform != "none":
                return "a JS server serves the file route only (no export, upload, s3 or transform)"
        elif cell.transform == "csv-select":
            return "csv-select has no JS transform (gzip, sha256 and grep do)"
        return self.own_skip_reason(cell, strategy)

    def worker_env(self, options: Mapping[str, str]) -> dict[str, str]:
        """Environment a strategy's options set for this runtime (Node's io_uring switch)."""
        return {}

    def worker_command(
        self, job: dict[str, Any], run: PlannedRun, profile_dir: Path | None, rate_hz: int
    ) -> WorkerCommand:
        job["gzip_level"] = GZIP_LEVEL
        job["grep_pattern"] = GREP_PATTERN.decode("latin1")
        job["reopen_fds"] = self.reopens_fds
        # A user's module (strategy or transform) by its absolute path, export and options.
        if is_user_module(job["strategy"]):
            module = parse_user_module(job["strategy"])
            job["user_module"] = {"path": str(module.path), "export": module.export or "default",
                                  "options": dict(module.options)}  # fmt: skip
        if is_user_module(job["transform"]):
            module = parse_user_module(job["transform"])
            job["transform_module"] = {"path": str(module.path), "export": module.export or "default"}
        flags: tuple[str, ...] = ()
        if profile_dir is not None and run.profiler in ARTIFACTS:
            flag = "cpu-prof" if run.profiler == "cpu" else "heap-prof"
            flags = (f"--{flag}", f"--{flag}-dir={profile_dir}", f"--{flag}-name={ARTIFACTS[run.profiler]}")
        from streambench.strategies.registry import split_spec

        options: dict[str, str] = {}
        if not is_user_module(job["strategy"]):
            # The worker knows strategies by name; their options are this runtime's (its environment).
            job["strategy"], options = split_spec(job["strategy"])
            job["strategy_options"] = options
        # setpriv: the runtime dies with the harness (it cannot ask for a parent-death signal itself).
        argv = dies_with_us(self.script(NODE_DIR / "worker.mjs", json.dumps(job), flags=flags))
        return WorkerCommand(argv, through=True, env=self.worker_env(options))

    def far_end_decodes(self, cell: Cell) -> str | None:
        return "gzip" if cell.transform == "gzip" else None

    def start_server(
        self, cell: Cell, config: ServerConfig, run: RunConfig, cgroup_procs: Path | None
    ) -> ServerHandle:
        from streambench.harness.http.server_handle import ServerProcess
        from streambench.strategies.registry import load_registry

        native_server = getattr(load_registry().resolve(cell.strategy)[0], "native_server", False)
        reopen = ("--reopen-fds", str(int(self.reopens_fds)))
        program = dies_with_us(self.script(NODE_DIR / "server.mjs", *reopen))
        return ServerProcess.start(
            config, program=program, cgroup_procs=cgroup_procs,
            listens_on_fd=self.listens_on_fd and not native_server,
        )  # fmt: skip

    def preflight(self, cell: Cell, workload: Workload, run: RunConfig) -> None:
        """Nothing: its worker and server are streambench's own."""

    def body_file(self, cell: Cell, workload: Workload, run: RunConfig) -> Path | None:
        return workload.path

    def check_module(self, module: UserModule, role: str) -> str | None:
        return check_in_child(self.script(NODE_DIR / "user_code.mjs", "check", role, str(module.path),
                                          module.export or "default"))  # fmt: skip

    def transform_command(self, module: UserModule, source: Path, chunk_bytes: int) -> list[str]:
        export = module.export or "default"
        args = ("reference", str(module.path), export, str(source), str(chunk_bytes))
        return dies_with_us(self.script(NODE_DIR / "user_code.mjs", *args))

    def profile_passes(self, kind: str) -> tuple[str, ...]:
        return (kind,) if kind in self.profilers else ()

    def profiler_unavailable(self, kind: str) -> str | None:
        if kind in self.profilers:
            return None
        return f"{self.title} has no --{kind}-prof (attach a debugger with --inspect instead)"

    def summarize_profile(
        self, pass_name: str, out_dir: Path, run_dir: Path
    ) -> tuple[dict[str, Any], dict[str, str]]:
        path = out_dir / ARTIFACTS[pass_name]
        doc = json.loads(path.read_text())
        artifacts = {f"{pass_name}_profile": str(path.relative_to(run_dir))}
        if pass_name == "cpu":
            summary = summarize_cpuprofile(doc)
            # The flame graph py-spy draws for Python, drawn here from the runtime's own profile.
            svg = flame_svg(doc, f"{self.title} --cpu-prof, on-CPU time")
            if svg:
                flame = out_dir / "js-flamegraph.svg"
                flame.write_text(svg)
                artifacts["flamegraph_svg"] = str(flame.relative_to(run_dir))
        elif "snapshot" in doc:  # Bun's --heap-prof writes a heap snapshot, not V8's sampled profile
            summary = summarize_heapsnapshot(doc)
        else:
            summary = summarize_heapprofile(doc)
        summary["profiler"] = str(summary["profiler"]).replace("node", self.base, 1)
        return summary, artifacts

    def standalone_command(self, strategy: str, source: Path, dest: Path, chunk_bytes: int) -> list[str]:
        return self.script(NODE_DIR / "standalone.mjs", strategy, str(source), str(dest), str(chunk_bytes))

    def reported_version(self, notes: Mapping[str, Any]) -> str | None:
        reported = notes.get("runtime_version") or notes.get("node_version")
        return str(reported).lstrip("v") if reported else None


@cache
def _version(binary: str, base: str) -> str | None:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    text = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    return text.removeprefix(f"{base} ").split(" ")[0].lstrip("v") or None


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


def summarize_heapsnapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """Bytes live at exit by object type and name, from a heap snapshot (what Bun's ``--heap-prof``
    writes: every object, not a sample; no allocation sites)."""
    meta = doc["snapshot"]["meta"]
    fields = list(meta["node_fields"])
    stride = len(fields)
    at_type, at_name, at_size = fields.index("type"), fields.index("name"), fields.index("self_size")
    type_names = meta["node_types"][0]
    strings = doc["strings"]
    nodes = doc["nodes"]
    sites: Counter[str] = Counter()
    for i in range(0, len(nodes) - stride + 1, stride):
        kind = type_names[nodes[i + at_type]] if isinstance(type_names, list) else str(nodes[i + at_type])
        sites[f"{kind} {strings[nodes[i + at_name]]}"] += int(nodes[i + at_size])
    return {
        "profiler": "node --heap-prof (a heap snapshot at exit)",
        "live_bytes_are": "every object",
        "live_bytes": sum(sites.values()),
        "top_allocations": [{"location": s, "size_bytes": b} for s, b in sites.most_common(TOP_N)],
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
        "live_bytes_are": "sampled",
        "live_bytes": total,
        "top_allocations": [{"location": s, "size_bytes": b} for s, b in sites.most_common(TOP_N)],
    }
