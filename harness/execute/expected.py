"""What a sink should receive: the workload itself, or a transform of it, and how that was found.

For a built-in transform the expected bytes come from an independent reference path
(:func:`strategies.transforms.reference_output`). A user's transform module cannot be checked
against anything but itself: its output is computed apart, outside any measured run, by its
runtime (``Runtime.transform_command``), twice, with other chunk sizes than any run's; when the two
passes differ the transform is not deterministic (or depends on where chunks end) and no run of it
can be verified, which each record says. Both are computed once per (workload, transform) and
cached beside the workload cache as size + xxh3-64, keyed by the workload's checksum (and a
module's sha256).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import xxhash

from streambench.harness import runtimes
from streambench.harness.common.errors import UsageError
from streambench.strategies.transforms import reference_output, reference_sha256
from streambench.strategies.user_module import is_user_module, parse_user_module
from streambench.workloads.cache import Workload

# A user transform's two reference passes: chunk sizes no run uses (the second odd-sized, so a
# record or a multi-byte character split across chunks lands elsewhere than in the first).
USER_REFERENCE_CHUNKS = (1 << 20, (61 << 10) + 1)
USER_REFERENCE_TIMEOUT_S = 1800.0
READ_BYTES = 1 << 20


@dataclass(frozen=True)
class Expected:
    size_bytes: int
    xxh3_64: str
    # For the sha256 pass-through: the digest the transform must report.
    sha256: str | None = None
    # What the far end's bytes are checked against (the record's verified_by).
    method: str = "the workload's own xxh3-64"
    # Why no run can be verified (a transform whose output differs from pass to pass); None: one can.
    unverifiable: str | None = None


def expected_for(workload: Workload, transform: str, data_dir: Path) -> Expected:
    if transform == "none":
        return Expected(workload.manifest.size_bytes, workload.manifest.xxh3_64)
    user = is_user_module(transform)
    module_sha = parse_user_module(transform).sha256() if user else ""
    name = f"user-{module_sha[:16]}" if user else transform
    cache_path = data_dir / "expected" / f"{workload.spec.file_stem()}.{name}.json"
    try:
        raw = json.loads(cache_path.read_text())
        if (
            raw.pop("source_xxh3_64") == workload.manifest.xxh3_64
            and raw.pop("module_sha256", "") == module_sha
        ):
            return Expected(**raw)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    expected = _user_reference(workload, transform) if user else _builtin_reference(workload, transform)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_name(cache_path.name + f".{os.getpid()}.tmp")
    keys = {"source_xxh3_64": workload.manifest.xxh3_64, "module_sha256": module_sha}
    tmp.write_text(json.dumps({**asdict(expected), **keys}))
    os.replace(tmp, cache_path)
    return expected


def _builtin_reference(workload: Workload, transform: str) -> Expected:
    h = xxhash.xxh3_64()
    size_bytes = 0
    for block in reference_output(transform, workload.path):
        h.update(block)
        size_bytes += len(block)
    sha256 = reference_sha256(workload.path) if transform == "sha256" else None
    method = f"the {transform} reference's xxh3-64 (an independent implementation)"
    return Expected(size_bytes, h.hexdigest(), sha256, method)


def _user_reference(workload: Workload, transform: str) -> Expected:
    """The user's transform over the whole workload, twice, apart from any run: its output's size and
    xxh3-64, or why it cannot be trusted."""
    module = parse_user_module(transform)
    runtime = runtimes.for_language(module.language)
    passes = [_hash_output(runtime.transform_command(module, workload.path, chunk), transform)
              for chunk in USER_REFERENCE_CHUNKS]  # fmt: skip
    (size_a, xxh_a), (size_b, xxh_b) = passes
    chunks = " and ".join(f"{c:,}-byte" for c in USER_REFERENCE_CHUNKS)
    method = f"{transform}'s own output, computed apart twice ({chunks} chunks)"
    unverifiable = None
    if passes[0] != passes[1]:
        unverifiable = (
            f"{transform}'s output differs from pass to pass ({size_a} bytes xxh3 {xxh_a} with "
            f"{USER_REFERENCE_CHUNKS[0]:,}-byte chunks, {size_b} bytes xxh3 {xxh_b} with "
            f"{USER_REFERENCE_CHUNKS[1]:,}): it is not deterministic, or depends on where chunks end"
        )
    return Expected(size_a, xxh_a, None, method, unverifiable)


def _hash_output(argv: list[str], transform: str) -> tuple[int, str]:
    h = xxhash.xxh3_64()
    size_bytes = 0
    # stderr to a file: a pipe nobody reads while stdout is drained could fill and stall the child.
    with tempfile.TemporaryFile() as stderr_file:
        with subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file
        ) as proc:
            assert proc.stdout is not None
            try:
                while block := proc.stdout.read(READ_BYTES):
                    h.update(block)
                    size_bytes += len(block)
                proc.wait(timeout=USER_REFERENCE_TIMEOUT_S)
            except BaseException:
                proc.kill()
                raise
        stderr_file.seek(0)
        stderr = stderr_file.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        last = stderr.splitlines()[-1] if stderr else f"exit status {proc.returncode}"
        raise UsageError(f"transform {transform} failed on the workload, outside any run: {last}")
    return size_bytes, h.hexdigest()
