"""The forkserver: children forked already imported are what a new interpreter would have been."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streambench.harness.common import forkserver
from streambench.harness.common.forkserver import Forkserver, spawn_with_stdout

CONSUMER = "streambench.harness.sinks.consumer_child"


@pytest.fixture
def own_forkserver() -> Iterator[None]:
    """This process's forkserver, closed after the test (as a session closes its own)."""
    forkserver.close()
    yield
    forkserver.close()


def _probe_program(tmp_path: Path) -> tuple[str, Path]:
    """A module on PYTHONPATH that reports on itself to fd 5, then exits 3."""
    (tmp_path / "sb_probe.py").write_text(
        "import json, os, sys\n"
        "fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))\n"
        "name = open('/proc/self/comm').read().strip()\n"
        "seen = {'argv': sys.argv[1:], 'fds': fds, 'pgid': os.getpgid(0), 'pid': os.getpid(),\n"
        "    'name': name, 'mark': os.environ.get('SB_PROBE_MARK'), 'ppid': os.getppid()}\n"
        "os.write(5, json.dumps(seen).encode())\n"
        "sys.exit(3)\n"
    )
    return "sb_probe", tmp_path


def test_a_child_gets_exactly_its_fds_env_group_and_name_and_is_reaped_with_its_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, root = _probe_program(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(root))
    fs = Forkserver([])
    try:
        read_end, write_end = os.pipe()
        with open(os.devnull, "rb") as null:
            env = dict(os.environ, SB_PROBE_MARK="here")
            fds = {0: null.fileno(), 1: null.fileno(), 2: 2, 5: write_end}
            pid = fs.spawn(module, ["a", "b c"], fds, env, new_group=True)
        os.close(write_end)
        status, usage = fs.reap(pid)
        seen = json.loads(os.read(read_end, 1 << 16))
        os.close(read_end)
    finally:
        fs.close()
    assert os.waitstatus_to_exitcode(status) == 3
    assert usage.ru_utime >= 0 and usage.ru_stime >= 0
    assert seen["argv"] == ["a", "b c"] and seen["mark"] == "here"
    # 0-2 and the one fd passed (3 is the listing's own). Nothing of the forkserver's.
    assert seen["fds"] == [0, 1, 2, 3, 5]
    assert seen["pgid"] == seen["pid"] and seen["ppid"] == fs.pid
    assert seen["name"] == "sb-sb_probe"


def test_a_consumer_child_reads_to_eof_and_answers_on_stdout(own_forkserver: None) -> None:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    child = spawn_with_stdout(CONSUMER, [str(read_end)], (read_end,), os.environ)
    os.close(read_end)
    os.write(write_end, b"x" * 100_000)
    os.close(write_end)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0 and json.loads(out)["bytes"] == 100_000


def test_a_child_that_hangs_times_out_and_is_killed(own_forkserver: None) -> None:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    child = spawn_with_stdout(CONSUMER, [str(read_end)], (read_end,), os.environ)
    os.close(read_end)
    with pytest.raises(subprocess.TimeoutExpired):
        child.communicate(timeout=0.2)
    assert child.poll() is None
    child.kill()
    assert child.wait(timeout=10) == -9
    child.stdout.close()
    os.close(write_end)


def test_a_new_pythonpath_starts_a_new_forkserver(
    own_forkserver: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = forkserver.forkserver()
    assert forkserver.forkserver() is first
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    second = forkserver.forkserver()
    assert second is not first and not first.alive()
    forkserver.close()
    assert not second.alive()


def test_the_forkserver_dies_with_its_parent(tmp_path: Path) -> None:
    """A parent killed with -9 leaves no forkserver (and so no child of it) behind."""
    script = (
        "import os, sys, time\n"
        "from streambench.harness.common.forkserver import forkserver\n"
        "print(forkserver().pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{server_pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if status == "Z":
            break
        time.sleep(0.05)
    gone = not Path(f"/proc/{server_pid}").exists()
    assert gone or Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_preloaded_module_runs_as_main_without_a_word_on_stderr(tmp_path: Path) -> None:
    """runpy warns when the module it runs as __main__ is already imported: the forkserver's copy
    is put aside first, so a consumer's stderr (the harness's terminal) stays clean."""
    fs = Forkserver([CONSUMER])
    try:
        data_r, data_w = os.pipe()
        err = tmp_path / "stderr"
        with open(os.devnull, "rb") as null, open(os.devnull, "wb") as sink, open(err, "wb") as err_file:
            fds = {0: null.fileno(), 1: sink.fileno(), 2: err_file.fileno(), data_r: data_r}
            pid = fs.spawn(CONSUMER, [str(data_r)], fds, os.environ)
        os.close(data_r)
        os.write(data_w, b"abc")
        os.close(data_w)
        status, _ = fs.reap(pid)
    finally:
        fs.close()
    assert os.waitstatus_to_exitcode(status) == 0, err.read_text()
    assert err.read_text() == ""
