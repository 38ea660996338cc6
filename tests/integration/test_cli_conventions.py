"""The command line in CI and pipes: names never cut, --json listings, --version, durations with units."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streambench.harness.cli import main
from streambench.harness.common.errors import Exit

CLI = [sys.executable, "-m", "streambench.harness.cli"]


def _piped(*argv: str) -> str:
    done = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_listing_in_a_pipe_never_cuts_a_name_and_json_lists_every_one() -> None:
    piped = _piped("strategies")
    names = [line.split("\t")[0] for line in piped.splitlines()[1:]]
    assert "node-pause-drain" in names and "node-webstreams" in names and "…" not in piped
    listed = json.loads(_piped("strategies", "--json"))
    assert {s["name"] for s in listed} == set(names)
    assert {"name", "role", "summary", "capabilities"} <= set(listed[0])
    scenarios = json.loads(_piped("scenario", "list", "--json"))
    assert "runtimes" in {s["name"] for s in scenarios}
    assert isinstance(json.loads(_piped("workloads", "--json")), list)
    assert isinstance(json.loads(_piped("runtimes", "--json")), list)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("streambench ")


@pytest.mark.parametrize(("budget", "ok"), [("20s", True), ("2m", True), ("90", True), ("500ms", True),
                                            ("5XB", False), ("0", False), ("-3s", False)])  # fmt: skip
def test_budget_takes_units(
    budget: str, ok: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--strategy", "pipe", "--workload", "video:1MiB", "--repeat", "auto",
                 "--budget", budget, "--dry-run", "--out", str(tmp_path)])  # fmt: skip
    assert code == (Exit.OK if ok else Exit.USAGE)
    err = capsys.readouterr().err
    if ok:
        assert "then rounds until every question is decided" in err
    else:
        assert "budget" in err and "Traceback" not in err


def test_the_default_install_leaves_s3_out_and_says_what_brings_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomllib

    from streambench.harness.plan import applicability

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    default = " ".join(project["dependencies"])
    assert "boto3" not in default and "rclone" not in default
    assert any(d.startswith("boto3") for d in project["optional-dependencies"]["s3"])
    monkeypatch.setattr(applicability, "_absent", lambda module, dist: True)
    assert main(["run", "--strategy", "pipe", "--workload", "video:1MiB", "--sink", "http", "--http-route",
                 "s3-upload", "--dry-run", "--out", str(tmp_path)]) == Exit.USAGE  # fmt: skip
    assert "boto3 and rclone not installed: pip install 'streambench[s3]'" in capsys.readouterr().err


def test_run_json_is_the_summary_on_stdout(tmp_path: Path) -> None:
    argv = [*CLI, "run", "--no-plugins", "--strategy", "pipe,whole-file", "--workload", "video:1MiB",
            "--sink", "null", "--repeat", "1", "--warmup", "0", "--json", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["exit_status"] == 0 and Path(said["report"]).is_file()
    assert {c["strategy"] for c in said["cells"]} == {"pipe", "whole-file"}
    assert all(c["throughput_gbps_median"] > 0 and c["diagnosis_sentence"] for c in said["cells"])


def test_help_imports_neither_numpy_nor_pandas() -> None:
    """--help is read in a hurry: the workload generators (numpy at import) load when a kind is used."""
    code = (
        "import sys\n"
        "from streambench.harness.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules))"
    )
    argv = [sys.executable, "-c", code]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
