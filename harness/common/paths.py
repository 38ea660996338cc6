"""Where the project's own files are, from one anchor (modules move; this does not)."""

from __future__ import annotations

from pathlib import Path

# The folder that holds the ``harness`` package: children started with
# ``python -m harness...`` run from here, so they import this very copy.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
MATRICES_DIR = PACKAGE_ROOT / "harness" / "plan" / "matrices"
SCENARIOS_DIR = PACKAGE_ROOT / "harness" / "plan" / "scenarios"
