"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import os


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
