"""``to_record`` driven with fake measurements: outcome rules, verification, peaks. No process runs."""

from __future__ import annotations

from pathlib import Path

from streambench.harness.execute.context import CacheState, RunContext
from streambench.harness.execute.expected import Expected
from streambench.harness.execute.measurement import MeasuredReport, Measurement, Verdict
from streambench.harness.execute.recording import RunFacts, to_record
from streambench.harness.plan.config import Cell, MatrixConfig, RunConfig
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.sinks.handles import Received
from streambench.workloads.cache import Manifest, Workload, WorkloadSpec

MiB = 1 << 20
SPEC = WorkloadSpec("video", MiB, 0)
MANIFEST = Manifest("video", MiB, 0, 1, MiB, 1, "abc", "video/mp4", "t", 0.1)
CONFIG = RunConfig(
    matrix=MatrixConfig(("pipe",), (SPEC,), ("null",), (65536,)),
    out_dir=Path("/nonexistent/out"),
    data_dir=Path("/nonexistent/data"),
    timeout_s=7.0,
    memory_limit_bytes=64 * MiB,
)


def _ctx(profiler: str | None = None) -> RunContext:
    cell = Cell("pipe", SPEC, "null", 65536)
    ctx = RunContext(
        PlannedRun(cell, 2, False, profiler),
        CONFIG,
        Workload(SPEC, Path("/nonexistent/w.mp4"), MANIFEST),
        Expected(MiB, "abc"),
        Path("/nonexistent/scratch"),
        started_at_utc="2026-12-01T00:00:00Z",
        started_at=0.0,
    )
    return ctx


def _ok_report(**changes: object) -> MeasuredReport:
    values: dict[str, object] = dict(
        outcome="ok", bytes_moved=MiB, started_at=10.0, ended_at=11.0, wall_s=1.0, peak_rss_reset=True,
        baseline_rss_anon_bytes=5 * MiB, final_rss_anon_bytes=6 * MiB, baseline_rss_file_bytes=MiB,
    )  # fmt: skip
    values.update(changes)
    return MeasuredReport(**values)  # type: ignore[arg-type]


GOOD = Received(MiB, "abc", 10.1, 10.9)


def test_a_whole_run_is_ok_and_verified_with_its_peaks_and_times() -> None:
    samples = [(9.0, 99 * MiB, 0), (10.5, 20 * MiB, 3 * MiB), (10.6, 7 * MiB, 2 * MiB), (12.0, 99 * MiB, 0)]
    r = to_record(
        _ctx(), Measurement(_ok_report(), samples=samples, received=GOOD, user_s=0.5), RunFacts("run", 1.2)
    )
    assert (r.outcome, r.error, r.verified, r.verify_detail) == ("ok", None, True, "size and xxh3-64 match")
    # Samples outside the measured section (9.0, 12.0) do not count; the child's own figures do.
    assert (r.peak_rss_anon_bytes, r.peak_rss_file_bytes) == (20 * MiB, 3 * MiB)
    assert [p[0] for p in r.rss_timeline] == [0.5, 0.6]
    assert r.ttfb_s is not None and abs(r.ttfb_s - 0.1) < 1e-9
    assert r.sink_last_byte_s is not None and abs(r.sink_last_byte_s - 0.9) < 1e-9
    assert (r.repeat, r.user_s, r.run_total_s, r.peak_rss_method) == (2, 0.5, 1.2, "VmHWM after clear_refs")


def test_over_the_cap_is_oom_in_the_runs_own_words() -> None:
    r = to_record(_ctx(), Measurement(None, over_cap=True, returncode=-9), RunFacts("run", 1.0))
    assert r.outcome == "oom" and r.error == "killed at the memory cap of 64MiB (none)"
    server = Measurement(None, who="server", over_cap=True, over_cap_detail="; 3 viewers failed")
    r = to_record(_ctx(), server, RunFacts("run", 1.0))
    assert r.error == "server killed at the memory cap of 64MiB (none); 3 viewers failed"


def test_past_the_deadline_is_timeout_and_no_report_is_crashed() -> None:
    r = to_record(_ctx(), Measurement(_ok_report(), timed_out=True), RunFacts("run", 1.0))
    assert (r.outcome, r.error) == ("timeout", "killed after 7 s")
    r = to_record(
        _ctx(), Measurement(None, returncode=-11, stderr_tail="Segmentation fault"), RunFacts("run", 1.0)
    )
    assert (
        r.outcome == "crashed" and r.error == "worker died (signal 11) without a report: Segmentation fault"
    )
    assert r.verified is False and r.peak_rss_anon_bytes is None and r.rss_timeline == []


def test_a_memory_error_under_the_cap_is_oom() -> None:
    report = _ok_report(outcome="error", error="MemoryError: ")
    r = to_record(_ctx(), Measurement(report, received=GOOD), RunFacts("run", 1.0))
    assert r.outcome == "oom" and not r.verified


def test_every_failed_check_is_said() -> None:
    bad = Received(MiB - 1, "def", None, None)
    r = to_record(_ctx(), Measurement(_ok_report(bytes_moved=MiB - 1), received=bad), RunFacts("run", 1.0))
    assert r.outcome == "ok" and not r.verified
    assert r.verify_detail == (
        f"sink received {MiB - 1} of {MiB} bytes; sink checksum def differs from the workload's abc; "
        f"strategy reports {MiB - 1} of {MiB} bytes moved"
    )


def test_an_executors_own_verdict_and_figures_win() -> None:
    m = Measurement(_ok_report(), verdict=Verdict(False, "viewer-1: 3 of 4 bytes"), ttfb_s=0.25,
                    http={"clients": 2})  # fmt: skip
    r = to_record(_ctx(), m, RunFacts("run", 1.0))
    assert (r.verified, r.verify_detail, r.ttfb_s, r.http) == (
        False,
        "viewer-1: 3 of 4 bytes",
        0.25,
        {"clients": 2},
    )


def test_a_run_that_never_ran_says_so_and_carries_its_own_state() -> None:
    # The cache state and the cap are this run's, not a previous run's (one of the seam's fixes).
    r = to_record(_ctx("memory"), Measurement.not_run("profiler unavailable: x"), RunFacts("run", 0.0))
    assert (r.outcome, r.error, r.profiler) == ("error", "profiler unavailable: x", "memory")
    assert (r.cache_method, r.memory_limit_method, r.resident_method) == ("not made", "none", "not measured")
    ctx = _ctx()
    ctx.cache = CacheState("already resident", MiB, "cachestat", True)
    r = to_record(ctx, Measurement(_ok_report(), received=GOOD), RunFacts("run", 1.0))
    assert (r.cache_method, r.resident_bytes_before, r.cache_state_ok) == ("already resident", MiB, True)


def test_the_childs_contract_and_the_parents_view_have_the_same_fields() -> None:
    from dataclasses import fields

    from streambench.harness.measure.report import MeasuredReportDict, SectionFigures
    from streambench.harness.results.record import Record

    assert set(MeasuredReportDict.__annotations__) == {f.name for f in fields(MeasuredReport)}
    # The section's figures are declared once: the record has them as themselves.
    section = {f.name for f in fields(SectionFigures)}
    assert section <= {f.name for f in fields(Record)} and section <= {f.name for f in fields(MeasuredReport)}


def test_an_executors_problems_make_the_outcome_in_one_place() -> None:
    m = Measurement(_ok_report(), problems=("viewer-1: status 500",), subjects=4, subject_word="viewers",
                    verdict=Verdict(False, "viewer-1: status 500"))  # fmt: skip
    r = to_record(_ctx(), m, RunFacts("run", 1.0))
    assert (r.outcome, r.error) == ("error", "1 of 4 viewers failed: viewer-1: status 500")
    m = Measurement(_ok_report(), problems=("the S3 server died",), verdict=Verdict(True, "stored"))
    r = to_record(_ctx(), m, RunFacts("run", 1.0))
    assert (r.outcome, r.error, r.verified) == ("error", "the S3 server died", False)


def test_the_records_read_back_as_the_model_older_schemas_upgraded() -> None:
    from streambench.harness.results.record import SCHEMA_VERSION, Record

    old = {"cell_id": "c", "repeat": 1, "warmup": False, "outcome": "ok", "schema_version": 9, "sink": "http",
           "http": {"clients": 16, "view_bytes": 1024, "route": "export", "ttfb_p50_s": 0.1},
           "worker": "tcp://10.0.0.2:4000", "wall_s": "fast", "size_bytes": "huge"}  # fmt: skip
    r = Record.from_json(old)
    assert (r.clients, r.view_bytes, r.http_route, r.cluster) == (
        16,
        1024,
        "export",
        {"dask_worker": "tcp://10.0.0.2:4000"},
    )
    assert (r.wall_s, r.size_bytes, r.schema_version) == (None, 0, SCHEMA_VERSION)
    s3 = Record.from_json({**old, "http": {"route": "s3-upload", "method": "put_object_file"}})
    assert s3.s3["method"] == "put_object_file" and not s3.http
    assert Record.from_json(r.to_dict()) == r
