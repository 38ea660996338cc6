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

from streambench.harness.browser.cdp import Browser, Page
from streambench.harness.results.record import Record
from streambench.harness.results.store import load_records, load_run_meta
from streambench.reports.compare import compare, render_comparison
from streambench.reports.html import render_report
from tests.helpers import ARTIFACTS, FIXTURES, as_records, chromium_or_skip

# Real matrices, servers or browsers: minutes in all (pytest -m "not slow" leaves them out).
pytestmark = pytest.mark.slow


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Page]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with Browser(chromium_or_skip(), profile) as chromium:
        yield chromium.new_page()


def _fixture_run(name: str) -> tuple[dict[str, Any], list[Record]]:
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
        "Array.from(document.querySelectorAll('svg.sb-chart'))"
        ".filter(s => s.getClientRects().length).map(s => {"
        " const r = s.getBoundingClientRect();"
        " return [r.width, r.height, s.querySelectorAll('rect,path,circle').length]; })"
    )
    assert len(charts) >= 6
    # Laid out with a size, and with marks drawn in each (those of the hidden settings' panels aside).
    assert all(width > 100 and height > 100 and shapes > 0 for width, height, shapes in charts)
    # Every section that has a chart in this fixture drew at least one.
    for section in ("story", "memory", "chunks", "pareto"):
        count = browser.evaluate(
            f"(() => {{ const start = document.getElementById('{section}');"
            " let n = start.querySelectorAll('svg.sb-chart').length, el = start.nextElementSibling;"
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
    first = "document.querySelector('#cells-table tbody tr').cells[3].getAttribute('data-v')"
    header = "Array.from(document.querySelectorAll('#cells-table th')).find(h => h.textContent === 'GB/s')"
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


def _visible_box(page: Page, selector: str) -> dict[str, float]:
    box = page.evaluate(
        f"(() => {{ const el = Array.from(document.querySelectorAll({selector!r}))"
        ".find(e => e.getClientRects().length > 0);"
        " if (!el) return null; const r = el.getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; })()"
    )
    assert box is not None, f"nothing visible matches {selector}"
    return dict(box)


def test_first_screen_at_1366x768(tmp_path: Path) -> None:
    """A laptop's first screen: the ranking, every run as a dot, all strategies' memory in one chart,
    with nothing wider than the window; the screenshot is kept with the test artifacts."""
    from streambench.reports.synthetic import MiB, synthetic_run

    # The default run's shape: 7 strategies, two sizes, two sinks, one chunk size, 3 runs each.
    meta, records = synthetic_run(
        sizes=(256 * MiB, 1024 * MiB), sinks=("null", "file"), chunks=(64 << 10,), repeat=3, warmup=0
    )
    page_path = tmp_path / "report.html"
    page_path.write_text(render_report(meta, as_records(records)), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with Browser(chromium_or_skip(), profile) as chromium:
        page = chromium.new_page(1366, 768)
        page.open(page_path)
        assert page.problems() == []
        width = page.evaluate("document.documentElement.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
        # Every element on the page lies within the window's width (a table or chart cut off is a failure).
        wide = page.evaluate(
            f"Array.from(document.querySelectorAll('body *')).filter(e => e.getClientRects().length"
            f" && e.getBoundingClientRect().right > {width} + 1).map(e => e.tagName + '.' + e.className)"
        )
        assert wide == []
        # Above the fold: the ranking, the dots chart with a dot per run, the overlaid memory chart.
        ranking = _visible_box(page, "#story .panel table.rank")
        dots = _visible_box(page, "#story .panel svg[aria-label^='throughput: runs']")
        memory = _visible_box(page, "#story .panel svg[aria-label^='RSS over time']")
        for name, box in (("ranking", ranking), ("dots", dots), ("memory", memory)):
            assert box["bottom"] <= 768 and box["right"] <= width, (name, box)
        panel = "Array.from(document.querySelectorAll('#story .panel')).find(p => !p.hidden)"
        assert page.evaluate(f"{panel}.querySelectorAll('table.rank tbody tr').length") == 7
        # The stream doctor beside each strategy, on the first screen: what bound it, its sentence on hover.
        bounds = page.evaluate(
            f"Array.from({panel}.querySelectorAll('td.doctor')).map(td => [td.textContent, td.title])"
        )
        assert len(bounds) == 7 and all(word.strip() and title for word, title in bounds), bounds
        doctor = _visible_box(page, "#story .panel td.doctor")
        assert doctor["bottom"] <= 768 and doctor["right"] <= width, doctor
        assert page.evaluate(f"{panel}.querySelectorAll('circle.sb-run').length") == 7 * 3
        # anon solid and file-backed dashed, one line each per strategy, on one chart
        memory_chart = f"{panel}.querySelector(\"svg[aria-label^='RSS over time']\")"
        lines = page.evaluate(f"{memory_chart}.querySelectorAll('g.sb-series').length")
        assert lines >= 7
        assert page.evaluate(f"{panel}.querySelector('.headline').textContent").strip()
        # the delivered-bytes chart sits below, in the same panel
        assert page.evaluate(f"{panel}.querySelectorAll(\"svg[aria-label^='delivered']\").length") == 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "report-first-screen-1366x768.png"
        page.screenshot(shot, full_page=False)
        assert shot.stat().st_size > 10_000
        # A tab shows another setting's panel, and only it.
        page.evaluate("document.querySelectorAll('.tabs .tab')[1].click()")
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('#story .panel')).filter(p => !p.hidden).length"
        )
        assert shown == 1
        assert (
            page.evaluate("document.querySelectorAll('.tabs .tab')[1].getAttribute('aria-selected')")
            == "true"
        )
        # The filter keeps the rows holding every word typed.
        page.evaluate(
            "(() => { const box = document.getElementById('cells-filter'); box.value = 'pipe null';"
            " box.dispatchEvent(new Event('input')); })()"
        )
        rows = page.evaluate(
            "Array.from(document.querySelectorAll('#cells-table tbody tr')).filter(r => !r.hidden)"
            ".map(r => r.textContent)"
        )
        assert len(rows) == 2 and all("pipe" in r and "null" in r for r in rows)
        assert page.problems() == []


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
