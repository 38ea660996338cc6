"""A scenario file's optional keys are checked when it is read: a bad value is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambench.harness.common.errors import UsageError
from streambench.harness.plan.scenario import SCENARIO_DIR, load_scenario

BASE = 'question = "q?"\nmin_repeat = 1\n[matrix]\nworkload = ["video:1MiB"]\n'


def test_later_budget_s_is_read_as_seconds(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("later_budget_s = 45\n" + BASE)
    assert load_scenario(path).later_budget_s == 45.0
    path.write_text(BASE)
    assert load_scenario(path).later_budget_s is None
    # browser-video's later rounds are bounded (its first round is most of its 5 minutes).
    assert load_scenario(SCENARIO_DIR / "browser-video.toml").later_budget_s is not None


@pytest.mark.parametrize("value", ["-1", '"40 s"', "true", "[1]"])
def test_a_bad_later_budget_is_one_line(value: str, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f"later_budget_s = {value}\n" + BASE)
    with pytest.raises(UsageError, match="later_budget_s must be a number of seconds >= 0") as caught:
        load_scenario(path)
    assert "\n" not in str(caught.value)
