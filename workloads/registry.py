"""The workload kinds, listed explicitly."""

from __future__ import annotations

from workloads.base import Generator
from workloads.video import VideoGenerator

GENERATORS: dict[str, Generator] = {g.kind: g for g in (VideoGenerator(),)}


def kinds() -> list[str]:
    return sorted(GENERATORS)
