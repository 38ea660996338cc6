"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streambench.harness.results.record import Record


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
# The command line as a child process (a test that signals or kills it).
CLI = [sys.executable, "-m", "streambench.harness.cli"]
# What a test leaves for a person to look at (screenshots): kept after the run, never in git.
ARTIFACTS = Path(os.environ.get("STREAMBENCH_TEST_ARTIFACTS") or ROOT / "test-artifacts")


@contextmanager
def truncated_after(path: Path, delay_s: float, size_bytes: int) -> Iterator[None]:
    """Truncate ``path`` to ``size_bytes`` ``delay_s`` into the body: a source shrinking mid-run."""

    def truncate_later() -> None:
        time.sleep(delay_s)
        os.truncate(path, size_bytes)

    truncator = threading.Thread(target=truncate_later)
    truncator.start()
    try:
        yield
    finally:
        truncator.join()


def chromium_or_skip() -> str:
    """Chromium's path: skipped without it on a developer's machine, failed under CI=true."""
    import pytest

    from streambench.harness.browser.cdp import find_chromium

    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and CI must run the browser tests (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return binary


def as_records(rows: Iterable[Any]) -> list[Record]:
    """JSON-shaped records (a synthetic run's, a doctored copy) as the store reads them back."""
    from streambench.harness.results.record import Record

    return [r if isinstance(r, Record) else Record.from_json(r) for r in rows]


def records_of(run_dir: Path) -> list[dict[str, Any]]:
    """A run's records as the JSON objects they are stored as (upgraded, as the store reads them)."""
    from streambench.harness.results.store import load_records

    return [r.to_dict() for r in load_records(run_dir)]


def outer_pytest_free_env() -> dict[str, str]:
    """This environment without what pytest-xdist tells its workers: a pytest run inside a test is a
    user's own, and pytest-benchmark disables itself when it believes it runs under xdist."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}


# Set by tests/conftest.py for each test session (each pytest-xdist worker its own); every process a
# test starts inherits it, orphans included.
SESSION_MARK = "STREAMBENCH_TESTS_SESSION"


def ours(pid: int) -> bool:
    """Whether a process belongs to this test session: under pytest-xdist the other worker's servers
    and browsers are alive too, and are not this test's leftovers. Without xdist, every process is."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return True
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{SESSION_MARK}={os.environ[SESSION_MARK]}".encode() in environ
