"""A user's project with its own ``strategies/``, ``reports/``, ``harness/`` and ``workloads/``
packages: installing streambench breaks neither it nor the pytest fixture (our packages live under
``streambench.``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CLI, outer_pytest_free_env

pytestmark = pytest.mark.slow

TEST_FILE = """
from harness import OURS as HARNESS
from reports import OURS as REPORTS
from strategies import OURS as STRATEGIES
from workloads import OURS as WORKLOADS


def test_their_packages_are_theirs():
    assert (HARNESS, REPORTS, STRATEGIES, WORKLOADS) == ("harness", "reports", "strategies", "workloads")


def test_the_fixture_runs_beside_them(streambench_cell):
    runs = streambench_cell("pipe", workload="video:1MiB", sink="null", rounds=1, warmup_rounds=0)
    assert len(runs) == 1 and runs[0]["verified"]
"""


def test_a_project_with_packages_named_like_ours(tmp_path: Path, data_dir: Path) -> None:
    project = tmp_path / "project"
    for package in ("harness", "reports", "strategies", "workloads"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text(f"OURS = {package!r}\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_theirs.py").write_text(TEST_FILE)
    # Their rootdir goes first on sys.path (pytest's rootdir conftest rules), as in a real project.
    (project / "conftest.py").write_text("")
    env = dict(outer_pytest_free_env(), STREAMBENCH_DATA_DIR=str(data_dir))
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-disable", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
    # The command line from their folder, to its report (templates found under streambench.reports).
    argv = [*CLI, "run", "--strategy", "pipe", "--workload", "video:1MiB", "--sink", "null", "--repeat", "1",
            "--warmup", "0", "--out", "results"]  # fmt: skip
    run = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert Path(run.stdout.strip().splitlines()[-1]).is_file()
