"""Shared fixtures: every test works in its own temporary data and results folders."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import SESSION_MARK

_SESSION_CACHE: Path | None = None
ROOT = Path(__file__).resolve().parents[1]


_LOCKS_ENV = "STREAMBENCH_TESTS_LOCKS"


def pytest_configure(config: pytest.Config) -> None:
    # Set before any fixture runs: a module-scoped fixture runs before the
    # function-scoped autouse one below, and would otherwise reach the user's
    # real ~/.cache (or $XDG_CACHE_HOME). Nothing a test does may touch them.
    global _SESSION_CACHE
    _SESSION_CACHE = Path(tempfile.mkdtemp(prefix="streambench-tests-"))
    if "PYTEST_XDIST_WORKER" not in os.environ:
        # The controller's folder for the workers' locks (they inherit the variable); it goes with it.
        os.environ[_LOCKS_ENV] = str(_SESSION_CACHE)
    os.environ[SESSION_MARK] = str(_SESSION_CACHE)  # tests.helpers.ours
    os.environ["STREAMBENCH_DATA_DIR"] = str(_SESSION_CACHE / "data")
    os.environ["XDG_CACHE_HOME"] = str(_SESSION_CACHE / "xdg")
    # The JS runtimes the tests install from npm (node@22, bun, deno: ~380 MB) are kept in the
    # project's own cache, never the user's home, and reused by the next session.
    os.environ.setdefault("STREAMBENCH_RUNTIMES_DIR", str(ROOT / ".cache" / "runtimes"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` tests first (a stable sort: each module keeps its order, and its fixtures): under
    pytest-xdist the last tests to start are then short ones, and no 40 s test runs alone at the
    end while the other worker has nothing left to take."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """One workload cache for the session: generated files are reused across tests."""
    assert _SESSION_CACHE is not None
    path = _SESSION_CACHE / "data"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[None]:
    # Never touch the user's ~/.cache from a test.
    monkeypatch.setenv("STREAMBENCH_DATA_DIR", str(data_dir))
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Under pytest-xdist, a test marked ``alone`` runs while no other test runs: its assertions are
    on pace or on memory that another worker's test would share the 2 cores with (a fast client's
    time to first byte, a buffer that grows while a consumer lags). Others take the lock shared.
    Around the whole protocol, so a module fixture's measured set-up (in its first test's set-up)
    is inside it too.

    A turnstile first: an ``alone`` test holds it while it waits, so no new test slips in ahead."""
    locks = os.environ.get(_LOCKS_ENV)
    if locks is None or "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    base = Path(locks) / "tests"
    alone = item.get_closest_marker("alone") is not None
    with open(f"{base}.turnstile", "a") as turnstile, open(f"{base}.lock", "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
