"""Whole sessions in-process with the fake executor: plan, rounds, --repeat auto, store, report,
resume and compare, with no process started and no byte moved (hyperfine's mock executor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streambench.harness import session
from streambench.harness.common.errors import Exit
from streambench.harness.measure.profilers import ProfileSettings
from streambench.harness.results.store import load_records
from streambench.harness.session import SessionEvents, SessionOptions, resume, start
from streambench.reports.compare import compare
from tests.fakes import FakeExecutor

SPEC: dict[str, Any] = {
    "strategy": ["pipe", "whole-file", "cat"],
    "workload": ["video:64KiB"],
    "sink": ["null"],
    "chunk_size": ["64KiB"],
    "repeat": "auto",
    "warmup": 0,
    "budget": 600,
    "pin": "none",
}


@pytest.fixture(autouse=True)
def _quiet_provenance(monkeypatch: pytest.MonkeyPatch) -> None:
    # run.json's provenance asks git; a unit test starts no process.
    monkeypatch.setattr(session, "provenance", lambda: {"version": "test"})


def _session(tmp_path: Path, fake: FakeExecutor, spec: dict[str, Any] = SPEC, out: str = "out") -> Path:
    options = SessionOptions(
        out_dir=tmp_path / out, data_dir=tmp_path / "data", executors=fake, calibrate=False
    )
    result = start(spec, options, ProfileSettings(), SessionEvents())
    assert result.run_dir is not None and result.report_path is not None
    assert result.exit_code == Exit.OK, result
    return result.run_dir


def test_a_whole_session_runs_in_process_and_stops_once_decided(tmp_path: Path) -> None:
    fake = FakeExecutor({"pipe": 3.0, "whole-file": 1.5, "cat": 2.9}, noise=0.005)
    run_dir = _session(tmp_path, fake)
    records = load_records(run_dir)
    meta = json.loads((run_dir / "run.json").read_text())
    adaptive = meta["adaptive"]
    # pipe vs cat is 3% apart: rounds go on for those two only, until decided or a tie.
    assert adaptive["stopped"] == "every question decided"
    assert adaptive["questions_decided"] == len(adaptive["questions"]) == 1  # pipe vs cat, the runner-up
    extra = [p for p in fake.runs if p.repeat >= 3]
    assert extra and {p.cell.strategy for p in extra} <= {"pipe", "cat"}
    assert len(records) == len(fake.runs) and all(r.verified and r.outcome == "ok" for r in records)
    assert "pipe" in (run_dir / "report.html").read_text()
    # Resumed, nothing is missing: nothing runs again.
    before = len(fake.runs)
    assert resume(run_dir, SessionEvents(), executors=fake).exit_code == Exit.OK
    assert len(fake.runs) == before


def test_a_planted_change_is_found_by_compare(tmp_path: Path) -> None:
    spec = {**SPEC, "repeat": 8}
    base = _session(tmp_path, FakeExecutor({"pipe": 3.0, "whole-file": 1.5, "cat": 2.9}), spec, "base")
    cand = _session(tmp_path, FakeExecutor({"pipe": 2.1, "whole-file": 1.5, "cat": 2.9}), spec, "cand")
    comparison = compare(load_records(base), load_records(cand), 0.05)
    assert comparison.exit_status == Exit.REGRESSION
    assert [c.fields["strategy"] for c in comparison.regressions] == ["pipe"]
    same = compare(load_records(base), load_records(base), 0.05)
    assert same.exit_status == Exit.OK


def test_wrong_bytes_fail_the_run(tmp_path: Path) -> None:
    fake = FakeExecutor({"pipe": 3.0, "whole-file": 1.5, "cat": 2.9}, corrupt=frozenset({"whole-file"}))
    options = SessionOptions(
        out_dir=tmp_path / "out", data_dir=tmp_path / "data", executors=fake, calibrate=False
    )
    result = start({**SPEC, "repeat": 3}, options, ProfileSettings(), SessionEvents())
    assert result.exit_code == Exit.RUNS_FAILED
    assert result.run_dir is not None
    bad = [r for r in load_records(result.run_dir) if r.strategy == "whole-file"]
    assert bad and not any(r.verified for r in bad) and "sink checksum" in bad[0].verify_detail


# whole-file runs at 1.5 GB/s +-5%: this bound sits inside its spread.
WHOLE_FILE_AT_ITS_BOUND = {"says": "whole-file is at 1.5 GB/s", "metric": "throughput_bps",
                           "subject": {"strategy": "whole-file"}, "expect": ">= 1500000000"}  # fmt: skip


def _scenario_session(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    claims: tuple[dict[str, Any], ...],
    repeat: int,
    events: SessionEvents | None = None,
    scenario_keys: dict[str, Any] | None = None,
) -> tuple[FakeExecutor, session.SessionResult]:
    """A fake scenario with these claims and ``min_repeat`` 2, run in-process up to ``repeat`` rounds."""
    from streambench.harness.plan import scenario as scenario_module

    fake_scenario = scenario_module.Scenario("fake", "q?", "", 1 << 16, 1.0, {}, (), {}, claims, min_repeat=2)
    monkeypatch.setattr(scenario_module, "get_scenario", lambda name: fake_scenario)
    fake = FakeExecutor({"pipe": 3.0, "whole-file": 1.5, "cat": 2.9}, noise=0.05)
    options = SessionOptions(
        out_dir=tmp_path / "out", data_dir=tmp_path / "data", executors=fake, calibrate=False
    )
    meta = {"name": "fake", "size_bytes": 1 << 16, "question": "q?", "min_repeat": 2, **(scenario_keys or {})}
    extra = {"scenario": meta}
    result = start({**SPEC, "repeat": repeat}, options, ProfileSettings(), events or SessionEvents(), extra)
    return fake, result


def test_a_scenario_with_min_repeat_gives_later_rounds_only_to_undecided_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pipe's claim is decided at once (far above its bound); whole-file's bound sits inside its own
    # spread, so it stays open; cat feeds no claim.
    claims = (
        {"says": "pipe is fast", "metric": "throughput_bps", "subject": {"strategy": "pipe"},
         "expect": ">= 1000000"},
        WHOLE_FILE_AT_ITS_BOUND,
    )  # fmt: skip
    fake, result = _scenario_session(tmp_path, monkeypatch, claims, repeat=4)
    assert result.run_dir is not None
    by_repeat: dict[int, set[str]] = {}
    for p in fake.runs:
        by_repeat.setdefault(p.repeat, set()).add(p.cell.strategy)
    assert by_repeat[0] == by_repeat[1] == {"pipe", "whole-file", "cat"}  # min_repeat rounds of all
    # whole-file's two runs lie either side of its bound, and two more could not move the range off
    # it (below 6 runs the range decides): no later round is asked for, and the claim stays open.
    assert set(by_repeat) == {0, 1}
    rounds = json.loads((result.run_dir / "run.json").read_text())["claim_rounds"]
    assert rounds["later_runs"] == 6 and rounds["later_runs_skipped"] == 6
    assert rounds["open_claims"] == ["whole-file is at 1.5 GB/s"]
    page = (result.run_dir / "scenario.html").read_text()
    assert "Every cell ran 2 rounds" in page and "6 of 6 later runs were not needed" in page


@pytest.mark.parametrize("later_budget_s", [None, 0.0])
def test_a_scenarios_later_rounds_stop_at_their_budget(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    later_budget_s: float | None,
) -> None:
    """whole-file's bound sits inside its spread, and ten more rounds could move the median's interval
    off it: without a budget later rounds run for it; with none to spend (0 s), none is bought, and the
    run says so (the message, run.json, the page)."""
    budget = {} if later_budget_s is None else {"later_budget_s": later_budget_s}
    events = SessionEvents(message=lambda text, level: print(text))
    fake, result = _scenario_session(tmp_path, monkeypatch, (WHOLE_FILE_AT_ITS_BOUND,), 12, events, budget)
    assert result.run_dir is not None
    later = [p for p in fake.runs if p.repeat >= 2]
    rounds = json.loads((result.run_dir / "run.json").read_text())["claim_rounds"]
    out = capsys.readouterr().out
    page = (result.run_dir / "scenario.html").read_text()
    if later_budget_s is None:
        assert later and {p.cell.strategy for p in later} == {"whole-file"}
        assert not rounds["stopped_by_budget"] and "budget" not in out and "budget" not in page
    else:
        assert not later and rounds["stopped_by_budget"] and rounds["later_spent_s"] == 0
        assert "the next would have passed the later rounds' budget of 0 s" in out
        assert "not needed or not bought: the next would have passed the later rounds&#x27; budget" in page
