"""A slower disk on demand: the reads of a measured process limited to a rate (``--disk-read-rate``).

"A cold disk" is what the stream doctor must tell from a slow consumer or a busy CPU, and this VM's
virtual disk cannot show one: a cold read comes from the host's cache at 0.3-1.8 GB/s and is CPU in
the guest's kernel. A block-I/O throttle on the workload's device makes the disk set the pace for
real: the cgroup v1 ``blkio`` controller's ``blkio.throttle.read_bps_device``, or cgroup v2's
``io.max`` (``rbps``). Only what the device is asked for is slowed: a warm run reads the page cache
and never meets the limit, so one run may hold warm and cold cells (the limit is recorded on each).

The measured process joins the throttle's group itself, before its first read of the workload (the
worker's job lists the group beside the memory cap's); a server is put in by the harness once it
listens, before the first request. Where no such group can be made (not root, no controller) the run
is refused in one line before anything runs: a limit that was asked for and not applied would make
every cold figure a lie.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from streambench.harness.common.errors import UsageError
from streambench.harness.measure.limits import CGROUP_ROOT, remove_stale


def block_device(path: Path) -> tuple[int, int]:
    """(major, minor) of the whole disk under ``path``'s filesystem (a partition's parent disk: the
    throttle applies where the bios are queued)."""
    dev = os.stat(path).st_dev
    major, minor = os.major(dev), os.minor(dev)
    sys_dev = Path(f"/sys/dev/block/{major}:{minor}")
    if (sys_dev / "partition").exists():
        parent = (sys_dev.resolve().parent / "dev").read_text().strip()
        major, minor = (int(x) for x in parent.split(":"))
    return major, minor


def _groups(major: int, minor: int, read_bps: int) -> list[tuple[Path, str, str, str]]:
    """Where a throttle could go, best first: (parent group, knob, value, method)."""
    out: list[tuple[Path, str, str, str]] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "blkio" in controllers.split(","):
            base = CGROUP_ROOT / "blkio" / path.lstrip("/")
            if (base / "blkio.throttle.read_bps_device").exists():
                out.append(
                    (base, "blkio.throttle.read_bps_device", f"{major}:{minor} {read_bps}", "cgroup v1 blkio")
                )
        elif controllers == "":
            base = CGROUP_ROOT / path.lstrip("/")
            with contextlib.suppress(OSError):  # v2: only where this group hands "io" to its children
                if "io" in (base / "cgroup.subtree_control").read_text().split():
                    out.append((base, "io.max", f"{major}:{minor} rbps={read_bps}", "cgroup v2 io.max"))
    return out


class DiskThrottle:
    """One run's read limit on one device; ``procs_path`` is the group a process joins to be under it."""

    def __init__(self, read_bps: int, path: Path, name: str) -> None:
        self.read_bps = read_bps
        self.device = block_device(path)
        self.method = ""
        self.procs_path: Path | None = None
        self._dir: Path | None = None
        major, minor = self.device
        for base, knob, value, method in _groups(major, minor, read_bps):
            remove_stale(base)
            directory = base / name
            try:
                directory.mkdir(exist_ok=True)
                (directory / knob).write_text(value)
            except OSError:
                with contextlib.suppress(OSError):
                    directory.rmdir()
                continue
            self._dir, self.procs_path, self.method = directory, directory / "cgroup.procs", method
            return
        raise UsageError(
            f"--disk-read-rate needs a block-I/O cgroup this user can make (cgroup v1 blkio or v2 io, as "
            f"root); none here for device {major}:{minor}: run without it"
        )

    def join(self, pid: int) -> None:
        """Put ``pid`` under the limit (a server, once it listens)."""
        if self.procs_path is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                self.procs_path.write_text(str(pid))

    def close(self) -> None:
        if self._dir is not None:
            with contextlib.suppress(OSError):
                self._dir.rmdir()
            self._dir = None
