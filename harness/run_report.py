"""A run's pages from its folder: report.html, a scenario run's page and verdicts, and what they say.

The reporters are pure (records in, HTML out); this module reads what they embed from the run's
own folder (flame graphs, screenshots: never a file outside it), writes the pages, and turns a
scenario's verdicts into the run's exit status.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streambench.harness.common.errors import Exit, UsageError
from streambench.harness.common.units import parse_count
from streambench.harness.results.record import Record
from streambench.harness.results.store import REPORT_FILE, finite, write_atomic

if TYPE_CHECKING:
    from streambench.harness.plan.scenario import Scenario
    from streambench.reports.claims import Claim, Verdict

# A flame graph larger than this is linked, not embedded.
MAX_EMBEDDED_SVG_BYTES = 8 << 20


@dataclass(frozen=True)
class Written:
    """A written report: its path, and a scenario run's claim verdicts (none for other runs)."""

    path: Path
    verdicts: list[Verdict] = field(default_factory=list)


def write_report(
    run_dir: Path, meta: Mapping[str, Any], records: list[Record], output: Path | None = None
) -> Written:
    """The run's report.html (or ``output``); a scenario run's page leads with its verdicts."""
    from streambench.reports.html import render_report

    html = render_report({**meta, "expected_outcomes": _expected_outcomes(meta, records)}, records,
                         _flame_graphs(run_dir, records))  # fmt: skip
    path = output or run_dir / REPORT_FILE
    write_atomic(path, html.encode())
    if isinstance(meta.get("scenario"), dict) and output is None:
        return _write_scenario_report(run_dir, meta, records, html)
    return Written(path.resolve())


def scenario_claims(info: Mapping[str, Any]) -> tuple[Scenario, list[Claim]]:
    """The scenario a run's run.json names (``meta["scenario"]``) and its claims at the size it ran."""
    from streambench.harness.plan.scenario import get_scenario
    from streambench.reports.claims import parse_claims

    try:
        scenario = get_scenario(str(info["name"]))
        size_bytes = parse_count(info["size_bytes"], "run.json's scenario size_bytes", 1, 1 << 50)
    except (KeyError, TypeError) as exc:
        raise UsageError(f"run.json's scenario is not one streambench wrote ({exc!r})") from None
    return scenario, parse_claims(scenario.expand(size_bytes)[1], f"scenario {scenario.name}")


def _expected_outcomes(meta: Mapping[str, Any], records: Sequence[Record]) -> dict[str, str]:
    """A scenario run's cells whose failed runs its claims expect (cell id -> outcome), so the report
    draws them as the answer (readFile oom-killed at the cap), not as failures."""
    info = meta.get("scenario")
    if not isinstance(info, dict):
        return {}
    from streambench.reports.claims import expects

    try:
        _, claims = scenario_claims(info)
    except UsageError:
        return {}  # the scenario page says what is wrong with it
    return {r.cell_id: str(r.outcome) for r in records
            if r.outcome != "ok" and any(expects(c, r) for c in claims)}  # fmt: skip


def exit_status(records: Sequence[Record], verdicts: Sequence[Verdict]) -> tuple[Exit, list[str]]:
    """RUNS_FAILED when a run failed or was not verified and no claim of the scenario expected it
    (readFile oom-killed at the cap is the answer, not a failure), or a claim fails; UNDECIDED when
    a claim is inconclusive; else OK. With the lines that say so."""
    from streambench.reports.claims import expects

    # Timed runs and warm-ups; a profiler pass that could not run says so in its record, not here.
    failed = [r for r in records if not r.profiler and (r.outcome != "ok" or not r.verified)]
    claims = [v.claim for v in verdicts]
    expected = [r for r in failed if any(expects(c, r) for c in claims)]
    unexpected = len(failed) - len(expected)
    said = []
    if expected:
        ended = ", ".join(sorted({str(r.outcome) for r in expected}))
        said.append(f"{len(expected)} runs ended as the scenario's claims expect ({ended})")
    if unexpected:
        said.append(f"{unexpected} runs failed or were not verified; see the report")
    outcomes = [v.verdict for v in verdicts]
    if unexpected or "fails" in outcomes:
        return Exit.RUNS_FAILED, said
    return (Exit.UNDECIDED if "inconclusive" in outcomes else Exit.OK), said


def _run_files(run_dir: Path, names: Iterable[str], max_bytes: int | None = None) -> dict[str, bytes]:
    """The files the records name, read from the run's own folder (never from outside it)."""
    out: dict[str, bytes] = {}
    root = run_dir.resolve()
    for name in names:
        path = (run_dir / name).resolve()
        if name in out or not (path.is_relative_to(root) and path.is_file()):
            continue
        if max_bytes is None or path.stat().st_size <= max_bytes:
            out[name] = path.read_bytes()
    return out


def _flame_graphs(run_dir: Path, records: list[Record]) -> dict[str, str]:
    """The SVG flame graphs of the profiler passes, for the report to draw in place."""
    names = [
        str(name) for r in records for name in r.profile_artifacts.values() if str(name).endswith(".svg")
    ]
    files = _run_files(run_dir, names, MAX_EMBEDDED_SVG_BYTES)
    return {name: data.decode(errors="replace") for name, data in files.items()}


def _screenshots(run_dir: Path, records: list[Record]) -> dict[str, bytes]:
    """The browser runs' screenshots, for the scenario page to show."""
    names = [str(name) for r in records for name in r.browser.get("screenshots") or []]
    return _run_files(run_dir, names)


def _write_scenario_report(
    run_dir: Path, meta: Mapping[str, Any], records: list[Record], full_report_html: str
) -> Written:
    from streambench.reports.claims import evaluate
    from streambench.reports.scenario_html import render_scenario

    info = meta["scenario"]
    scenario, claims = scenario_claims(info)
    verdicts = [evaluate(c, records) for c in claims]
    path = run_dir / "scenario.html"
    # How many rounds each cell ran, when the scenario stops deciding early (min_repeat).
    info = {**info, "claim_rounds": meta.get("claim_rounds")}
    page = render_scenario(
        scenario, info, verdicts, records, full_report_html, _screenshots(run_dir, records)
    )
    write_atomic(path, page.encode())
    verdicts_json = json.dumps(
        finite([{"says": v.claim.says, "verdict": v.verdict, "about": v.about, "detail": v.detail,
                 "numbers": v.numbers} for v in verdicts]),
        indent=2, default=str,
    )  # fmt: skip
    write_atomic(run_dir / "verdicts.json", verdicts_json.encode())
    return Written(path.resolve(), verdicts)
