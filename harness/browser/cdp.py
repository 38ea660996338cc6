"""A headless Chromium spoken to over the DevTools protocol on a pipe, and its pages.

``--remote-debugging-pipe``: JSON messages separated by NUL bytes, commands on
the browser's fd 3 and replies and events on its fd 4. No websocket and no
port: nothing but the browser itself can talk to it, and no library is needed.
Each page is a target attached with ``flatten``: its commands and events carry
its ``sessionId``. The browser runs in its own process group, dying with its
parent (``setpriv``); ``close`` empties the group (renderers, GPU and zygote
processes included).

The report's browser tests and the browser executor both use it.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from streambench.harness.common.lifeline import dies_with_us, kill_group

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-features=MediaRouter,OptimizationHints,Translate",
    "--hide-scrollbars",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
    # Nothing but loopback resolves: a page, or the browser itself, cannot reach off the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-pipe",
)


# What every tab reports on: its page's life, script results, console and log, and its requests.
_DOMAINS = ("Page", "Runtime", "Log", "Network")


def find_chromium() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium process (group), its DevTools pipe and its pages."""

    def __init__(self, binary: str, profile_dir: Path, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # The browser reads commands on fd 3 and writes on fd 4. Our ends arrive as its stdin and
        # stdout, and a shell moves them to 3 and 4 (no preexec_fn: the harness has threads).
        fds = 'exec 3<&0 4>&1 </dev/null >/dev/null; exec "$@"'
        argv = dies_with_us(
            ["sh", "-c", fds, "sh", binary, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"]
        )
        self.process = subprocess.Popen(
            argv,
            stdin=to_child_r,
            stdout=from_child_w,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self._closed = False
        self.pages: dict[str, Page] = {}
        # Events not yet taken by next_event (every event also goes to its page's history).
        self.pending: collections.deque[dict[str, Any]] = collections.deque()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        """The next message, or None at the deadline."""
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._from_child], [], [], remaining)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe (it exited)")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def _file_event(self, message: dict[str, Any]) -> None:
        page = self.pages.get(message.get("sessionId", ""))
        if page is not None:
            page.events.append(message)
        self.pending.append(message)

    def call(self, method: str, session: str = "", **params: Any) -> dict[str, Any]:
        return self.calls([(method, session, params)])[0]

    def calls(self, commands: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Several commands (method, session, params) sent at once and their replies in order: one
        round trip through the browser instead of one each (four tabs' set-up took ~1.2 s one by one)."""
        first = self._next_id + 1
        for method, session, params in commands:
            self._next_id += 1
            message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
            if session:
                message["sessionId"] = session
            os.write(self._to_child, json.dumps(message).encode() + b"\0")
        replies: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + self.timeout_s
        while len(replies) < len(commands):
            reply = self._read_message(deadline)
            if reply is None:
                raise TimeoutError(f"no reply from chromium to {commands[0][0]} in {self.timeout_s:g} s")
            if "method" in reply:
                self._file_event(reply)
            elif first <= int(reply.get("id", 0)) <= self._next_id:
                replies[int(reply["id"])] = reply
        out = []
        for i, (method, _, _) in enumerate(commands):
            reply = replies[first + i]
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            out.append(dict(reply.get("result", {})))
        return out

    def next_event(self, deadline: float) -> dict[str, Any] | None:
        """The next event of any page, or None at the deadline."""
        if self.pending:
            return self.pending.popleft()
        while (message := self._read_message(deadline)) is not None:
            if "method" in message:
                self._file_event(message)
                return self.pending.popleft()
        return None

    def new_page(self, width: int = 1300, height: int = 900, *, own_context: bool = False) -> Page:
        """A tab; ``own_context``: in a context of its own (its own cookies, cache and connection pool,
        as another viewer's browser would be: one profile's tabs share six connections per host)."""
        params: dict[str, Any] = {"url": "about:blank"}
        context = ""
        if own_context:
            context = str(self.call("Target.createBrowserContext")["browserContextId"])
            params["browserContextId"] = context
        target = self.call("Target.createTarget", **params)["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session, target, context)
        self._set_up([page], width, height)
        return page

    def new_pages(self, n: int, width: int, height: int) -> list[Page]:
        """``n`` tabs, each in a browser context of its own (as ``new_page(own_context=True)``), made
        together: each step is one batch of commands for every tab."""
        made = self.calls([("Target.createBrowserContext", "", {})] * n)
        contexts = [str(r["browserContextId"]) for r in made]
        made = self.calls([("Target.createTarget", "", {"url": "about:blank", "browserContextId": c})
                           for c in contexts])  # fmt: skip
        targets = [str(r["targetId"]) for r in made]
        made = self.calls([("Target.attachToTarget", "", {"targetId": t, "flatten": True}) for t in targets])
        pages = [
            Page(self, str(r["sessionId"]), t, c) for r, t, c in zip(made, targets, contexts, strict=True)
        ]
        self._set_up(pages, width, height)
        return pages

    def _set_up(self, pages: list[Page], width: int, height: int) -> None:
        """The domains every tab reports on, and its viewport: one batch for all the tabs."""
        setup: list[tuple[str, str, dict[str, Any]]] = []
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        for page in pages:
            self.pages[page.session] = page
            setup += [(f"{domain}.enable", page.session, {}) for domain in _DOMAINS]
            setup.append(("Emulation.setDeviceMetricsOverride", page.session, metrics))
        self.calls(setup)

    def close_pages(self, pages: list[Page]) -> None:
        """Close tabs in one batch: a tab with a context of its own goes with its context (disposing of
        one closes its tabs), any other is closed alone."""
        for page in pages:
            self.pages.pop(page.session, None)
        self.calls(
            [("Target.disposeBrowserContext", "", {"browserContextId": p.context}) if p.context
             else ("Target.closeTarget", "", {"targetId": p.target}) for p in pages]
        )  # fmt: skip

    def alive(self) -> bool:
        return not self._closed and self.process.poll() is None

    def close(self) -> int:
        """Close the browser and empty its process group; returns how many processes were left."""
        if self._closed:
            return 0
        self._closed = True
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        left = kill_group(self.process.pid)
        os.close(self._to_child)
        os.close(self._from_child)
        return left

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab: commands go to its session; ``events`` is its history."""

    def __init__(self, browser: Browser, session: str, target: str = "", context: str = "") -> None:
        self.browser = browser
        self.session = session
        self.target = target
        self.context = context  # its own browser context, or "" (the default one)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.call(method, self.session, **params)

    def wait_for_event(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event["method"] == method:
                return event
        deadline = time.monotonic() + self.browser.timeout_s
        while (waited := self.browser.next_event(deadline)) is not None:
            if waited.get("sessionId") == self.session and waited["method"] == method:
                return waited
        raise TimeoutError(f"no {method} from chromium in {self.browser.timeout_s:g} s")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path) -> None:
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for_event("Page.loadEventFired")

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        """PNG, or JPEG when ``path`` ends in .jpg (quality 85). Encoded for speed: a browser run takes
        its pictures while its pages play."""
        jpeg = path.suffix.lower() in (".jpg", ".jpeg")
        params: dict[str, Any] = {"format": "jpeg", "quality": 85} if jpeg else {"format": "png"}
        params["optimizeForSpeed"] = True
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

    def requests(self) -> list[dict[str, Any]]:
        """Every request the page made: ``Network.requestWillBeSent``'s request objects."""
        return [
            dict(e["params"]["request"]) for e in self.events if e["method"] == "Network.requestWillBeSent"
        ]
