"""The runtime seam: what runs a strategy (Python, Node.js, ...), one file per runtime.

Everything the harness must know about a runtime is asked of its :class:`Runtime`: whether it can
run here and its version, which cells it can run and why not, the command that starts its measured
worker for a run (profiled or not), what the far end must decode, its HTTP server (started) and what
its bodies are checked against, what is wrong with a user's module and a user's transform's output,
its profiler passes and their summaries, and the command of a bare standalone run for
``bench-overhead``. The endpoint runtime's "server" is the user's own. A strategy class says which
*language* it is written in (``language``, "python" when it says nothing); a cell names its runtime
(``Cell.runtime``) or gets the default runtime of its strategy's language.

Built-in runtimes are listed here by import path (imported only when asked for); a package adds one
through the entry-point group ``streambench.runtimes`` (an object with this shape), and a test
through :func:`register`. Nothing outside this package compares a runtime's name
(``tests/unit/test_layers.py`` checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from streambench.harness.common.errors import UsageError

if TYPE_CHECKING:
    from streambench.harness.http.server_config import ServerConfig
    from streambench.harness.http.server_handle import ServerHandle
    from streambench.harness.plan.config import Cell, RunConfig
    from streambench.harness.plan.planning import PlannedRun
    from streambench.strategies.base import Strategy
    from streambench.strategies.user_module import UserModule
    from streambench.workloads.cache import Workload

ENTRY_POINT_GROUP = "streambench.runtimes"
# name -> "module:attribute" of the runtime object; the first of a language is its default.
BUILTINS: dict[str, str] = {
    "python": "streambench.harness.runtimes.python:PYTHON",
    "node": "streambench.harness.runtimes.node:NODE",
    "bun": "streambench.harness.runtimes.bun:BUN",
    "deno": "streambench.harness.runtimes.deno:DENO",
    "endpoint": "streambench.harness.runtimes.endpoint:ENDPOINT",
}
DEFAULT_LANGUAGE = "python"


@dataclass(frozen=True)
class WorkerCommand:
    """How a run's measured worker starts."""

    argv: list[str]
    # Started through another program (py-spy, setpriv): the worker's parent is that program, so
    # it cannot check that its parent is the harness (harness.common.lifeline).
    through: bool = False
    # Set in its environment (Node's UV_USE_IO_URING, from a strategy option).
    env: Mapping[str, str] = field(default_factory=dict)
    # A module of ours that argv runs as ``python -m MODULE ARGS...``: the forkserver may fork it,
    # already imported, instead (harness.common.forkserver).
    fork_module: str | None = None


class Runtime(Protocol):
    """One runtime's answers to everything the harness asks of it."""

    name: str  # as cells, records and reports name it: "python", "node"
    language: str  # the strategies it runs: a strategy class's ``language``

    def unavailable(self) -> str | None:
        """Why it cannot run here, with the command that would fix it; None when it can."""
        ...

    def version(self) -> str | None: ...

    def describe(self) -> dict[str, Any]:
        """What run.json and ``streambench runtimes`` say of it: executable, versions."""
        ...

    def skip_reason(self, cell: Cell, strategy: type[Strategy]) -> str | None:
        """Why this runtime cannot run this cell (a server it has not, a transform it lacks)."""
        ...

    def worker_command(
        self, job: dict[str, Any], run: PlannedRun, profile_dir: Path | None, rate_hz: int
    ) -> WorkerCommand:
        """The measured worker of one run (``job`` as the executor wrote it; a profiler pass may add
        to it), profiled when ``run.profiler`` says so."""
        ...

    def far_end_decodes(self, cell: Cell) -> str | None:
        """What the far end must decode before it counts (its gzip writes other bytes than ours)."""
        ...

    def start_server(
        self, cell: Cell, config: ServerConfig, run: RunConfig, cgroup_procs: Path | None
    ) -> ServerHandle:
        """The HTTP server of a cell, started, ready and under the cap (``cgroup_procs``): ours speak
        harness.http.server_child's protocol; the endpoint runtime's is the user's own."""
        ...

    def preflight(self, cell: Cell, workload: Workload, run: RunConfig) -> None:
        """Once per cell, before any run: raise UsageError when it cannot run at all (a user's server
        that exits at once or never opens its port); nothing to check for most runtimes."""
        ...

    def body_file(self, cell: Cell, workload: Workload, run: RunConfig) -> Path | None:
        """The file an HTTP cell's bodies must equal (None: nothing to check them against)."""
        ...

    def check_module(self, module: UserModule, role: str) -> str | None:
        """What is wrong with a user's module as a "strategy" or "transform", found by loading it apart
        (a child); None when it has the shape the contract asks."""
        ...

    def transform_command(self, module: UserModule, source: Path, chunk_bytes: int) -> list[str]:
        """A child that writes a user's transform of ``source`` (read ``chunk_bytes`` at a time) to stdout."""
        ...

    def profile_passes(self, kind: str) -> tuple[str, ...]:
        """The passes ``--profile KIND`` plans for a cell of this runtime."""
        ...

    def profiler_unavailable(self, kind: str) -> str | None: ...

    def summarize_profile(
        self, pass_name: str, out_dir: Path, run_dir: Path
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """A pass's summary for its record, and its artifacts (paths relative to the run)."""
        ...

    def standalone_command(self, strategy: str, source: Path, dest: Path, chunk_bytes: int) -> list[str]:
        """The strategy with no harness around it (``bench-overhead``); ``--noop`` appended: start-up only."""
        ...

    def reported_version(self, notes: Mapping[str, Any]) -> str | None:
        """The version its worker or server reported of itself (None: ask ``version()``)."""
        ...


CHECK_TIMEOUT_S = 30.0


def check_in_child(argv: list[str]) -> str | None:
    """Run a module check child: None when it exits 0, else the one line it printed."""
    import subprocess

    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"loading it took more than {CHECK_TIMEOUT_S:g} s"
    except OSError as exc:
        return f"cannot start {argv[0]}: {exc.strerror or exc}"
    if done.returncode == 0:
        return None
    lines = (done.stdout.strip() or done.stderr.strip() or f"exit status {done.returncode}").splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


_registered: dict[str, Runtime] = {}


def register(runtime: Runtime) -> None:
    """Make a runtime known in this process (tests; packages use the entry-point group)."""
    _registered[runtime.name] = runtime


def unregister(name: str) -> None:
    _registered.pop(name, None)


@cache
def _builtin(name: str) -> Runtime:
    module_name, _, attribute = BUILTINS[name].partition(":")
    runtime: Runtime = getattr(importlib.import_module(module_name), attribute)
    return runtime


@cache
def _plugins() -> dict[str, Runtime]:
    from importlib.metadata import entry_points

    found: dict[str, Runtime] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            runtime = ep.load()
            found[str(runtime.name)] = runtime
        except Exception:  # a broken plugin runtime is one that is not there
            continue
    return found


def names() -> list[str]:
    """Every runtime known here: built-ins, versions installed from npm (``node@22``), plugins, tests'."""
    from streambench.harness.runtimes import installed

    versions = [r.name for r in installed.installed() if r.name not in BUILTINS]
    return list(dict.fromkeys([
        *BUILTINS,
        *versions,
        *(n for n in _registered if n not in BUILTINS),
        *(n for n in _plugins() if n not in BUILTINS),
    ]))  # fmt: skip


def get(name: str) -> Runtime:
    """A runtime by name; ``BASE@VERSION`` is a built-in at a version from npm (installed or not: one
    that is not says so, with the command that installs it)."""
    if name in _registered:
        return _registered[name]
    if name in BUILTINS:
        return _builtin(name)
    if name in _plugins():
        return _plugins()[name]
    base, at, version = name.partition("@")
    if at and base in BUILTINS and version and version.replace(".", "").replace("-", "").isalnum():
        versioned = getattr(_builtin(base), "at", None)
        if versioned is not None:
            runtime: Runtime = versioned(version)
            return runtime
    raise UsageError(f"unknown runtime {name!r}; valid: {', '.join(names())} (or NAME@VERSION from npm)")


def for_language(language: str) -> Runtime:
    """The default runtime of a language: the first one known that runs it."""
    for name in names():
        runtime = get(name)
        if runtime.language == language:
            return runtime
    raise UsageError(f"no runtime runs {language!r} strategies (known runtimes: {', '.join(names())})")


def language_of(strategy: type[Strategy]) -> str:
    return str(getattr(strategy, "language", DEFAULT_LANGUAGE))


def for_strategy(strategy: type[Strategy], name: str = "") -> Runtime:
    """The runtime a cell names, or its strategy language's default; it must run that language."""
    language = language_of(strategy)
    if not name:
        return for_language(language)
    runtime = get(name)
    if runtime.language != language:
        raise UsageError(f"runtime {name!r} runs {runtime.language} strategies, not {strategy.name!r}")
    return runtime


def for_cell(cell: Cell, plugins: bool = True) -> Runtime:
    """The runtime that runs a cell."""
    return for_strategy(_strategy_class(cell.strategy, plugins), cell.runtime)


@cache
def _strategy_class(spec: str, plugins: bool) -> type[Strategy]:
    from streambench.strategies.registry import load_registry

    cls, _ = load_registry(plugins=plugins).resolve(spec)
    return cls
