"""The text workload kinds: csv, log, ndjson.

Contract from :mod:`workloads.base` (determinism, whole records, size within
one record, bounded blocks, honest record counts), plus per-format validity
and a realism check: gzip-6 ratio between 2:1 and 12:1.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
from functools import cache
from itertools import pairwise

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambench.workloads import access_log, csv_export, ndjson
from streambench.workloads.access_log import COMBINED_LOG_RE, AccessLogGenerator
from streambench.workloads.base import Block, Generator, PrefixGenerator
from streambench.workloads.csv_export import COLUMNS, HEADER, CsvExportGenerator
from streambench.workloads.ndjson import NdjsonGenerator
from streambench.workloads.registry import GENERATORS

TEXT_KINDS = ("csv", "log", "ndjson")
MAX_BLOCK_BYTES = 8 << 20
SAMPLE_BYTES = 4 << 20
UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

sizes = st.one_of(st.integers(0, 400), st.integers(0, 300_000))
seeds = st.integers(0, 2**32 - 1)
kinds = st.sampled_from(TEXT_KINDS)
quick = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def blocks(kind: str, size_bytes: int, seed: int) -> list[Block]:
    return list(GENERATORS[kind].blocks(size_bytes, seed))


def generate(kind: str, size_bytes: int, seed: int) -> tuple[bytes, int]:
    """(the workload's bytes, the number of records its blocks report)."""
    parts = blocks(kind, size_bytes, seed)
    return b"".join(bytes(b.data) for b in parts), sum(b.records for b in parts)


@cache
def sample(kind: str) -> bytes:
    return generate(kind, SAMPLE_BYTES, 20240310)[0]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def count_records(kind: str, data: bytes) -> int:
    if kind == "csv":
        return max(len(csv_rows(data)) - 1, 0)  # minus the header
    return data.count(b"\n")


def record_lengths(kind: str, data: bytes) -> list[int]:
    """Byte length of each record (CSV: each physical record, quotes and all)."""
    if kind != "csv":
        return [len(line) + 1 for line in data.split(b"\n")[:-1]]
    # A CSV record ends at a CRLF outside quotes; quotes inside fields are
    # doubled, so counting them tells inside from outside.
    lengths, start, inside = [], len(HEADER), False
    for i in range(start, len(data)):
        if data[i] == ord('"'):
            inside = not inside
        elif not inside and data[i] == ord("\n"):
            lengths.append(i + 1 - start)
            start = i + 1
    return lengths


# --- the Generator contract ----------------------------------------------------


def test_registered() -> None:
    assert isinstance(GENERATORS["csv"], CsvExportGenerator)
    assert isinstance(GENERATORS["log"], AccessLogGenerator)
    assert isinstance(GENERATORS["ndjson"], NdjsonGenerator)
    for kind in TEXT_KINDS:
        generator: Generator = GENERATORS[kind]
        assert generator.kind == kind
        assert generator.extension == kind
        assert generator.version >= 1 and generator.summary
    assert GENERATORS["csv"].media_type == "text/csv"
    assert GENERATORS["log"].media_type == "text/plain"
    assert GENERATORS["ndjson"].media_type == "application/x-ndjson"


@quick
@given(kind=kinds, size_bytes=sizes, seed=seeds)
def test_deterministic(kind: str, size_bytes: int, seed: int) -> None:
    assert generate(kind, size_bytes, seed) == generate(kind, size_bytes, seed)


@quick
@given(kind=kinds, size_bytes=st.integers(2_000, 300_000), seed=seeds)
def test_seeds_differ(kind: str, size_bytes: int, seed: int) -> None:
    assert generate(kind, size_bytes, seed)[0] != generate(kind, size_bytes, seed + 1)[0]


@quick
@given(kind=kinds, size_bytes=sizes, seed=seeds)
def test_size_within_one_record(kind: str, size_bytes: int, seed: int) -> None:
    data, records = generate(kind, size_bytes, seed)
    if size_bytes == 0:
        assert data == b"" and records == 0
        return
    assert len(data) >= size_bytes
    assert data.endswith(b"\r\n" if kind == "csv" else b"\n")
    if kind == "csv" and size_bytes <= len(HEADER):
        assert data == HEADER and records == 0
        return
    # Shortest whole-record prefix reaching the size: dropping the last
    # record must fall short of it.
    last_record_bytes = record_lengths(kind, data)[-1]
    assert len(data) - last_record_bytes < size_bytes


@quick
@given(kind=kinds, size_bytes=sizes, seed=seeds)
def test_reported_records_are_real(kind: str, size_bytes: int, seed: int) -> None:
    data, records = generate(kind, size_bytes, seed)
    assert records == count_records(kind, data)


@quick
@given(kind=kinds, sizes=st.tuples(sizes, sizes), seed=seeds)
def test_smaller_size_is_a_prefix(kind: str, sizes: tuple[int, int], seed: int) -> None:
    small, large = sorted(sizes)
    assert generate(kind, large, seed)[0].startswith(generate(kind, small, seed)[0])


@quick
@given(kind=kinds, large=st.integers(1, 300_000), cuts=st.lists(sizes, max_size=4), seed=seeds)
def test_a_larger_stream_says_where_each_smaller_one_ends(
    kind: str, large: int, cuts: list[int], seed: int
) -> None:
    """What the cache cuts a smaller size from: the stream up to the block that completes it is that
    size's whole output, with its record count; the stream is the larger size's, unchanged."""
    generator = GENERATORS[kind]
    assert isinstance(generator, PrefixGenerator)
    parts = list(generator.blocks_with_cuts(large, seed, cuts))
    assert b"".join(bytes(b.data) for b in parts) == generate(kind, large, seed)[0]
    completed: dict[int, tuple[bytes, int]] = {}
    so_far, records = b"", 0
    for block in parts:
        so_far += bytes(block.data)
        records += block.records
        for size in block.completes:
            assert size not in completed
            completed[size] = (so_far, records)
    assert completed.keys() == {c for c in cuts if 0 < c < large}
    for size, (prefix, prefix_records) in completed.items():
        assert (prefix, prefix_records) == generate(kind, size, seed)


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_blocks_bounded_and_whole(kind: str) -> None:
    parts = blocks(kind, 12 << 20, 3)
    assert len(parts) > 3
    for block in parts:
        data = bytes(block.data)
        assert 0 < len(data) <= MAX_BLOCK_BYTES
        assert data.endswith(b"\n")  # every block ends on a whole record
        if block.records:
            assert count_records(kind, HEADER + data if kind == "csv" else data) == block.records


#: Pins the bytes of version 1: if this fails, the output changed - bump the
#: generator's ``version`` (the cache keys files by it) and update the digest.
GOLDEN_SHA256 = {
    "csv": "2641eb0a5a133df38bd5ad91467f586bc81b85a73532c37a4a2a79b52a77186e",
    "log": "86659b5c9dcdf39ba8e2ff768bcd92f28a9795f67180712629d478f8bb5c40e4",
    "ndjson": "983a679bb93d144b9c032f216d7ecb5b9cfefa7a5d15a0ec164923ce5a0d2a34",
}


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_golden_bytes(kind: str) -> None:
    data, _ = generate(kind, 100_000, 1)
    assert GENERATORS[kind].version == 1
    assert hashlib.sha256(data).hexdigest() == GOLDEN_SHA256[kind]


# --- realism -----------------------------------------------------------------


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_gzip_ratio_is_realistic(kind: str) -> None:
    data = sample(kind)
    ratio = len(data) / len(gzip.compress(data, compresslevel=6))
    assert 2.0 < ratio < 12.0, ratio


# --- csv ---------------------------------------------------------------------


def test_csv_parses_with_csv_module() -> None:
    data = sample("csv")
    rows = csv_rows(data)
    assert tuple(rows[0]) == COLUMNS
    assert all(len(row) == 9 for row in rows)
    body = rows[1:]
    # Rows are not lines: quoted notes hold line breaks.
    assert len(body) < data.count(b"\n") - 1
    ids = [int(row[0]) for row in body]
    assert ids[0] == 1 and all(a < b for a, b in pairwise(ids))
    assert all(UUID4_RE.fullmatch(row[1]) for row in body)
    assert len({row[1] for row in body}) == len(body)
    created = [dt.datetime.fromisoformat(row[7]) for row in body]
    assert all(a <= b for a, b in pairwise(created))
    assert len({row[5] for row in body}) > len(body) // 4  # amounts vary
    # A realistic share of fields that need quoting, and of non-ASCII names.
    needs_quotes = sum(any(c in f for f in row for c in ',"\r\n') for row in body)
    assert needs_quotes > len(body) // 10
    assert any("\n" in row[8] for row in body)
    assert any('"' in row[2] for row in body)
    assert any("," in row[2] for row in body)
    assert sum(not row[2].isascii() for row in body) > len(body) // 10
    assert any("中" in row[2] or "王" in row[2] or "李" in row[2] for row in body)


def test_csv_parses_with_pandas() -> None:
    data = sample("csv")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8", keep_default_na=False)
    assert tuple(frame.columns) == COLUMNS
    assert frame.shape == (count_records("csv", data), 9)
    assert frame["id"].is_monotonic_increasing
    assert frame["amount"].dtype.kind == "f"
    assert frame["country"].str.fullmatch(r"[A-Z]{2}").all()


@given(size_bytes=st.integers(1, 60_000), seed=seeds)
@quick
def test_csv_small_sizes_parse(size_bytes: int, seed: int) -> None:
    data, records = generate("csv", size_bytes, seed)
    rows = csv_rows(data)
    assert tuple(rows[0]) == COLUMNS and all(len(row) == 9 for row in rows)
    if records:
        frame = pd.read_csv(io.BytesIO(data), keep_default_na=False)
        assert frame.shape == (records, 9)


# --- access log -----------------------------------------------------------------


def test_log_is_combined_format() -> None:
    assert isinstance(COMBINED_LOG_RE, re.Pattern)
    lines = sample("log").decode("utf-8").split("\n")
    assert lines.pop() == ""
    matches = [COMBINED_LOG_RE.fullmatch(line) for line in lines]
    assert all(matches), next(line for line, m in zip(lines, matches, strict=True) if not m)
    times = [
        dt.datetime.strptime(m["time_local"], "%d/%b/%Y:%H:%M:%S %z")  # type: ignore[index]
        for m in matches
    ]
    assert all(a <= b for a, b in pairwise(times))
    statuses = [m["status"] for m in matches]  # type: ignore[index]
    assert 0.6 < statuses.count("200") / len(lines) < 0.95
    assert {"200", "304", "404", "301", "500"} <= set(statuses)
    addresses = {m["remote_addr"] for m in matches}  # type: ignore[index]
    assert len(addresses) > 1_000 and any(":" in a for a in addresses)
    paths = [m["request_uri"] for m in matches]  # type: ignore[index]
    # Zipf-like: the top path is frequent, but far from everything.
    top = max(set(paths), key=paths.count)
    assert 0.005 < paths.count(top) / len(paths) < 0.2 and len(set(paths)) > 1_000
    sizes = [int(m["body_bytes_sent"]) for m in matches if m["status"] == "200"]  # type: ignore[index]
    assert len(set(sizes)) > len(sizes) // 4
    assert sum(m["http_referer"] == "-" for m in matches) > len(lines) // 10  # type: ignore[index]


# --- ndjson ------------------------------------------------------------------


def test_ndjson_lines_are_objects() -> None:
    data = sample("ndjson")
    lines = data.split(b"\n")
    assert lines.pop() == b""
    events = [json.loads(line) for line in lines]
    assert all(isinstance(event, dict) for event in events)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    created = [e["created_at"] for e in events]
    assert created == sorted(created)
    assert len({e["request_id"] for e in events}) == len(events)
    assert all(UUID4_RE.fullmatch(e["request_id"]) for e in events)
    assert len({e["latency_ms"] for e in events}) > 500
    assert all(isinstance(e["actor"], dict) and isinstance(e["data"], dict) for e in events)
    # Escapes and unicode, raw and escaped.
    assert b'\\"' in data and b"\\n" in data and b"\\u" in data
    assert any(not line.isascii() for line in lines[:200])
    assert {type(v) for e in events[:500] for v in e["data"].values()} >= {
        str,
        int,
        float,
        bool,
        list,
        dict,
        type(None),
    }


# --- edge cases far into a file (white box: start the stream state there) ----

NEW_YEAR = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("next_id", [9_999_990, 99_999_990, 9_999_999_990, 999_999_999_999_990])
def test_csv_ids_gaining_digits_and_new_year(next_id: int) -> None:
    """Ids of 8 to 16 digits take other code paths than the first rows'."""
    stream = csv_export._CsvStream(11)
    stream.next_id = next_id
    stream.clock_seconds = int(NEW_YEAR.timestamp()) - 30
    data = b"".join(bytes(b.data) for b in csv_export.stream_blocks(60_000, HEADER, stream.batch, 8_192))
    body = csv_rows(data)[1:]
    assert all(len(row) == 9 for row in body)
    ids = [int(row[0]) for row in body]
    assert ids[0] == next_id and len(str(ids[-1])) == len(str(next_id)) + 1
    assert all(1 <= b - a <= 4 for a, b in pairwise(ids))
    assert all(UUID4_RE.fullmatch(row[1]) for row in body)
    created = [dt.datetime.fromisoformat(row[7]) for row in body]
    assert created[0] < NEW_YEAR < created[-1]
    assert all(0 <= (b - a).total_seconds() <= 7 for a, b in pairwise(created))


@pytest.mark.parametrize("next_id", [99_999_995, 999_999_999_995])
def test_ndjson_ids_gaining_digits_and_new_year(next_id: int) -> None:
    stream = ndjson._NdjsonStream(12)
    stream.next_id = next_id
    stream.clock_millis = int(NEW_YEAR.timestamp()) * 1000 - 500
    data = b"".join(bytes(b.data) for b in csv_export.stream_blocks(100_000, b"", stream.batch, 8_192))
    events = [json.loads(line) for line in data.split(b"\n")[:-1]]
    assert [e["id"] for e in events] == list(range(next_id, next_id + len(events)))
    created = [dt.datetime.fromisoformat(e["created_at"]) for e in events]
    assert created[0] < NEW_YEAR < created[-1]
    assert all(0 <= (b - a).total_seconds() <= 0.031 for a, b in pairwise(created))


def test_log_new_year() -> None:
    stream = access_log._LogStream(13)
    stream.clock_millis = int(NEW_YEAR.timestamp()) * 1000 - 2_000
    data = b"".join(bytes(b.data) for b in csv_export.stream_blocks(200_000, b"", stream.batch, 8_192))
    matches = [COMBINED_LOG_RE.fullmatch(line) for line in data.decode().split("\n")[:-1]]
    times = [dt.datetime.strptime(m["time_local"], "%d/%b/%Y:%H:%M:%S %z") for m in matches if m]
    assert len(times) == len(matches)
    assert times[0] < NEW_YEAR < times[-1]
    assert all(0 <= (b - a).total_seconds() <= 1 for a, b in pairwise(times))
