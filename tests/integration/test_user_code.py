"""The user's own code, file and server as subjects (issue 25): modules as strategies and transforms
in Python and Node, ``--workload file:``, ``--serve``/``--url``, what the records say of them, and
every bad input as one line and exit 2 with nothing left running."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from streambench.harness.cli import main
from streambench.harness.common.errors import Exit
from tests.helpers import ROOT, ours, records_of

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "docs" / "examples"
NODE = shutil.which("node") is not None
needs_node = pytest.mark.skipif(not NODE and not os.environ.get("CI"), reason="node is not installed")


def _run(tmp_path: Path, *args: str) -> tuple[int, Path | None]:
    out = tmp_path / "out"
    before = set(out.iterdir()) if out.exists() else set()
    code = main(["run", "--repeat", "1", "--warmup", "0", "--out", str(out), *args])
    # The folder this run made: two runs in one second are named alike up to a random suffix, so the
    # last name in order is not always the last run (this test once read the first run's record).
    new = set(out.iterdir()) - before if out.exists() else set()
    assert len(new) <= 1, new
    return code, new.pop() if new else None


def _examples(tmp_path: Path) -> Path:
    """The README's example modules, copied: a test may change its copy."""
    here = tmp_path / "examples"
    shutil.copytree(EXAMPLES, here)
    return here


def _ours_left() -> list[str]:
    """Processes of a user's server or module still alive (none may be, after a run)."""
    left = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not ours(int(entry)):
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "examples/server.mjs" in cmdline or cmdline.startswith("sleep 31"):
            left.append(cmdline)
    return left


@needs_node
def test_user_modules_and_transforms_in_both_runtimes_into_every_sink(tmp_path: Path) -> None:
    ex = _examples(tmp_path)
    strategies = f"{ex}/copy.mjs,{ex}/mine.py:Mine"
    transforms = f"none,{ex}/upper.mjs,{ex}/upper.py:Upper"
    axes = ("--workload", "csv:1MiB", "--sink", "null,file,tcp")
    code, run_dir = _run(tmp_path, "--strategy", strategies, "--transform", transforms, *axes)
    assert code == Exit.OK and run_dir is not None
    records = records_of(run_dir)
    # Each module with no transform and with its own language's transform, into each sink: 2 x 2 x 3.
    assert len(records) == 12
    assert all(r["outcome"] == "ok" and r["verified"] for r in records), [r["verify_detail"] for r in records]
    for r in records:
        module = r["user_code"]["strategy"]
        assert module["sha256"] == hashlib.sha256(Path(module["path"]).read_bytes()).hexdigest()
        assert r["runtime"] == ("node" if module["path"].endswith(".mjs") else "python")
        if r["transform"] == "none":
            assert r["verified_by"] == "the workload's own xxh3-64"
        else:
            # Upper case is not the input: verified against the transform's own output, computed apart.
            assert "own output, computed apart twice" in r["verified_by"]
            assert r["user_code"]["transform"]["language"] in ("js", "python")
            assert r["bytes_received"] == r["size_bytes"]  # byte for byte, so as many bytes
    node = [r for r in records if r["runtime"] == "node"]
    # Node's own memoryUsage() is the user's module's worker's, not a wrapper's.
    assert all(r["strategy_notes"]["memory_at_peak"]["rss"] > 20 << 20 for r in node)


def test_a_user_file_is_read_and_never_written(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs" / "big.bin"
    theirs.parent.mkdir()
    theirs.write_bytes(os.urandom(3 << 20))
    os.chmod(theirs, 0o444)  # read-only, as a user's precious file may be
    before = theirs.stat()
    digest = hashlib.sha256(theirs.read_bytes()).hexdigest()
    axes = ("--workload", f"file:{theirs}", "--sink", "null,file,tcp", "--cache", "warm,cold")
    code, run_dir = _run(tmp_path, "--strategy", "pipe,mmap,sendfile,whole-file", *axes)
    assert code == Exit.OK and run_dir is not None
    after = theirs.stat()
    assert hashlib.sha256(theirs.read_bytes()).hexdigest() == digest
    assert (after.st_ino, after.st_mtime_ns, after.st_size, stat.S_IMODE(after.st_mode)) == (
        before.st_ino, before.st_mtime_ns, before.st_size, 0o444,
    )  # fmt: skip
    records = records_of(run_dir)
    assert records and all(r["verified"] for r in records)
    assert {r["workload"] for r in records} == {f"file:{theirs}"}
    assert all(r["user_code"]["workload"]["path"] == str(theirs) for r in records)
    # Nothing else in their folder: no copy, no temp file, no manifest.
    assert sorted(p.name for p in theirs.parent.iterdir()) == ["big.bin"]


@needs_node
def test_a_user_endpoint_serves_viewers_with_range_and_chromium(tmp_path: Path) -> None:
    from streambench.harness.browser.cdp import find_chromium

    ex = _examples(tmp_path)
    sinks = "http,browser" if find_chromium() or os.environ.get("CI") else "http"
    axes = ("--workload", "mp4:4MiB", "--sink", sinks, "--clients", "16", "--view-size", "256KiB")
    code, run_dir = _run(tmp_path, "--serve", f"node {ex}/server.mjs", *axes)
    assert code == Exit.OK and run_dir is not None
    records = records_of(run_dir)
    assert {r["sink"] for r in records} == set(sinks.split(","))
    for r in records:
        assert r["outcome"] == "ok" and r["verified"], r["verify_detail"]
        assert r["strategy"] == f"serve:node {ex}/server.mjs"
        assert r["user_code"]["endpoint"]["command"] == f"node {ex}/server.mjs"
        # The server's whole process tree, sampled: a Node process is tens of MiB.
        assert r["peak_rss_bytes"] > 20 << 20
        assert "process tree" in r["strategy_notes"]["memory_measured_as"]
    http = next(r for r in records if r["sink"] == "http")
    assert http["clients"] == 16 and http["http"]["seeking_clients"] == 8
    assert "same range" in http["verified_by"]
    assert _ours_left() == []


@needs_node
def test_url_measures_the_viewers_and_says_the_server_was_not(tmp_path: Path) -> None:
    ex = _examples(tmp_path)
    data = tmp_path / "served.bin"
    data.write_bytes(os.urandom(1 << 20))
    port = _free_port()
    server = subprocess.Popen(["node", str(ex / "server.mjs")], env={**os.environ, "PORT": str(port),
                              "FILE": str(data)})  # fmt: skip
    try:
        _wait_for(port)
        code, run_dir = _run(tmp_path, "--url", f"http://127.0.0.1:{port}/", "--workload", "video:1MiB",
                             "--clients", "2")  # fmt: skip
        assert code == Exit.RUNS_FAILED and run_dir is not None  # nothing to check against: not verified
        (r,) = records_of(run_dir)
        assert r["verified"] is False and "nothing to check against" in r["verify_detail"]
        assert r["peak_rss_bytes"] is None and r["user_code"]["endpoint"]["server_measured"] is False
        code, run_dir = _run(tmp_path, "--url", f"http://127.0.0.1:{port}/", "--workload", "video:1MiB",
                             "--clients", "2", "--expect", str(data))  # fmt: skip
        assert code == Exit.OK and run_dir is not None
        (r,) = records_of(run_dir)
        assert r["verified"] and "served.bin" in r["verified_by"]
    finally:
        server.kill()
        server.wait()


def test_a_user_module_that_raises_is_an_error_with_where(tmp_path: Path) -> None:
    module = tmp_path / "boom.py"
    module.write_text(
        "class Boom:\n    def run(self, source, sink, params, stats):\n        raise ValueError('no')\n"
    )
    code, run_dir = _run(
        tmp_path, "--strategy", f"{module}:Boom", "--workload", "video:1MiB", "--sink", "null"
    )
    assert code == Exit.RUNS_FAILED and run_dir is not None
    (r,) = records_of(run_dir)
    assert r["outcome"] == "error" and r["error"] == "ValueError: no (at boom.py:3 in run)"
    assert r["leftover_processes"] == 0


def test_a_user_module_that_prints_and_reads_stdin_runs_as_in_a_new_interpreter(tmp_path: Path) -> None:
    """A forked worker's stdin and stdout are the null device, readable and writable, as a new
    interpreter's were (a print once failed with EBADF on a read-only stdout)."""
    module = tmp_path / "chatty.py"
    module.write_text(
        "import sys\n"
        "class Chatty:\n"
        "    def run(self, source, sink, params, stats):\n"
        "        print('copying', flush=True)\n"
        "        assert sys.stdin.read() == ''\n"
        "        with open(source.path, 'rb') as f:\n"
        "            while chunk := f.read(params.chunk_bytes):\n"
        "                sink.file.write(chunk)\n"
        "        return source.size_bytes\n"
    )
    code, run_dir = _run(
        tmp_path, "--strategy", f"{module}:Chatty", "--workload", "video:1MiB", "--sink", "null"
    )
    assert code == Exit.OK and run_dir is not None
    (r,) = records_of(run_dir)
    assert r["outcome"] == "ok" and r["verified"], r["error"]


@needs_node
def test_a_node_module_that_throws_is_an_error_with_where(tmp_path: Path) -> None:
    module = tmp_path / "throws.mjs"
    module.write_text("export default async function () {\n  throw new RangeError('too far');\n}\n")
    code, run_dir = _run(tmp_path, "--strategy", str(module), "--workload", "video:1MiB", "--sink", "tcp")
    assert code == Exit.RUNS_FAILED and run_dir is not None
    (r,) = records_of(run_dir)
    assert r["outcome"] == "error" and r["error"] == "RangeError: too far (at throws.mjs:2)"


def test_a_transform_that_differs_from_pass_to_pass_is_never_verified(tmp_path: Path) -> None:
    module = tmp_path / "stamp.py"
    module.write_text(
        "import os\nclass Stamp:\n    def process(self, chunk):\n"
        "        return os.urandom(1) + bytes(chunk)\n    def flush(self):\n        return b''\n"
    )
    code, run_dir = _run(tmp_path, "--strategy", "pipe", "--transform", f"{module}:Stamp", "--workload",
                         "video:1MiB", "--sink", "null")  # fmt: skip
    assert code == Exit.RUNS_FAILED and run_dir is not None
    (r,) = records_of(run_dir)
    assert r["verified"] is False and "differs from pass to pass" in r["verify_detail"]


def test_a_changed_module_has_a_new_sha256_and_compare_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "mine.py"
    shutil.copy(EXAMPLES / "mine.py", module)
    args = ("--strategy", f"{module}:Mine", "--workload", "video:1MiB", "--sink", "null")
    _, base = _run(tmp_path / "a", *args)
    module.write_text(module.read_text() + "\n# a change\n")
    _, cand = _run(tmp_path / "b", *args)
    assert base is not None and cand is not None
    (a,), (b,) = records_of(base), records_of(cand)
    assert a["cell_id"] == b["cell_id"]
    assert a["user_code"]["strategy"]["sha256"] != b["user_code"]["strategy"]["sha256"]
    capsys.readouterr()
    main(["compare", str(base), str(cand)])
    assert "your strategy changed between the runs" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


BAD: list[tuple[str, list[str], str]] = [
    ("missing module", ["--strategy", "./nowhere/copy.mjs"], "module ./nowhere/copy.mjs does not exist"),
    ("wrong suffix", ["--strategy", "./copy.txt"], "a module is a .py, .mjs, .js or .cjs file"),
    ("python: no such export", ["--strategy", "{ex}/mine.py:Theirs"], "no 'Theirs' (it defines: Mine)"),
    ("python: not a transform", ["--transform", "{ex}/mine.py:Mine"], "a Mine without process and flush()"),
    ("node: no default export", ["--strategy", "{tmp}/named.mjs"], "has no function as its default export"),
    ("server exits at once", ["--serve", "sh -c 'exit 3'"], "your server exited at once (status 3)"),
    ("server never listens", ["--serve", "sleep 31", "--ready-timeout", "1"],
     "did not open port"),
    ("port taken", ["--serve", "node {ex}/server.mjs", "--port", "{taken}"], "is already taken"),
    ("nothing at the url", ["--url", "http://127.0.0.1:{free}/"], "nothing answers at 127.0.0.1"),
    ("url off this machine", ["--url", "http://example.com:80/"], "a server on this machine"),
    ("file: a directory", ["--workload", "file:{tmp}"], "is a directory"),
    ("file: a fifo", ["--workload", "file:{tmp}/fifo"], "is not a regular file"),
    ("file: missing", ["--workload", "file:{tmp}/none.bin"], "does not exist"),
    ("--expect a folder", ["--url", "http://127.0.0.1:{free}/", "--expect", "{tmp}"], "is a directory"),
    ("bad --path", ["--serve", "node {ex}/server.mjs", "--path", "video"], "bad --path"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "args", "said"), BAD, ids=[b[0] for b in BAD])
def test_bad_user_input_is_one_line_and_status_2(
    what: str, args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "node" in " ".join(args) + what and not NODE:
        pytest.skip("node is not installed")
    (tmp_path / "named.mjs").write_text("export const copy = 1;\n")
    os.mkfifo(tmp_path / "fifo")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    values = {"ex": str(EXAMPLES), "tmp": str(tmp_path), "taken": str(taken.getsockname()[1]),
              "free": str(_free_port())}  # fmt: skip
    try:
        argv = [a.format(**values) for a in args]
        if not any(a in ("--workload",) for a in argv):
            argv += ["--workload", "video:1MiB"]
        code, run_dir = _run(tmp_path / "runs", *argv)
    finally:
        taken.close()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("streambench: error:")]
    assert code == Exit.USAGE, err
    # One line (the plan may come before it, when the server is tried after planning).
    assert len(errors) == 1 and said in errors[0] and "Traceback" not in err, err
    assert run_dir is None  # said before a run folder was made
    assert _ours_left() == []


def test_a_file_that_changes_during_the_run_stops_it_and_keeps_what_was_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = tmp_path / "growing.bin"
    theirs.write_bytes(os.urandom(2 << 20))

    def append_after_the_first_record() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            p.stat().st_size for p in (tmp_path / "out").glob("*/results.jsonl")
        ):
            time.sleep(0.02)
        with open(theirs, "ab") as f:
            f.write(b"more")

    writer = threading.Thread(target=append_after_the_first_record)
    writer.start()
    # 2 MiB at 4 MB/s: each run is about half a second; the change lands once one is recorded (a
    # fixed delay landed before the first on a loaded machine).
    axes = ["--workload", f"file:{theirs}", "--sink", "tcp", "--consumer-rate", "4MB/s"]
    code = main(
        ["run", "--strategy", "pipe", *axes, "--repeat", "8", "--warmup", "0", "--out", str(tmp_path / "out")]
    )
    writer.join()
    err = capsys.readouterr().err
    assert code == Exit.USAGE
    assert "changed during the run (size_bytes 2097152 -> 2097156" in err
    (run_dir,) = (tmp_path / "out").iterdir()
    kept: list[dict[str, Any]] = records_of(run_dir)
    assert 1 <= len(kept) < 8 and (run_dir / "report.html").is_file()
