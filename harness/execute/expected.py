"""What a sink should receive: the workload itself, or a transform of it.

For a transform the expected bytes come from an independent reference path
(:func:`strategies.transforms.reference_output`), computed once per
(workload, transform) and cached beside the workload cache as size + xxh3-64.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import xxhash

from streambench.strategies.transforms import reference_output, reference_sha256
from streambench.workloads.cache import Workload


@dataclass(frozen=True)
class Expected:
    size_bytes: int
    xxh3_64: str
    # For the sha256 pass-through: the digest the transform must report.
    sha256: str | None = None


def expected_for(workload: Workload, transform: str, data_dir: Path) -> Expected:
    if transform == "none":
        return Expected(workload.manifest.size_bytes, workload.manifest.xxh3_64)
    cache_path = data_dir / "expected" / f"{workload.spec.file_stem()}.{transform}.json"
    try:
        raw = json.loads(cache_path.read_text())
        if raw.pop("source_xxh3_64") == workload.manifest.xxh3_64:
            return Expected(**raw)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    h = xxhash.xxh3_64()
    size_bytes = 0
    for block in reference_output(transform, workload.path):
        h.update(block)
        size_bytes += len(block)
    sha256 = reference_sha256(workload.path) if transform == "sha256" else None
    expected = Expected(size_bytes, h.hexdigest(), sha256)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_name(cache_path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**asdict(expected), "source_xxh3_64": workload.manifest.xxh3_64}))
    os.replace(tmp, cache_path)
    return expected
