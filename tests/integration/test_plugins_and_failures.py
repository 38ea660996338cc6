"""Third-party strategies through the entry-point group; failures become records, not crashes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from streambench.harness.cli import main
from tests.helpers import records_of

PLUGIN_SOURCE = textwrap.dedent(
    """
    import os, signal, time
    from streambench.strategies.base import Capability

    class _Base:
        summary = "test plugin"
        node_analogue = "-"
        capabilities = frozenset({Capability.BUFFERS})

    class Raises(_Base):
        name = "test-raises"
        def run(self, source, sink, params, stats):
            sink.file.write(b"half")
            raise OSError(28, "No space left on device")

    class Dies(_Base):
        name = "test-dies"
        def run(self, source, sink, params, stats):
            os.kill(os.getpid(), signal.SIGKILL)

    class Hangs(_Base):
        name = "test-hangs"
        def run(self, source, sink, params, stats):
            time.sleep(600)

    class ShortWrite(_Base):
        name = "test-short"
        def run(self, source, sink, params, stats):
            with open(source.path, "rb") as f:
                sink.file.write(f.read(source.size_bytes - 1))
            return source.size_bytes  # claims success, but one byte is missing
    """
)


@pytest.fixture
def plugin_path(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake installed distribution: importlib.metadata finds it on PYTHONPATH in workers too."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "sb_test_plugin.py").write_text(PLUGIN_SOURCE)
    dist = root / "sb_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sb-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[streambench.strategies]\n"
        "raises = sb_test_plugin:Raises\n"
        "dies = sb_test_plugin:Dies\n"
        "hangs = sb_test_plugin:Hangs\n"
        "short = sb_test_plugin:ShortWrite\n"
        "broken = sb_test_plugin:DoesNotExist\n"
    )
    monkeypatch.syspath_prepend(str(root))
    import os

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    return root


def test_broken_plugin_is_named_and_others_load(
    plugin_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["strategies"]) == 0
    captured = capsys.readouterr()
    assert "test-raises" in captured.out and "pipe" in captured.out
    assert "plugin 'broken' could not be loaded" in captured.err


def test_failures_are_recorded_and_the_matrix_goes_on(
    plugin_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "run",
            "--strategy",
            "test-raises,test-dies,test-hangs,test-short,pipe",
            "--workload",
            "video:1MiB",
            "--sink",
            "null,file",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--timeout",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 4  # the matrix went on; the runs that failed say so in the exit status too
    (run_dir,) = list(tmp_path.iterdir())
    by_strategy: dict[str, list[dict[str, object]]] = {}
    for r in records_of(run_dir):
        by_strategy.setdefault(str(r["strategy"]), []).append(r)
    assert all(len(v) == 2 for v in by_strategy.values())
    for r in by_strategy["test-raises"]:
        assert r["outcome"] == "error" and "No space left" in str(r["error"])
        assert r["verified"] is False
    for r in by_strategy["test-dies"]:
        assert r["outcome"] == "crashed" and "signal 9" in str(r["error"])
    for r in by_strategy["test-hangs"]:
        assert r["outcome"] == "timeout"
    for r in by_strategy["test-short"]:
        # The strategy says ok; the sink's count and checksum say otherwise.
        assert r["outcome"] == "ok" and r["verified"] is False
        # null: the consumer counted one byte short; file: the existing destination
        # kept its size, but its checksum gives the missing byte away.
        assert ("received 1048575 of 1048576" in str(r["verify_detail"])) or (
            "checksum" in str(r["verify_detail"]) and r["sink"] == "file"
        )
    for r in by_strategy["pipe"]:
        assert r["outcome"] == "ok" and r["verified"] is True
