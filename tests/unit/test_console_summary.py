"""The terminal summary: anon and file-backed peaks apart, in the width the terminal gives."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from rich.console import Console

from streambench.harness.cli.console import print_summary
from streambench.reports.synthetic import MiB, synthetic_run
from tests.helpers import as_records


@cache
def _records() -> list[Any]:
    _, records = synthetic_run(sizes=(256 * MiB,), sinks=("null", "file"), chunks=(64 << 10,), repeat=3)
    return as_records(records)


def _printed(width: int) -> list[str]:
    out = io.StringIO()
    print_summary(_records(), Console(file=out, width=width, color_system=None, markup=False))
    return out.getvalue().splitlines()


def test_anon_and_file_peaks_are_two_columns() -> None:
    lines = _printed(100)
    header = next(line for line in lines if "GB/s" in line)
    assert "anon" in header and "file" in header and "vs cat" in header and "ok" in header
    # mmap maps the file: its file-backed peak holds the workload, its anon peak does not
    mmap = next(line for line in lines if line.strip().startswith("mmap"))
    whole = next(line for line in lines if line.strip().startswith("whole-file"))
    assert mmap.split()[-3].endswith("MiB") and mmap.split()[-2] == "267MiB"
    assert whole.split()[-3] == "270MiB" and whole.split()[-2] == "11MiB"


def test_every_line_fits_the_width_given() -> None:
    for width in (50, 60, 72, 100, 160):
        lines = _printed(width)
        assert max(len(line) for line in lines) <= width, width
        # narrow: "vs cat" goes first, then "ok"; anon and file stay
        header = next(line for line in lines if "GB/s" in line)
        assert "anon" in header and "file" in header
        assert ("vs cat" in header) == (width >= 62), width
