"""The workload kinds, listed explicitly."""

from __future__ import annotations

from streambench.workloads.access_log import AccessLogGenerator
from streambench.workloads.base import Generator
from streambench.workloads.csv_export import CsvExportGenerator
from streambench.workloads.mp4 import Mp4Generator
from streambench.workloads.ndjson import NdjsonGenerator
from streambench.workloads.video import VideoGenerator

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
