"""The workload kinds, listed explicitly."""

from __future__ import annotations

from workloads.access_log import AccessLogGenerator
from workloads.base import Generator
from workloads.csv_export import CsvExportGenerator
from workloads.mp4 import Mp4Generator
from workloads.ndjson import NdjsonGenerator
from workloads.video import VideoGenerator

GENERATORS: dict[str, Generator] = {
    g.kind: g
    for g in (
        VideoGenerator(),
        CsvExportGenerator(),
        AccessLogGenerator(),
        NdjsonGenerator(),
        Mp4Generator("start"),
        Mp4Generator("end"),
    )
}


def kinds() -> list[str]:
    return sorted(GENERATORS)
