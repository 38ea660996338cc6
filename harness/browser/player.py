"""N headless Chromium pages playing one video URL at once, each timed by its own clock.

One browser (the caller's, kept across runs), one tab per viewer, each in a browser context of its
own made for this run and disposed of after it (its own cache and connection pool: viewers on other
machines share neither, and no run inherits one); each tab gets the link rate (DevTools
``Network.emulateNetworkConditions``, per tab) and runs ``player.js``, which
reports through the ``sbReport`` binding. At each page's first frame the
caller's ``at_first_frame(page)`` runs at once, in a thread (the executor reads the server's
counters there); page 0 is photographed at its first frame and after its seek
when a folder is given. The results say what each page saw, and which requests
it made (every one must stay on 127.0.0.1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streambench.harness.browser.cdp import Browser, Page
from streambench.harness.common.paths import PACKAGE_ROOT

PLAYER_JS = PACKAGE_ROOT / "harness" / "browser" / "player.js"
VIEWPORT = (640, 400)
# JPEG: a fifth of a PNG's size for a video frame, and the scenario page embeds them.
SCREENSHOTS = {"first_frame": "first-frame.jpg", "seeked": "after-seek.jpg"}
# A Network.Response served by something other than the network.
_FROM_A_CACHE = ("fromDiskCache", "fromPrefetchCache", "fromServiceWorker", "fromEarlyHints")


@dataclass(frozen=True)
class PlayerSettings:
    """What every page does: the same for all pages of a run, recorded with it."""

    seek_fraction: float = 0.6
    # A watch of 1 s after the seek shows whether playback goes on there (its stalls); each second
    # more is a second of every run (3 s made browser-video's 51 cells ~100 s longer a round).
    watch_s: float = 1.0
    # Ten times the scenario's 1 s bounds: a page with no first frame by then counts as never (the
    # seed's server at 10 Mbit/s with moov at the end needs the whole file first).
    timeout_s: float = 10.0
    settle_s: float = 0.3
    link_rate_bps: int = 0  # bytes/s per page; 0: not throttled

    def script_args(self, url: str) -> dict[str, Any]:
        return {"url": url, "seekFraction": self.seek_fraction, "watchMs": self.watch_s * 1000,
                "timeoutMs": self.timeout_s * 1000, "settleMs": self.settle_s * 1000}  # fmt: skip


@dataclass
class PageRun:
    """One page's part: what the page said, and what the harness saw around it."""

    index: int
    result: dict[str, Any] | None = None
    first_frame_seen_at: float | None = None  # time.monotonic() when the binding arrived
    at_first_frame: dict[str, Any] = field(default_factory=dict)
    # Bytes the page's requests delivered (Network.dataReceived, after the link's throttle): so
    # far, and when the first frame was reported (events come in the order the browser sent them).
    received_bytes: int = 0
    received_at_first_frame: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cached_responses: int = 0  # responses a cache served (0: the page started cold, as it should)


@dataclass
class PlayResult:
    pages: list[PageRun]
    started_at: float
    ended_at: float
    browser_version: str
    screenshots: list[Path]
    leftover_processes: int
    # Requests to anything but 127.0.0.1 (none may exist: the resolver maps every other host away).
    off_loopback: list[str]
    error: str | None = None
    browser_runs_before: int = 0  # runs this browser played before this one (it is kept per session)


def _player_source() -> str:
    """player.js is one function expression (a trailing ``;`` would end the call's parentheses)."""
    return PLAYER_JS.read_text(encoding="utf-8").strip().removesuffix(";")


def open_pages(browser: Browser, n_pages: int) -> list[Page]:
    """``n_pages`` tabs for one run, each a viewer of its own: its own browser context (its own cache
    and connection pool, so no page waits for another's connections and none inherits a run's)."""
    return browser.new_pages(n_pages, *VIEWPORT)


def play(
    browser: Browser,
    pages: list[Page],
    url_for: Callable[[int], str],
    settings: PlayerSettings,
    *,
    at_first_frame: Callable[[int], dict[str, Any]] = lambda page: {},
    screenshot_dir: Path | None = None,
) -> PlayResult:
    """Start the pages (from :func:`open_pages`) together, wait for every page's report (or the
    deadline); the pages are closed, and their contexts disposed of, when it returns.

    The browser may have played earlier runs: each page here is in a browser context made for it
    and disposed of after it (its cache, cookies and connections go with it), so every run starts
    cold; the pages count the responses a cache served them (``cached_responses``) to show it."""
    try:
        return _play(browser, pages, url_for, settings, at_first_frame, screenshot_dir)
    finally:
        browser.close_pages(pages)


def _play(
    browser: Browser,
    pages: list[Page],
    url_for: Callable[[int], str],
    settings: PlayerSettings,
    at_first_frame: Callable[[int], dict[str, Any]],
    screenshot_dir: Path | None,
) -> PlayResult:
    browser.pending.clear()  # an earlier run's last events (and the pages' making) are not this run's
    version = str(browser.call("Browser.getVersion").get("product", "?"))
    n_pages = len(pages)
    runs = [PageRun(i) for i in range(n_pages)]
    by_session = {page.session: i for i, page in enumerate(pages)}
    source = _player_source()
    setup: list[tuple[str, str, dict[str, Any]]] = []
    for page in pages:
        if settings.link_rate_bps:
            setup.append(("Network.emulateNetworkConditions", page.session,
                          {"offline": False, "latency": 0, "downloadThroughput": settings.link_rate_bps,
                           "uploadThroughput": -1}))  # fmt: skip
        setup.append(("Runtime.addBinding", page.session, {"name": "sbReport"}))
    browser.calls(setup)
    started_at = time.monotonic()
    # Not awaited, and sent together: every page starts now and reports through the binding.
    calls = [f"({source}\n)({json.dumps(settings.script_args(url_for(i)))})" for i in range(n_pages)]
    started = browser.calls(
        [("Runtime.evaluate", page.session, {"expression": call, "awaitPromise": False})
         for page, call in zip(pages, calls, strict=True)]
    )  # fmt: skip
    for reply in started:
        if "exceptionDetails" in reply:
            raise RuntimeError(f"the player script failed: {reply['exceptionDetails'].get('text')}")
    # Each page: metadata, first frame, seek, resume and watch, each bounded by the timeout.
    deadline = started_at + 4 * settings.timeout_s + settings.watch_s + settings.settle_s + 10
    screenshots: list[Path] = []
    error = None
    done = 0
    # at_first_frame asks the server, which may be slow to answer (one busy reading a whole file took
    # its 5 s): asked from a thread at once, so the other pages' events are not held up meanwhile.
    asking = ThreadPoolExecutor(max_workers=n_pages, thread_name_prefix="streambench-first-frame")
    views: dict[int, Future[dict[str, Any]]] = {}
    try:
        while done < n_pages:
            event = browser.next_event(deadline)
            if event is None:
                error = f"{n_pages - done} of {n_pages} pages did not finish by the deadline"
                break
            if event.get("sessionId") not in by_session:
                continue
            index = by_session[event["sessionId"]]
            run = runs[index]
            if event["method"] == "Network.dataReceived":
                run.received_bytes += int(event["params"].get("dataLength") or 0)
                continue
            if event["method"] == "Network.responseReceived":
                response = event["params"].get("response") or {}
                run.cached_responses += any(response.get(k) for k in _FROM_A_CACHE)
                continue
            if event["method"] != "Runtime.bindingCalled":
                continue
            message = json.loads(event["params"]["payload"])
            if message["kind"] == "first_frame":
                run.first_frame_seen_at = time.monotonic()
                run.received_at_first_frame = run.received_bytes
                views[index] = asking.submit(at_first_frame, index)
            if message["kind"] in SCREENSHOTS and index == 0 and screenshot_dir is not None:
                screenshot_dir.mkdir(parents=True, exist_ok=True)
                shot = screenshot_dir / SCREENSHOTS[message["kind"]]
                pages[0].screenshot(shot, full_page=False)
                screenshots.append(shot)
            if message["kind"] == "done":
                run.result = dict(message["result"])
                done += 1
        ended_at = time.monotonic()
    finally:
        asking.shutdown(wait=True)
    for index, view in views.items():
        runs[index].at_first_frame = view.result()
    off_loopback: list[str] = []
    for run, page in zip(runs, pages, strict=True):
        run.requests = [{"url": r["url"], "range": _header(r, "range")} for r in page.requests()]
        run.problems = page.problems()
        for request in run.requests:
            parts = urlsplit(request["url"])
            if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
                off_loopback.append(request["url"])
    return PlayResult(runs, started_at, ended_at, version, screenshots, 0, off_loopback, error)


def _header(request: dict[str, Any], name: str) -> str | None:
    for key, value in (request.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None
