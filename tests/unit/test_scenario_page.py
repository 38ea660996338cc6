"""A scenario's page: every run on its chart (a page that never showed a frame drawn as such), and
Node's verdicts first on Node's own questions."""

from __future__ import annotations

from typing import Any

from streambench.harness.results.record import SCHEMA_VERSION
from streambench.reports import scenario_html
from tests.helpers import as_records

MiB = 1 << 20


def _browser_run(strategy: str, first_frame_s: float | None) -> dict[str, Any]:
    played = first_frame_s is not None
    return {
        "schema_version": SCHEMA_VERSION, "strategy": strategy, "workload": "mp4", "size_bytes": 24 * MiB,
        "sink": "browser", "clients": 1,
        "warmup": False, "profiler": None, "outcome": "ok", "verified": played, "wall_s": 3.0,
        "browser": {"pages": [{"page": 0, "first_frame_s": first_frame_s}], "played_pages": int(played),
                    "first_frame_max_s": first_frame_s},
    }  # fmt: skip


def test_a_run_that_never_played_is_on_the_chart() -> None:
    records = as_records(
        [_browser_run("pipe", s) for s in (0.3, 0.4, None)]
        + [_browser_run("node-pipe", None) for _ in range(3)]
    )
    bars = scenario_html._series(records, "first_frame_s", "strategy")
    (pipe,) = (b for label, b in bars.items() if label.startswith("pipe |"))
    (node,) = (b for label, b in bars.items() if label.startswith("node-pipe |"))
    assert (pipe.median, pipe.runs, pipe.never) == (0.35, 3, 1)
    assert node.runs == 3 and node.never == 3
    svg = scenario_html.bar_chart_svg(bars, "first_frame_s", "first frame")
    assert "0.35 s (1 of 3 runs never showed a frame)" in svg
    assert "never showed a frame (3 of 3 runs)" in svg
    assert "inf" not in svg and "nan" not in svg


# The seeds' questions about Node's own APIs: a Node engineer reads Node's verdicts first.
NODE_QUESTIONS = (
    "backpressure",
    "readfile-vs-stream",
    "pipe-vs-manual",
    "compression",
    "video",
    "highwatermark",
)


def test_on_a_node_question_node_verdicts_come_first() -> None:
    import tomllib

    from tests.helpers import ROOT

    for name in NODE_QUESTIONS:
        text = (ROOT / "harness" / "plan" / "scenarios" / f"{name}.toml").read_text()
        node = [claim["says"].startswith("Node") for claim in tomllib.loads(text)["claim"]]
        assert any(node) and node == sorted(node, reverse=True), name
