"""mypy on the four packages under the names they are installed as (``streambench.harness``, ...).

The repository keeps them at the top level while an install maps them into the ``streambench``
namespace (pyproject.toml), which mypy cannot follow through an editable install; so they are
linked into a temporary ``streambench/`` folder that mypy reads. ``python -m tests.typecheck``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("harness", "strategies", "workloads", "reports")


def run_mypy() -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="streambench-mypy-") as tmp:
        namespace = Path(tmp) / "streambench"
        namespace.mkdir()
        for package in PACKAGES:
            (namespace / package).symlink_to(ROOT / package, target_is_directory=True)
        argv = [sys.executable, "-m", "mypy", *(arg for p in PACKAGES for arg in ("-p", f"streambench.{p}"))]
        env = dict(os.environ, MYPYPATH=tmp)
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


if __name__ == "__main__":
    result = run_mypy()
    sys.stdout.write(result.stdout + result.stderr)
    sys.exit(result.returncode)
