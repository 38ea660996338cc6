"""Named baselines and the history page: a planted regression is flagged, an unchanged cell is not."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from streambench.harness.cli import main
from streambench.harness.results import baselines
from streambench.reports.synthetic import MiB, synthetic_run

STRATEGIES = ("pipe", "whole-file", "cat")


def _run_dir(root: Path, name: str, seed: int, speed: dict[str, float] | None = None) -> Path:
    meta, records = synthetic_run(
        strategies=STRATEGIES, sizes=(8 * MiB,), sinks=("null",), chunks=(64 << 10,), repeat=8,
        warmup=0, seed=seed, run_id=f"20260101-00000{seed}-hist", speed=speed,
    )  # fmt: skip
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (directory / "run.json").write_text(json.dumps(meta))
    return directory


def _saved(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    store = tmp_path / "baselines"
    runs = {
        "v1": _run_dir(tmp_path / "runs", "v1", 1),
        "v2": _run_dir(tmp_path / "runs", "v2", 2),
        "v3": _run_dir(tmp_path / "runs", "v3", 3, speed={"pipe": 0.8}),  # pipe 20% slower
    }
    for name, directory in runs.items():
        baselines.save(directory, name, store)
    return store, runs


def _cell(page: str, strategy: str) -> Any:
    return page.split(f'<tr><td class="l">{strategy} ', 1)[1].split("</tr>", 1)[0]


def test_history_flags_the_planted_regression_only(tmp_path: Path, capsys: Any) -> None:
    store, _ = _saved(tmp_path)
    assert [b.name for b in baselines.saved(store)] == ["v1", "v2", "v3"]
    out = tmp_path / "history.html"
    # exit 1: the newest run (v3) regressed from the one before it
    assert main(["history", "v1", "v2", "v3", "-o", str(out), "--baselines-dir", str(store)]) == 1
    printed = capsys.readouterr().out
    assert printed.strip().endswith(str(out.resolve()))
    assert "1 with a regression, 0 with an improvement" in printed
    page = out.read_text()
    assert "<script" not in page  # self-contained and static
    pipe, whole, cat = (_cell(page, s) for s in STRATEGIES)
    # pipe: flagged in v3 (and only there), with compare's words
    assert pipe.count("<b>regression</b>") == 1 and pipe.rindex("<b>regression</b>") > pipe.rindex("n = 8")
    # 20% planted under 4% noise: compare's words, its figure near -20%
    flag = r"regression in v3</span> \(throughput -(1[5-9]|2[0-5])\.\d% \[[^]]*\] \(adjusted p 0\.0"
    assert re.search(flag, page)
    # the unchanged cells: never a regression nor an improvement (under 4% noise and 8 runs a side, a
    # cell's interval may still reach past 5%: "undecided", never "no change" on that evidence)
    assert "regression" not in whole and "improvement" not in whole
    assert "regression" not in cat and "improvement" not in cat
    # every run's median and interval, per cell
    assert whole.count("n = 8</span>") == 3
    # default: every saved baseline, oldest first, page in the baselines folder
    assert main(["history", "--baselines-dir", str(store)]) == 1
    assert (store / "history.html").is_file()
    assert main(["history", "v1", "v2", "--baselines-dir", str(store), "-o", str(out)]) == 0


def test_compare_against_a_named_baseline(tmp_path: Path) -> None:
    store, runs = _saved(tmp_path)
    assert main(["compare", "--baseline", "v2", str(runs["v1"]), "--baselines-dir", str(store)]) == 0
    assert main(["compare", "--baseline", "v2", str(runs["v3"]), "--baselines-dir", str(store)]) == 1


def test_bad_baseline_input_is_one_line_and_exit_2(tmp_path: Path, capsys: Any) -> None:
    store, runs = _saved(tmp_path)
    cases = [
        ["compare", "--baseline", "nope", str(runs["v1"]), "--baselines-dir", str(store)],
        ["compare", "--baseline", "../etc", str(runs["v1"]), "--baselines-dir", str(store)],
        ["compare", "--baseline", "v1", str(runs["v1"]), str(runs["v2"]), "--baselines-dir", str(store)],
        ["compare", str(runs["v1"])],
        ["history", "v1", "--baselines-dir", str(store)],
        ["history", "v1", "missing", "--baselines-dir", str(store)],
        ["run", "--save-baseline", "bad name", "--strategy", "pipe"],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("streambench: error:"), (argv, err)
    (store / "v1" / "run.json").write_text("{not json")
    assert main(["history", "v1", "v2", "--baselines-dir", str(store)]) == 2


def test_run_saves_its_records_as_a_baseline(tmp_path: Path, capsys: Any) -> None:
    store = tmp_path / "baselines"
    assert main([
        "run", "--strategy", "pipe", "--workload", "video:2MiB", "--sink", "null", "--repeat", "1",
        "--warmup", "0", "--out", str(tmp_path / "results"), "--save-baseline", "main",
        "--baselines-dir", str(store),
    ]) == 0  # fmt: skip
    (run_dir,) = [p for p in (tmp_path / "results").iterdir() if p.is_dir()]
    saved = baselines.find("main", store)
    assert (saved.path / "results.jsonl").read_bytes() == (run_dir / "results.jsonl").read_bytes()
    assert saved.run_id == run_dir.name
    # the report's path is still the last line on stdout
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("report.html")
    # saving the name again replaces it, whole
    baselines.save(run_dir, "main", store)
    assert [b.name for b in baselines.saved(store)] == ["main"]
    assert not [p for p in store.iterdir() if p.name.startswith(".")]
