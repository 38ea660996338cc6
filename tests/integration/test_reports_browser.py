"""The report in a real headless Chromium: no console error, no network request, charts drawn.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages separated by NUL bytes on fds 3 and 4), so no websocket library is
needed. Without Chromium the test is skipped on a developer's machine and fails
under CI=true, where .ci/run installs it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.results.store import load_records, load_run_meta
from reports.compare import compare, render_comparison
from reports.html import render_report
from tests.helpers import FIXTURES

# Real matrices, servers or browsers: minutes in all (pytest -m "not slow" leaves them out).
pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, binary: str, profile_dir: Path, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def move_pipe_to_3_and_4() -> None:
            # The browser reads commands on fd 3 and writes replies on fd 4; dup2 leaves
            # both inheritable, every other descriptor of ours is close-on-exec.
            read_end = os.dup(to_child_r)
            write_end = os.dup(from_child_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            preexec_fn=move_pipe_to_3_and_4,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._from_child], [], [], remaining)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def wait_for_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            reply = self._read_message(deadline)
            if "method" in reply:
                self.events.append(reply)
                if reply["method"] == method:
                    return reply

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path, width: int = 1300, height: int = 900) -> None:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for_event("Page.loadEventFired")

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log errors."""
        out: list[str] = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log: {params['entry'].get('text')}")
        return out

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and CI must run the browser test (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    chromium = Chromium(binary, profile)
    try:
        yield chromium
    finally:
        chromium.close()


def _fixture_run(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return load_run_meta(FIXTURES / name), load_records(FIXTURES / name)


def test_report_in_chromium(browser: Chromium, tmp_path: Path) -> None:
    meta, records = _fixture_run("run")
    page = tmp_path / "report.html"
    page.write_text(render_report(meta, records), encoding="utf-8")
    browser.open(page)
    assert browser.problems() == []
    # Only the page itself was loaded: no font, script, image or anything over the network.
    assert browser.requests() == [page.resolve().as_uri()]
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


def test_comparison_in_chromium(browser: Chromium, tmp_path: Path) -> None:
    base_meta, base = _fixture_run("compare-base")
    cand_meta, cand = _fixture_run("compare-cand")
    page = tmp_path / "compare.html"
    page.write_text(render_comparison(compare(base, cand, 0.05), base_meta, cand_meta), encoding="utf-8")
    browser.open(page)
    assert browser.problems() == []
    assert browser.requests() == [page.resolve().as_uri()]
    assert browser.evaluate("document.querySelectorAll('svg.sb-chart').length") >= 1
    browser.screenshot(tmp_path / "compare.png")
