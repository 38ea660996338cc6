"""Shared fixtures: every test works in its own temporary data and results folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workload cache for the session: generated files are reused across tests."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[None]:
    # Never touch the user's ~/.cache from a test.
    monkeypatch.setenv("STREAMBENCH_DATA_DIR", str(data_dir))
    yield
