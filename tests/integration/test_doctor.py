"""The stream doctor on its corpus of planted faults (``--matrix doctor``), in Node and in Python.

Each cell's tag names what was planted; the doctor must name it (as the run's first finding), and raise
no alarm on the healthy controls. The reading is in every record, in the terminal summary and on the
report's first screen.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.results.diagnosis import BOUNDS, FAULTS
from tests.helpers import records_of

pytestmark = [
    pytest.mark.skipif(
        shutil.which("node") is None and os.environ.get("CI") != "true",
        reason="node is not installed (.ci/run installs Debian's nodejs)",
    ),
    pytest.mark.alone,  # the doctor reads pace: a loop's stalls, a consumer's lag
    pytest.mark.slow,  # the planted-fault corpus: 17 cells in two runtimes
]


def _planted(r: dict[str, Any]) -> str:
    return next(part.removeprefix("tag=") for part in r["strategy"].split(":") if part.startswith("tag="))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path, str]:
    out = tmp_path_factory.mktemp("doctor")
    import io
    from contextlib import redirect_stderr

    said = io.StringIO()
    with redirect_stderr(said):
        code = main(["run", "--matrix", "doctor", "--no-plugins", "--out", str(out)])
    assert code == 0, said.getvalue()[-2000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return records_of(run_dir), run_dir, said.getvalue()


def test_every_planted_fault_is_named_in_both_runtimes_and_no_control_raises_an_alarm(
    corpus: tuple[list[dict[str, Any]], Path, str],
) -> None:
    records, _, _ = corpus
    confusion: Counter[tuple[str, str, str]] = Counter()
    for r in records:
        planted, read = _planted(r), r["diagnosis"]
        confusion[r["runtime"], planted, read["bound"]] += 1
        kinds = [f["kind"] for f in read["findings"]]
        if planted == "healthy":
            assert not read["fault"], (r["strategy"], r["runtime"], read["sentence"])
        elif planted in BOUNDS:  # a bound planted (a cold, slow disk): named, and no alarm
            assert not read["fault"] and read["bound"] == planted, (
                r["strategy"],
                r["runtime"],
                read["sentence"],
            )
            assert r["disk_read_method"] != "none" and r["io"]["read_bytes"] >= r["bytes_moved"] // 2
        else:
            assert planted in FAULTS
            assert read["fault"] and kinds[0] == planted, (r["strategy"], r["runtime"], read["sentence"])
        assert read["sentence"] and read["findings"][-1]["evidence"]
    runtimes = {r["runtime"] for r in records}
    assert runtimes == {"python", "node"}
    planted_per_runtime = {(rt, p) for rt, p, _ in confusion}
    for fault in ("no-backpressure", "memory-O(n)", "loop-blocked", "small-chunks", "disk"):
        assert ("node", fault) in planted_per_runtime and ("python", fault) in planted_per_runtime
    print("\n".join(f"{rt:7} {p:16} -> {b}" for (rt, p, b), n in sorted(confusion.items())))


def test_the_reading_is_in_the_terminal_summary_and_the_reports_first_screen(
    corpus: tuple[list[dict[str, Any]], Path, str],
) -> None:
    _, run_dir, said = corpus
    assert "doctor: node-unbounded" in said and "No backpressure" in said
    assert "doctor: no fault in the other cells" in said
    html = (run_dir / "report.html").read_text()
    assert "bound by" in html and 'class="doctor"' in html and "held the event loop" in html


def test_a_record_from_before_the_doctor_is_read_on_load(tmp_path: Path) -> None:
    from streambench.harness.results.record import Record

    raw = {"cell_id": "c", "repeat": 0, "warmup": False, "outcome": "ok", "sink": "null", "wall_s": 1.0,
           "bytes_moved": 1 << 30, "size_bytes": 1 << 30, "strategy_user_s": 0.2, "strategy_sys_s": 0.1,
           "consumer_rate_bps": 0, "schema_version": 11}  # fmt: skip
    record = Record.from_json(raw)
    assert record.diagnosis["bound"] == "consumer" and not record.diagnosis["fault"]
