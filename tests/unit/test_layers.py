"""Who may import whom, and where the kind of a cell may be read: checked on the source (ast)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("harness", "strategies", "workloads", "reports")
LEAF = "harness.common"
# Installed, the packages live under one namespace (so a user's own strategies/ never clashes).
INSTALLED_PREFIX = "streambench."


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


@cache
def _tree(path: Path) -> ast.Module:
    """A file's syntax tree, parsed once for every test here (parsing is most of their time)."""
    return ast.parse(path.read_text())


@cache
def _nodes(path: Path) -> list[ast.AST]:
    """Every node of a file's tree, walked once."""
    return list(ast.walk(_tree(path)))


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (a function-level import counts too), named as in
    the repository (``streambench.harness.x`` is ``harness.x``)."""
    found: set[str] = set()
    for node in _nodes(path):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name.removeprefix(INSTALLED_PREFIX) for name in found}


def _project_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    return {name for name in _imports(path) if name in modules}


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


MODULES = _modules()


@pytest.mark.parametrize("package", ["strategies", "workloads"])
def test_strategies_and_workloads_import_only_the_leaf_package(package: str) -> None:
    bad = {
        (name, imported)
        for name, path in MODULES.items()
        if _in(name, package)
        for imported in _project_imports(path, MODULES)
        if _in(imported, "harness") and not _in(imported, LEAF)
    }
    assert not bad, sorted(bad)


def test_reports_import_only_the_leaf_and_results_packages() -> None:
    bad = {
        (name, imported)
        for name, path in MODULES.items()
        if _in(name, "reports")
        for imported in _project_imports(path, MODULES)
        if _in(imported, "harness") and not (_in(imported, LEAF) or _in(imported, "harness.results"))
    }
    assert not bad, sorted(bad)


def test_the_leaf_package_imports_nothing_of_the_project() -> None:
    bad = {
        (name, imported)
        for name, path in MODULES.items()
        if _in(name, LEAF)
        for imported in _project_imports(path, MODULES)
        if not _in(imported, LEAF)
    }
    assert not bad, sorted(bad)


def test_the_plan_imports_no_reports() -> None:
    bad = {
        (name, imported)
        for name, path in MODULES.items()
        if _in(name, "harness.plan")
        for imported in _project_imports(path, MODULES)
        if _in(imported, "reports")
    }
    assert not bad, sorted(bad)


MEASURED_CHILDREN = (
    "harness.worker.__main__",
    "harness.sinks.consumer_child",
    "harness.http.server_child",
    "harness.http.clients_child",
    "harness.s3.client_child",
)


@pytest.mark.parametrize("child", MEASURED_CHILDREN)
def test_measured_children_never_import_pandas_rich_or_jinja2(child: str) -> None:
    """The closure of what a measured child can import (at any depth) holds none of them."""
    seen: set[str] = set()
    todo = [child]
    third_party: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in MODULES:
            continue
        seen.add(name)
        for imported in _imports(MODULES[name]):
            if imported in MODULES:
                todo.append(imported)
            else:
                third_party.add(imported.split(".")[0])
    assert not third_party & {"pandas", "rich", "jinja2"}, (child, sorted(seen))


# Where a cell's kind (its sink, its HTTP route) is read to decide how to run it.
_KIND_ATTRS = frozenset({"sink", "http_route"})
_RUN_ROOMS = ("harness.execute", "harness.session", "harness.measure", "harness.worker", "harness.sinks")


def _reads_kind(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr in _KIND_ATTRS for n in ast.walk(node))


def test_only_executor_for_branches_on_the_kind_of_cell() -> None:
    found = []
    for name, path in MODULES.items():
        if not any(_in(name, room) for room in _RUN_ROOMS):
            continue
        allowed: set[int] = set()
        for fn in _nodes(path):
            if (
                isinstance(fn, ast.FunctionDef)
                and name == "harness.execute.executors"
                and fn.name == "executor_for"
            ):
                allowed.update(id(n) for n in ast.walk(fn))
        for node in _nodes(path):
            if isinstance(node, ast.Compare | ast.If | ast.IfExp | ast.Match) and id(node) not in allowed:
                test = node.test if isinstance(node, ast.If | ast.IfExp) else node
                if isinstance(test, ast.AST) and isinstance(test, ast.Compare) and _reads_kind(test):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if isinstance(node, ast.Match) and _reads_kind(node.subject):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


# A runtime is one file behind harness.runtimes: nothing else compares a runtime's (or a language's) name.
RUNTIME_NAMES = frozenset({"python", "node", "bun", "deno", "js"})


def _compared_strings(node: ast.Compare) -> set[str]:
    found: set[str] = set()
    for side in (node.left, *node.comparators):
        elements = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
        found.update(e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return found


def test_only_the_runtime_files_compare_a_runtimes_name() -> None:
    found = []
    for name, path in MODULES.items():
        if _in(name, "harness.runtimes"):
            continue
        for node in _nodes(path):
            if isinstance(node, ast.Compare) and _compared_strings(node) & RUNTIME_NAMES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_every_package_is_installed_under_the_streambench_namespace() -> None:
    """A package missing from pyproject.toml's list works from the repository and not installed."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        INSTALLED_PREFIX + ".".join(p.parent.relative_to(ROOT).parts)
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("__init__.py")
    }
    assert listed == found


IMPORTERS = ("PackageLoader", "import_module", "find_spec", "files", "PackageLoader", "resource_filename")


def test_no_code_names_a_package_outside_the_streambench_namespace() -> None:
    """A module named by a string ("reports", "harness.worker") imports only from the repository's
    root: installed, it is streambench.reports (a report's templates were once not found so)."""
    import re

    bare = re.compile(r"^(harness|strategies|workloads|reports)(\.[a-z_]+)*(:\w+)?$")
    found = []
    for name, path in MODULES.items():
        docstrings = {id(n.value) for n in _nodes(path) if isinstance(n, ast.Expr)}
        for node in _nodes(path):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and bare.match(node.value)
                and "." in node.value
            ):
                found.append(f"{name}:{node.lineno} {node.value!r}")
        # A bare package name handed to what imports it.
        for call in (n for n in _nodes(path) if isinstance(n, ast.Call)):
            callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if callee in IMPORTERS and call.args:
                arg = call.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and bare.match(arg.value):
                    found.append(f"{name}:{arg.lineno} {callee}({arg.value!r})")
    assert not found, found


# Functions a reader takes in at once: short, and with few enough parameters to name in one breath.
_SMALL_ROOMS = ("harness.session", "harness.cell_session", "harness.execute", "harness.results")
MAX_FUNCTION_LINES = 80
MAX_PARAMETERS = 6


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    named = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    extra = (a.vararg is not None) + (a.kwarg is not None)
    bound = 1 if named and named[0].arg in ("self", "cls") else 0
    return len(named) + extra - bound


def test_the_session_execute_and_results_rooms_keep_functions_small() -> None:
    found = []
    for name, path in MODULES.items():
        if not any(_in(name, room) for room in _SMALL_ROOMS):
            continue
        for fn in _nodes(path):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (fn.end_lineno or fn.lineno) - fn.lineno + 1
                if lines > MAX_FUNCTION_LINES or _parameters(fn) > MAX_PARAMETERS:
                    found.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}: {lines} lines")
    assert not found, found
