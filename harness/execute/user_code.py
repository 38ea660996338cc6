"""What a record says of the user's own subjects: their module's path and sha256, their server's
command, their file; so a changed module is never compared as the same subject (compare says so)."""

from __future__ import annotations

from typing import Any

from streambench.harness.plan.config import Cell, RunConfig
from streambench.strategies.user_endpoint import is_user_endpoint, parse_user_endpoint
from streambench.strategies.user_module import is_user_module, parse_user_module
from streambench.workloads.cache import Workload


def user_code_of(cell: Cell, workload: Workload, run: RunConfig) -> dict[str, Any]:
    """The record's ``user_code``: {} when the cell is all streambench's own."""
    out: dict[str, Any] = {}
    for role, spec in (("strategy", cell.strategy), ("transform", cell.transform)):
        if is_user_module(spec):
            module = parse_user_module(spec)
            out[role] = {"path": str(module.path), "sha256": module.sha256(), "language": module.language}
    if is_user_endpoint(cell.strategy):
        endpoint = parse_user_endpoint(cell.strategy)
        if endpoint.started_here:
            expect = run.endpoint.expect
            out["endpoint"] = {"command": endpoint.command, "path": run.endpoint.path,
                               "expect": str(expect) if expect else None}  # fmt: skip
        else:
            out["endpoint"] = {"url": cell.strategy.removeprefix("url:"), "server_measured": False}
    if workload.spec.is_user_file:
        out["workload"] = {"path": str(workload.path), "xxh3_64": workload.manifest.xxh3_64}
    return out
