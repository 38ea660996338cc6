"""The report in a real headless Chromium: no console error, no network request, charts drawn.

Chromium is driven over the DevTools pipe (:mod:`harness.browser.cdp`). Without
Chromium the test is skipped on a developer's machine and fails under CI=true,
where .ci/run installs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.browser.cdp import Browser, Page
from harness.results.store import load_records, load_run_meta
from reports.compare import compare, render_comparison
from reports.html import render_report
from tests.helpers import FIXTURES, chromium_or_skip

# Real matrices, servers or browsers: minutes in all (pytest -m "not slow" leaves them out).
pytestmark = pytest.mark.slow


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Page]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with Browser(chromium_or_skip(), profile) as chromium:
        yield chromium.new_page()


def _fixture_run(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return load_run_meta(FIXTURES / name), load_records(FIXTURES / name)


def test_report_in_chromium(browser: Page, tmp_path: Path) -> None:
    meta, records = _fixture_run("run")
    page = tmp_path / "report.html"
    page.write_text(render_report(meta, records), encoding="utf-8")
    browser.open(page)
    assert browser.problems() == []
    # Only the page itself was loaded: no font, script, image or anything over the network.
    assert [r["url"] for r in browser.requests()] == [page.resolve().as_uri()]
    charts = browser.evaluate(
        "Array.from(document.querySelectorAll('svg.sb-chart')).map(s => {"
        " const r = s.getBoundingClientRect();"
        " return [r.width, r.height, s.querySelectorAll('rect,path,circle').length]; })"
    )
    assert len(charts) >= 8
    # Laid out with a size, and with marks drawn in each.
    assert all(width > 100 and height > 100 and shapes > 0 for width, height, shapes in charts)
    # Every section that has a chart in this fixture drew at least one.
    for section in ("throughput", "memory", "timelines", "backpressure", "chunks", "pareto"):
        count = browser.evaluate(
            f"(() => {{ let n = 0, el = document.getElementById('{section}').nextElementSibling;"
            " while (el && el.tagName !== 'H2') {"
            "  n += el.querySelectorAll('svg.sb-chart').length; el = el.nextElementSibling; }"
            " return n; })()"
        )
        assert count > 0, section
    # The hostile strategy name stayed text: no script ran, no element was injected.
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('script').length") == 1
    assert browser.evaluate("document.body.textContent.includes('<script>alert(1)</script>')")
    # The table sorts: click "GB/s median" twice, the first row changes to the slowest cell.
    first = "document.querySelector('#cells-table tbody tr').cells[8].getAttribute('data-v')"
    header = (
        "Array.from(document.querySelectorAll('#cells-table th')).find(h => h.textContent === 'GB/s median')"
    )
    browser.evaluate(f"{header}.click()")
    ascending = float(browser.evaluate(first))
    browser.evaluate(f"{header}.click()")
    descending = float(browser.evaluate(first))
    assert ascending < descending
    assert browser.problems() == []
    shot = tmp_path / "report.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_comparison_in_chromium(browser: Page, tmp_path: Path) -> None:
    base_meta, base = _fixture_run("compare-base")
    cand_meta, cand = _fixture_run("compare-cand")
    page = tmp_path / "compare.html"
    page.write_text(render_comparison(compare(base, cand, 0.05), base_meta, cand_meta), encoding="utf-8")
    browser.open(page)
    assert browser.problems() == []
    assert [r["url"] for r in browser.requests()] == [page.resolve().as_uri()]
    assert browser.evaluate("document.querySelectorAll('svg.sb-chart').length") >= 1
    browser.screenshot(tmp_path / "compare.png")
