"""The parent's handle of the S3 client process: run it once under the cap, watch it, read its report."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from streambench.harness.common.lifeline import PARENT_PID_ENV
from streambench.harness.common.paths import PACKAGE_ROOT
from streambench.harness.measure.disk_throttle import DiskThrottle
from streambench.harness.measure.limits import MemoryCap
from streambench.harness.measure.watch import watch
from streambench.harness.s3.client_child import ACCESS_KEY_ENV, METHODS, SECRET_KEY_ENV, client_env
from streambench.harness.s3.rclone import BUCKET, CONCURRENCY, PART_BYTES, WATCH_INTERVAL_S, S3Server


def run_client(
    server: S3Server,
    file_path: Path,
    method: str,
    *,
    bucket: str = BUCKET,
    key: str,
    part_bytes: int = PART_BYTES,
    concurrency: int = CONCURRENCY,
    timeout_s: float = 600.0,
    cap: MemoryCap | None = None,
    throttle: DiskThrottle | None = None,
) -> dict[str, Any]:
    """Run ``python -m harness.s3.client_child`` once; its JSON report plus how the process ended.

    The client goes under the cap's cgroup right after it starts (before its
    big imports); where no cgroup could be made, this loop is the watchdog.
    """
    if method not in METHODS:
        raise ValueError(f"unknown s3 method {method!r}; valid: {', '.join(METHODS)}")
    argv = [
        sys.executable,
        "-m",
        "streambench.harness.s3.client_child",
        "--endpoint",
        server.endpoint_url,
        "--bucket",
        bucket,
        "--key",
        key,
        "--file",
        str(file_path),
        "--method",
        method,
        "--part-size",
        str(part_bytes),
        "--concurrency",
        str(concurrency),
    ]
    env = client_env()
    env.update(
        {
            PARENT_PID_ENV: str(os.getpid()),
            ACCESS_KEY_ENV: server.access_key,
            SECRET_KEY_ENV: server.secret_key,
        }
    )
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=PACKAGE_ROOT
        )
        try:
            if cap is not None and cap.procs_path is not None:
                with contextlib.suppress(OSError):  # it died at once: reported below
                    cap.procs_path.write_text(str(proc.pid))
            if throttle is not None:
                throttle.join(proc.pid)  # before its big imports, long before it reads the file
            # The same watcher as a worker's: deadline, watchdog cap, reaping.
            seen = watch(proc.pid, timeout_s, WATCH_INTERVAL_S, cap, kill_group=False)
            proc.returncode = seen.returncode
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        lines = [line for line in out.read().decode(errors="replace").splitlines() if line.strip()]
        err.seek(0)
        err.seek(max(0, err.seek(0, os.SEEK_END) - 2000))
        stderr_tail = err.read().decode(errors="replace").strip()
    report: dict[str, Any] = {}
    if lines:
        with contextlib.suppress(json.JSONDecodeError):
            report = json.loads(lines[-1])
    report.update(
        {
            "returncode": proc.returncode,
            "timed_out": seen.timed_out,
            "over_cap": seen.over_cap or (cap is not None and cap.oom_killed()),
            "stderr_tail": stderr_tail,
            "watched_max_rss_bytes": seen.max_rss_bytes,
        }
    )
    return report
