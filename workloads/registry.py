"""The workload kinds, listed explicitly, each imported when first asked for.

Each generator module builds its tables with numpy at import; listing the kinds (``--help``, the
plan's checks) needs none of them, so ``GENERATORS`` imports a kind's module the first time that kind
is looked up (``--help`` took 0.38-0.47 s with numpy imported through here).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from streambench.workloads.base import Generator

# kind -> (module:class, constructor arguments)
_BUILTINS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "video": ("streambench.workloads.video:VideoGenerator", ()),
    "csv": ("streambench.workloads.csv_export:CsvExportGenerator", ()),
    "log": ("streambench.workloads.access_log:AccessLogGenerator", ()),
    "ndjson": ("streambench.workloads.ndjson:NdjsonGenerator", ()),
    "mp4": ("streambench.workloads.mp4:Mp4Generator", ("start",)),
    "mp4-moov-end": ("streambench.workloads.mp4:Mp4Generator", ("end",)),
}


class _Generators(Mapping[str, Generator]):
    """The kinds as a read-only mapping; a kind's generator is made (and its module imported) once."""

    def __init__(self) -> None:
        self._made: dict[str, Generator] = {}

    def __getitem__(self, kind: str) -> Generator:
        if kind not in self._made:
            path, args = _BUILTINS[kind]
            module_name, _, class_name = path.partition(":")
            generator: Generator = getattr(importlib.import_module(module_name), class_name)(*args)
            assert generator.kind == kind, (generator.kind, kind)
            self._made[kind] = generator
        return self._made[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(_BUILTINS)

    def __len__(self) -> int:
        return len(_BUILTINS)


GENERATORS: Mapping[str, Generator] = _Generators()


def kinds() -> list[str]:
    return sorted(GENERATORS)
