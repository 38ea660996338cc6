"""README's "Measure your own code" can never drift from what works: every code block in it is its
file in docs/examples/, every command in it runs exactly as printed (from a folder holding a copy of
docs/examples/), and the pytest example passes in a project of its own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, outer_pytest_free_env

pytestmark = pytest.mark.slow

SECTION = "## Measure your own code"
BLOCK = re.compile(r"(?:`(docs/examples/[\w.]+)`:\n\n)?```(\w+)\n(.*?)\n```", re.S)


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def _blocks() -> list[tuple[str | None, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(_section())]


def _commands() -> list[str]:
    return [body for _, lang, body in _blocks() if lang == "sh"]


def test_every_code_block_is_its_file() -> None:
    files = [(name, body) for name, lang, body in _blocks() if lang != "sh"]
    assert len(files) == 6
    for name, body in files:
        assert name is not None, f"a code block names no file: {body[:60]!r}"
        assert (ROOT / name).read_text().rstrip("\n") == body, f"README's {name} differs from the file"


def _environment() -> dict[str, str]:
    """The environment with this interpreter's scripts (``streambench``) first on PATH."""
    bin_dir = Path(sys.executable).parent
    return {**outer_pytest_free_env(), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.parametrize("command", _commands(), ids=lambda c: c.split()[3][:40])
def test_the_command_runs_as_printed(command: str, tmp_path: Path) -> None:
    needs = {"node": "node" in command}
    if needs["node"] and shutil.which("node") is None and not os.environ.get("CI"):
        pytest.skip("node is not installed")
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    assert command.startswith("streambench run ") and "\n" not in command
    env = _environment()
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = Path(tmp_path, done.stdout.strip().splitlines()[-1])
    assert report.name == "report.html" and report.is_file()
    records = (report.parent / "results.jsonl").read_text().splitlines()
    assert records and all('"verified":true' in line for line in records)


# The example asserts its strategy keeps pace with pipe (7 rounds of 8 MiB): pace, so nothing beside it.
@pytest.mark.alone
def test_the_pytest_example_passes_in_a_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("mine.py", "test_mine.py"):
        shutil.copy(ROOT / "docs" / "examples" / name, project / name)
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py"]
    done = subprocess.run(argv, cwd=project, env=_environment(), capture_output=True, text=True, timeout=600,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
