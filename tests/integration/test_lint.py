"""ruff and mypy are part of the test command: the tree stays clean of both."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.typecheck import run_mypy


@pytest.mark.parametrize(
    "argv", [["ruff", "check", "."], ["ruff", "format", "--check", "."]], ids=["ruff", "format"]
)
def test_ruff_clean(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    result = run_mypy()
    assert result.returncode == 0, result.stdout + result.stderr
