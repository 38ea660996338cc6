"""A user's module named in a matrix, checked before anything runs: it exists, its suffix names a
language a runtime runs, and loaded apart (a child of its runtime) it exports what the contract asks.
Any problem is one line and exit 2 (UsageError), before a workload is made."""

from __future__ import annotations

from functools import cache

from streambench.harness import runtimes
from streambench.harness.common.errors import UsageError
from streambench.strategies.user_module import is_user_module, parse_user_module


def check_user_module(spec: str, role: str) -> None:
    """``role``: "strategy" or "transform". A module whose runtime is not installed is left to the plan
    (its cells are skipped, with the reason)."""
    if not is_user_module(spec):
        return
    module = parse_user_module(spec)
    runtime = runtimes.for_language(module.language)
    if runtime.unavailable() is not None:
        return
    problem = _check(runtime.name, str(module.path), module.export, role, module.path.stat().st_mtime_ns)
    if problem is not None:
        raise UsageError(f"{role} {module.given}: {problem}")


@cache
def _check(runtime_name: str, path: str, export: str, role: str, mtime_ns: int) -> str | None:
    module = parse_user_module(path + (f":{export}" if export else ""))
    return runtimes.get(runtime_name).check_module(module, role)
