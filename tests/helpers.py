"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import os
from pathlib import Path


def socket_inodes(pid: int) -> set[str]:
    """The socket inodes a process holds open, from /proc/<pid>/fd."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


# One anchor for the tests' own files (tests/unit and tests/integration share them).
TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
FIXTURES = TESTS_DIR / "fixtures" / "reports"
GOLDEN = TESTS_DIR / "golden"
