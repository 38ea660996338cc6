"""A ``browser`` cell: a real server (a strategy serving an mp4) and real Chromium pages playing it.

The server under test is the HTTP executor's (aiohttp, or Node's through the same
protocol), under the run's cap. N headless Chromium tabs play ``/file`` at the
cell's link rate (its consumer rate), each timing by its own clock the metadata,
the first frame, a seek far into the video and the stalls of a fixed watch
(:mod:`harness.browser.player`). At each page's first frame the server's live
counters are read: bytes it had sent that page, and the Range requests it had
seen. The record's memory and CPU are the server's; the browser's are not
measured as the subject's.

Route ``missing-first``: before the viewers, one request for a file that does
not exist. The seed's Node server dies of it (the run is ``crashed``, and why);
one with error handling answers 404 and the viewers play.

Verification: a browser does not checksum what it plays; what is checked is that
every page decoded the file with no media error (and, for ``missing-first``,
that the missing file was a 404).
"""

from __future__ import annotations

import shutil
import statistics
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from streambench.harness.browser.cdp import Browser, Page, find_chromium
from streambench.harness.browser.player import PageRun, PlayerSettings, PlayResult, open_pages, play
from streambench.harness.common.scratch import owned_tempdir
from streambench.harness.execute.context import RunContext
from streambench.harness.execute.executors import keep
from streambench.harness.execute.measurement import MeasuredReport, Measurement, Verdict
from streambench.harness.http.clients_handle import fetch
from streambench.harness.http.server_config import ServerConfig
from streambench.harness.http.server_handle import ServerHandle
from streambench.harness.plan.planning import PlannedRun
from streambench.harness.runtimes import Runtime
from streambench.harness.sinks.handles import Received
from streambench.strategies.registry import split_spec

IDLE_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 0.25
# Chromium binary -> the browser kept for this session's runs, its profile, how many runs it played.
_KEPT: dict[str, tuple[Browser, Path, list[int]]] = {}
# How long after the missing-file request the server is looked at (a crash takes a few ms).
AFTER_MISSING_S = 0.3


class BrowserExecutor:
    """``browser`` cells; ``missing_first``: the route that asks for a missing file before the pages play."""

    def __init__(self, runtime: Runtime, *, missing_first: bool = False) -> None:
        self.runtime = runtime
        self.missing_first = missing_first

    def run(self, planned: PlannedRun, ctx: RunContext) -> Measurement:
        binary = find_chromium()
        if binary is None:
            return Measurement.not_run("chromium is not installed (apt-get install chromium)")
        cell = planned.cell
        name, _ = split_spec(cell.strategy)
        settings = PlayerSettings(
            timeout_s=min(PlayerSettings.timeout_s, ctx.config.timeout_s),
            link_rate_bps=cell.consumer_rate_bps,
        )
        config = ServerConfig(
            file_path=ctx.workload.path,
            content_type=ctx.workload.manifest.media_type,
            default_strategy=name,
            chunk_bytes=cell.chunk_bytes,
            hwm_bytes=cell.high_water_mark_bytes,
            idle_timeout_s=IDLE_TIMEOUT_S,
            # The server stops after the pages are closed: a handler still running then serves no
            # one (a whole-file read for a tab long gone), and 2 s of grace held every such run back.
            shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
        )
        ctx.make_cache_state()
        cap = ctx.memory_cap()
        try:
            browser, runs_before = _kept_browser(binary)
        except (OSError, RuntimeError, TimeoutError) as exc:
            return Measurement.not_run(f"browser run: chromium would not start: {type(exc).__name__}: {exc}")
        started = self._start(binary, browser, planned, ctx, config)
        if isinstance(started, Measurement):
            return started
        server, pages = started
        missing: dict[str, Any] = {}
        try:
            if self.missing_first:
                missing = _ask_for_missing(server, name)

            def at_first_frame(page: int) -> dict[str, Any]:
                return _server_view(server, page)

            shots = ctx.artifacts_dir if planned.repeat == 0 and not planned.warmup else None
            ours = f"/file?strategy={name}"
            target = server.target(ours)

            def page_url(page: int) -> str:
                # Our own servers tell the pages apart (their counters at each first frame); a user's
                # server is asked for its own path as it is.
                own = f"&page={page}" if target == ours else ""
                return f"http://127.0.0.1:{server.port}{target}{own}"

            try:
                played = play(browser, pages, page_url, settings,
                              at_first_frame=at_first_frame, screenshot_dir=shots)  # fmt: skip
            except _CHROMIUM_FAILED as exc:  # the browser failed
                _close_kept(binary)  # not kept: the next run starts a new one
                return Measurement.not_run(f"browser run: chromium failed: {type(exc).__name__}: {exc}")
            played.browser_runs_before = runs_before
            try:
                report: dict[str, Any] | None = server.stop()
            except Exception:  # it died (the seed's server after a missing file), or at the cap
                report = None
        finally:
            server.kill()
            stderr = server.stderr_tail()
            server.close()
        seen = _Seen(played, report, missing, stderr, server.returncode)
        return _measurement(self.runtime, ctx, settings, seen, cap is not None and cap.oom_killed())

    def _start(
        self, binary: str, browser: Browser, planned: PlannedRun, ctx: RunContext, config: ServerConfig
    ) -> tuple[ServerHandle, list[Page]] | Measurement:
        """The server, listening, and the run's pages; or why the run cannot happen (nothing left).

        The pages are made while the server starts (Chromium on one core, the server's interpreter on
        the other); nothing is measured yet, and only that thread uses the browser meanwhile."""
        with ThreadPoolExecutor(1, thread_name_prefix="streambench-pages") as pool:
            opening = pool.submit(open_pages, browser, planned.cell.clients)
            try:
                server = ctx.start_server(self.runtime, planned.cell, config)
            except Exception as exc:
                _discard(binary, browser, opening)
                return Measurement.not_run(
                    f"browser run: the server would not start: {type(exc).__name__}: {exc}"
                )
            try:
                return server, opening.result()
            except _CHROMIUM_FAILED as exc:
                server.kill()
                server.close()
                _close_kept(binary)  # not kept: the next run starts a new one
                return Measurement.not_run(f"browser run: chromium failed: {type(exc).__name__}: {exc}")


# What a failing Chromium raises through the DevTools pipe.
_CHROMIUM_FAILED = (OSError, RuntimeError, TimeoutError, ValueError, KeyError)


def _discard(binary: str, browser: Browser, opening: Future[list[Page]]) -> None:
    """The pages made for a run that cannot happen, closed (or the browser, when that fails too)."""
    try:
        browser.close_pages(opening.result())
    except _CHROMIUM_FAILED:
        _close_kept(binary)


def _kept_browser(binary: str) -> tuple[Browser, int]:
    """The session's Chromium (started now if none is alive) and how many runs it has played.

    Starting Chromium and emptying its process group cost ~0.45 s a run here, a tenth of a
    browser run; what a run must not inherit (cache, cookies, connections) lives in the browser
    contexts each run makes and disposes of (:func:`harness.browser.player.play`)."""
    kept = _KEPT.get(binary)
    if kept is not None and not kept[0].alive():
        _close_kept(binary)
        kept = None
    if kept is None:
        # Named by our pid: a profile left by a killed harness is swept by the next browser run.
        profile = owned_tempdir("streambench-chromium-")
        try:
            browser = Browser(binary, profile, timeout_s=30.0)
        except BaseException:
            shutil.rmtree(profile, ignore_errors=True)
            raise
        kept = _KEPT[binary] = (browser, profile, [0])
        keep(f"chromium {binary}", lambda: _close_kept(binary))
    browser, _, runs = kept
    runs[0] += 1
    return browser, runs[0] - 1


def _close_kept(binary: str) -> int:
    """Close the kept Chromium (its whole process group); how many processes had to be killed."""
    kept = _KEPT.pop(binary, None)
    if kept is None:
        return 0
    try:
        return kept[0].close()
    finally:
        shutil.rmtree(kept[1], ignore_errors=True)


@dataclass(frozen=True)
class _Seen:
    """What a browser run saw: the pages, the server's report (None: it died), the missing file's answer."""

    played: PlayResult
    report: dict[str, Any] | None
    missing: dict[str, Any]
    stderr: str
    returncode: int | None


def _ask_for_missing(server: ServerHandle, name: str) -> dict[str, Any]:
    """One request for a file the server does not have; what came back, and whether it lives on."""
    try:
        status, _, _ = fetch(server.port, f"/file?strategy={name}&missing=1&page=missing", timeout_s=5.0)
        answer = str(status)
    except Exception as exc:  # a dying server closes the connection before any answer
        status, answer = None, f"no answer ({type(exc).__name__}: {exc})"
    time.sleep(AFTER_MISSING_S)
    alive = server.alive()
    return {"missing_status": status, "missing_answer": answer, "server_alive_after_missing": alive}


def _server_view(server: ServerHandle, page: int) -> dict[str, Any]:
    """What the server had sent this page, and which Range requests it had seen, right now."""
    asked_at = time.monotonic()
    try:
        stats = server.stats(timeout_s=5.0)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    mine = [r for r in stats.get("requests_log", []) if r.get("page") == str(page)]
    return {
        "bytes_sent": sum(int(r.get("bytes_sent") or 0) for r in mine),
        "requests": len(mine),
        "ranges": [r.get("range") for r in mine],
        "statuses": [r.get("status") for r in mine],
        "lag_ms": (time.monotonic() - asked_at) * 1000,
    }


def _is_tail_or_seek(range_header: str | None) -> bool:
    """A Range request that does not start at byte 0 (``bytes=0-`` is how every player opens)."""
    return bool(range_header) and not str(range_header).replace(" ", "").startswith("bytes=0-")


def _page_figures(run: PageRun, size_bytes: int) -> dict[str, Any]:
    """One page's figures. Bytes before the first frame are the page's own (after the link's throttle);
    the server's count beside them also holds what sat in socket buffers, counted at each server's layer."""
    result, seen = run.result or {}, run.at_first_frame
    seek = result.get("seek") or {}

    def ms(key: str, where: dict[str, Any] = result) -> float | None:
        return None if where.get(key) is None else float(where[key]) / 1000

    got = run.received_at_first_frame
    return {
        "page": run.index,
        "metadata_s": ms("metadata_ms"),
        "first_frame_s": ms("first_frame_ms"),
        "seek_target_s": seek.get("target_s"),
        "seek_s": ms("resumed_ms", seek),
        "seek_position_s": seek.get("position_s"),
        "seek_honoured": seek.get("honoured"),
        "seek_outcome": seek.get("outcome"),
        "stalls": result.get("stalls"),
        "stall_s": ms("stall_ms"),
        "watched_s": (result.get("watched") or {}).get("ms", 0) / 1000 or None,
        "bytes_before_first_frame": got,
        "share_before_first_frame": got / size_bytes if got is not None and size_bytes else None,
        "received_bytes": run.received_bytes,
        "server_sent_before_first_frame": seen.get("bytes_sent"),
        "requests_before_first_frame": seen.get("requests"),
        "ranges_before_first_frame": seen.get("ranges"),
        "range_requests_before_first_frame": sum(1 for r in seen.get("ranges") or [] if _is_tail_or_seek(r)),
        "server_view_lag_ms": seen.get("lag_ms"),
        "media_error": result.get("error"),
        "duration_s": result.get("duration_s"),
        "events": result.get("events", [])[:40],
    }


def _worst(pages: list[dict[str, Any]], key: str) -> float | None:
    """The worst page's figure; None when a page has none (it never got there)."""
    values = [p[key] for p in pages]
    return None if not values or any(v is None for v in values) else float(max(values))


def _browser_figures(ctx: RunContext, settings: PlayerSettings, seen: _Seen) -> dict[str, Any]:
    """The record's ``browser`` sub-record: every page, the worst page's figures, the player."""
    played, report = seen.played, seen.report or {}
    pages = [_page_figures(r, ctx.workload.manifest.size_bytes) for r in played.pages]
    n = len(pages)
    honoured = sum(1 for p in pages if p["seek_honoured"])
    first_frames = [p["first_frame_s"] for p in pages if p["first_frame_s"] is not None]
    section = report.get("section") or {}
    peak, base = section.get("peak_rss_bytes"), section.get("baseline_rss_bytes")
    return {
        "pages": pages,
        "played_pages": len(first_frames),
        "seek_honoured_pages": honoured,
        "seek_honoured_share": honoured / n if n else None,
        "first_frame_p50_s": statistics.median(first_frames) if first_frames else None,
        "first_frame_max_s": _worst(pages, "first_frame_s"),
        "metadata_max_s": _worst(pages, "metadata_s"),
        "seek_max_s": _worst(pages, "seek_s") if honoured == n else None,
        "stalls_max": _worst(pages, "stalls"),
        "bytes_before_first_frame_max": _worst(pages, "bytes_before_first_frame"),
        "share_before_first_frame_max": _worst(pages, "share_before_first_frame"),
        "range_requests_before_first_frame": sum(p["range_requests_before_first_frame"] for p in pages),
        "link_rate_bps": settings.link_rate_bps,
        "player": asdict(settings),
        "browser": played.browser_version,
        "browser_leftover_processes": played.leftover_processes,
        # The browser is the session's; every page's context was new and is gone after the run.
        "browser_runs_before": played.browser_runs_before,
        "cached_responses": sum(r.cached_responses for r in played.pages),
        "off_loopback_requests": played.off_loopback[:20],
        "page_problems": [x for r in played.pages for x in r.problems][:20],
        "screenshots": [str(p.relative_to(ctx.run_dir)) for p in played.screenshots] if ctx.run_dir else [],
        "per_client_bytes": (peak - base) / n if peak is not None and base is not None and n else None,
        "server_requests": report.get("requests"),
        "server_bytes_sent": report.get("bytes_sent"),
        "server_status": report.get("status") or report.get("by_status"),
        **seen.missing,
    }


def _player_problems(played: PlayResult) -> list[str]:
    """What made the browser run itself fail: the player's error, a request that left loopback."""
    problems = [played.error] if played.error else []
    if played.off_loopback:
        problems.append(f"{len(played.off_loopback)} requests left 127.0.0.1: {played.off_loopback[0]}")
    return problems


def _verdict(figures: dict[str, Any], seen: _Seen) -> Verdict:
    """A browser checks what it plays by decoding it: every page played with no media error (and a
    missing file answered 404), or what went wrong."""
    pages = figures["pages"]
    failures = [f"page {p['page']}: {p['media_error']}" for p in pages if p["media_error"]]
    failures += [f for f in (seen.played.error,) if f]
    if seen.played.off_loopback:
        failures.append(
            f"{len(seen.played.off_loopback)} requests left 127.0.0.1: {seen.played.off_loopback[0]}"
        )
    missing = seen.missing
    if missing and missing.get("missing_status") != 404 and missing.get("server_alive_after_missing"):
        failures.append(f"the missing file was answered {missing.get('missing_answer')}, not 404")
    n, played = len(pages), figures["played_pages"]
    method = "each page decoding the video with no media error (a browser checks no checksum)"
    if not failures and played == n and seen.report is not None:
        return Verdict(True, f"all {n} pages decoded the video with no media error", method)
    return Verdict(False, "; ".join(failures[:3]) or f"{played} of {n} pages showed a first frame", method)


def _measurement(
    runtime: Runtime, ctx: RunContext, settings: PlayerSettings, seen: _Seen, oom: bool
) -> Measurement:
    figures = _browser_figures(ctx, settings, seen)
    played, report = seen.played, seen.report
    problems = _player_problems(played)
    bytes_sent = int(report.get("bytes_sent") or 0) if report else 0
    measured = None
    if report is not None:  # None: the server died, and the record says so (classify: crashed)
        measured = MeasuredReport.from_mapping(
            {**(report.get("section") or {}), "outcome": "ok", "error": None, "bytes_moved": bytes_sent,
             "started_at": played.started_at, "ended_at": played.ended_at,
             "wall_s": played.ended_at - played.started_at, "pauses": report.get("pauses"),
             "max_buffered_bytes": report.get("max_buffered_bytes")}
        )  # fmt: skip
    stderr = seen.stderr
    if seen.missing and not seen.missing.get("server_alive_after_missing"):
        # The error's own line (Node prints the source line and a caret above it).
        said = [line for line in stderr.splitlines() if line.startswith(("Error", "node:", "Uncaught"))]
        answer = seen.missing.get("missing_answer")
        stderr = f"after a request for a missing file ({answer}): " + (said[-1] if said else stderr[-300:])
    return Measurement(
        report=measured,
        who="server",
        runtime=runtime.name,
        runtime_version=runtime.reported_version(report or {}) or runtime.version(),
        returncode=seen.returncode,
        stderr_tail=stderr,
        over_cap=oom,
        over_cap_detail=f"; {figures['played_pages']} of {len(figures['pages'])} pages played",
        problems=tuple(problems),
        received=Received(bytes_sent, "", None, None),
        verdict=_verdict(figures, seen),
        browser=figures,
        leftover_processes=played.leftover_processes,
    )
