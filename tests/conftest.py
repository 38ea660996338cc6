"""Shared fixtures: every test works in its own temporary data and results folders."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_CACHE: Path | None = None
ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    # Set before any fixture runs: a module-scoped fixture runs before the
    # function-scoped autouse one below, and would otherwise reach the user's
    # real ~/.cache (or $XDG_CACHE_HOME). Nothing a test does may touch them.
    global _SESSION_CACHE
    _SESSION_CACHE = Path(tempfile.mkdtemp(prefix="streambench-tests-"))
    os.environ["STREAMBENCH_DATA_DIR"] = str(_SESSION_CACHE / "data")
    os.environ["XDG_CACHE_HOME"] = str(_SESSION_CACHE / "xdg")
    # The JS runtimes the tests install from npm (node@22, bun, deno: ~380 MB) are kept in the
    # project's own cache, never the user's home, and reused by the next session.
    os.environ.setdefault("STREAMBENCH_RUNTIMES_DIR", str(ROOT / ".cache" / "runtimes"))


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
