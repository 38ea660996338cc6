"""Every scenario end to end at a small size: it runs, every claim gets a verdict, the page renders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from streambench.harness.cli import main
from streambench.harness.plan.scenario import all_scenarios, measured_times
from streambench.reports.claims import VERDICTS
from tests.helpers import records_of

MiB = 1 << 20

# Real matrices, servers or browsers: minutes in all (pytest -m "not slow" leaves them out).
pytestmark = pytest.mark.slow

SCENARIOS = sorted(all_scenarios())


def test_there_are_the_seed_scenarios() -> None:
    assert set(SCENARIOS) == {
        "readfile-vs-stream", "backpressure", "pipe-vs-manual", "highwatermark", "zero-copy", "mmap",
        "compression", "log-pipeline", "async-arrival", "video", "csv-export", "upload", "s3-upload",
        "browser-video", "runtimes",
    }  # fmt: skip


# Scenarios whose runs take seconds each whatever the size (a browser plays, seeks and watches):
# one round of part of the matrix checks that every claim is judged and the page renders (the
# whole of browser-video is 51 cells, ~2.7 min a round here).
#
# Scenarios with many cells or rounds: one round of every cell (every claim is still judged, the page
# still renders; the rounds that decide a claim are the claims' own tests'). Together they took
# ~150 s of the suite's ~1000 s of test time in their own rounds (runtimes: 6 a cell). The others
# run whole, so the scenario list's measured times stay tested.
ONE_ROUND = ("runtimes", "csv-export", "readfile-vs-stream", "mmap", "highwatermark", "backpressure")
PART = {
    "browser-video": ["--repeat", "1", "--only", "strategy=node-pipe,node-pipeline", "--only", "clients=1"],
    **{name: ["--repeat", "1"] for name in ONE_ROUND},
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_runs_end_to_end(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    part = PART.get(name, [])
    code = main(["scenario", "run", name, "--size", "8MiB", "--out", str(tmp_path), *part])
    page = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert page.name == "scenario.html" and page.exists()
    scenario = all_scenarios()[name]
    verdicts = json.loads((page.parent / "verdicts.json").read_text())
    assert len(verdicts) == len(scenario.claims)
    assert all(v["verdict"] in VERDICTS and v["detail"] for v in verdicts)
    # The exit status says what the verdicts say: 4 when a claim fails (or a run failed that no
    # claim expected), else 3 when one is inconclusive, else 0.
    said = {v["verdict"] for v in verdicts}
    if "fails" in said:
        assert code == 4
    elif "inconclusive" in said:
        assert code in (3, 4)
    else:
        assert code in (0, 4)
    html = page.read_text()
    assert scenario.question.split("'")[0].split("&")[0][:20] in html
    took = measured_times(Path(os.environ["STREAMBENCH_DATA_DIR"])).get(name)
    if part:  # a part of it says nothing of how long the whole takes
        assert took is None or took.size_bytes != 8 * MiB or took.runs != len(records_of(page.parent))
    else:  # the whole of it: kept, and the list says it took that long here
        assert took is not None and took.size_bytes == 8 * MiB and took.runs == len(records_of(page.parent))
        assert main(["scenario", "list"]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(name + "\t"))
        assert line.endswith(f"{took.wall_s / 60:.1f} min (measured here at 8MiB)")
    assert "<svg" in html and "srcdoc=" in html
    if name == "browser-video":
        # What the first tab of each cell showed, embedded in the page (it opens offline).
        # 2 servers x 2 layouts x 2 links, and pipeline() after the missing file (the seed's is dead)
        assert html.count('src="data:image/jpeg;base64,') == 2 * 9
        by_claim = {v["says"]: v["verdict"] for v in verdicts}
        assert by_claim["node-pipe: a seek to 60% is honoured (playback resumes there)"] == "fails"
        assert by_claim["node-pipeline: a seek to 60% is honoured (playback resumes there)"] == "holds"
        crash = next(v for says, v in by_claim.items() if says.startswith("the seed's server dies"))
        assert crash == "holds"
        # Claims about the servers left out are said to be unjudged, not judged on nothing.
        assert by_claim["sendfile: a seek to 60% is honoured (playback resumes there)"] == "inconclusive"


def test_scenario_list_and_bad_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list"]) == 0
    assert "backpressure" in capsys.readouterr().out
    assert main(["scenario", "run", "telepathy"]) == 2
    assert "unknown scenario 'telepathy'" in capsys.readouterr().err


def test_a_scenario_page_reads_in_sentences_with_the_doctors_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verdicts read as sentences, the statistic one click away, and what bound each cell is listed."""
    main(["scenario", "run", "readfile-vs-stream", "--size", "8MiB", "--out", str(tmp_path), "--repeat", "1"])
    page = Path(capsys.readouterr().out.strip().splitlines()[-1])
    html = page.read_text()
    assert "What bound each cell (the stream doctor)" in html
    assert any(w in html for w in ("Holds: ", "Does not hold: ", "Cannot tell yet: "))
    assert "<details><summary><code>" in html
