from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streambench.harness.common.errors import UsageError
from streambench.harness.common.units import format_bytes, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64KiB", 65536),
        ("1GiB", 1 << 30),
        ("1.5MiB", 1572864),
        ("10MB", 10_000_000),
        ("7GB", 7_000_000_000),
        ("512", 512),
        ("512B", 512),
        ("4 kib", 4096),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["5XB", "", "MiB", "-1MiB", "1.3B", "1e9", "64 KiBs"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="bad size"):
        parse_size(text)


def test_parse_rate() -> None:
    assert parse_rate("50MB/s") == 50_000_000
    assert parse_rate("unlimited") == 0
    # A link's rate is said in bits, with decimal prefixes: 10 Mbit/s is 1.25 MB/s.
    assert parse_rate("10Mbit/s") == 1_250_000
    assert parse_rate("1.5Gbit/s") == 187_500_000
    assert parse_rate("800kbit/s") == 100_000
    for bad in ("fast", "0Mbit/s", "10Mbit"):
        with pytest.raises(UsageError, match="bad rate"):
            parse_rate(bad)


@given(st.integers(min_value=1, max_value=1023), st.sampled_from(["KiB", "MiB", "GiB"]))
def test_whole_units_round_trip(count: int, unit: str) -> None:
    n_bytes = parse_size(f"{count}{unit}")
    assert n_bytes == count * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
    assert format_bytes(n_bytes) == f"{count}{unit}"


def test_parse_pin() -> None:
    from streambench.harness.plan.config import Placement
    from streambench.harness.plan.spec import parse_pin

    assert parse_pin("none", (0, 1)) is None
    assert parse_pin("auto", (0, 1)) == Placement((0,), (1,), (1,))
    assert parse_pin("auto", (0,)) is None  # one core: nothing to place
    assert parse_pin("0/1/1", (0, 1)) == Placement((0,), (1,), (1,))
    assert parse_pin("0,1/1/0", (0, 1)) == Placement((0, 1), (1,), (0,))
    for bad in ("0/1", "a/b/c", "0//1"):
        with pytest.raises(UsageError, match="bad --pin"):
            parse_pin(bad, (0, 1))
    with pytest.raises(UsageError, match="not available"):
        parse_pin("0/7/1", (0, 1))
