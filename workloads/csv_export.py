"""``csv``: a database export of web-shop orders, RFC 4180 CSV in UTF-8.

One header line, then one order per record::

    id,uuid,customer_name,email,country,amount,currency,created_at,note
    1,5f0c1e9a-3b7d-4c2e-9a41-0d6e2b8f7c13,"Müller, Jürgen",juergen.mueller@web.de,DE,84.99,EUR,\\
    2022-01-01T00:00:03Z,
    2,9b05ea6c-83b3-495c-8242-3223bed91305,王伟,wangwei88@qq.com,CN,327.50,CNY,\\
    2022-01-01T00:00:05Z,"Fragile, handle with care"

(records wrapped here at ``\\``).

- ``id`` increases (with the odd gap left by a deleted order), ``uuid`` is a
  random version-4 UUID, ``created_at`` is ISO 8601 UTC and never decreases,
  ``amount`` has random digits on every row (its magnitude and currency follow
  the customer).
- Customers come from a fixed pool of 4096, a third of orders from a Zipf-
  skewed set of repeat buyers: names from 14 locales (é, ü, ø, ł, 中文, 日本語,
  한국어, Cyrillic), about 15% of them needing quotes (``"Smith, Jr."``,
  ``"Last, First"``, ``Robert ""Bob"" Smith``). Notes (4 per customer) are
  empty on half the rows, and otherwise often hold commas, doubled quotes or
  embedded line breaks: about a third of the records need quoting somewhere.
- Records end with ``\\r\\n`` (RFC 4180 and Python's ``csv`` default); line
  breaks *inside* quoted notes are mostly bare ``\\n``, sometimes ``\\r\\n``,
  as pasted user text is. Count records with a CSV parser, not with
  ``wc -l``.

Size: the output is the shortest prefix of the (seed-determined, endless)
stream that ends on a record boundary and is at least ``size_bytes`` long, so
it overshoots by less than one record; the header counts as a boundary, so a
request smaller than the header gives the header alone, and 0 gives nothing.
A larger size with the same seed gives a longer file with this one as prefix.

Built with :mod:`workloads.textgen`; customers come from :mod:`workloads.people`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from streambench.workloads.base import Block
from streambench.workloads.people import random_person
from streambench.workloads.textgen import (
    TIME_OF_DAY,
    Pool,
    PoolRandom,
    RowBatch,
    U64Array,
    Write,
    below,
    below_lo,
    day_words,
    first_width_run,
    integer_writes,
    iso_date_head,
    iso_date_tail,
    le_word,
    le_words,
    left_digits,
    u64,
    uuid4_writes,
    weighted_table,
    zipf_weights,
)

# Re-exported: tests drive ``_CsvStream`` batches through it.
from streambench.workloads.textgen import stream_blocks as stream_blocks

HEADER = b"id,uuid,customer_name,email,country,amount,currency,created_at,note\r\n"
COLUMNS = tuple(HEADER.decode().strip().split(","))

#: ~1.1 MiB per block at ~135 bytes per order (see :mod:`workloads.textgen` on batch size).
ROWS_PER_BLOCK = 8_192

_POOL_SEED = 0x5EED_C5F0
_N_CUSTOMERS = 4_096
_NOTES_PER_CUSTOMER = 4
_HOT_CUSTOMERS = 1_024  # repeat buyers: drawn with a Zipf skew
_START_SECONDS = 1_640_995_200  # 2022-01-01T00:00:00Z
_ID_PREFIX_BYTES = 38  # ",", 36-char uuid, "," after the id digits
_TS_BYTES = 20  # 2022-01-01T00:00:00Z
_LOW16 = u64(0xFFFF)


def quote(value: str) -> str:
    """RFC 4180: quote fields holding a comma, quote or line break."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


#: Currencies without minor units: their amounts are whole numbers.
_ZERO_DECIMAL = ("JPY", "KRW", "COP")

_NOTE_PHRASES = (
    "Leave at front door",
    "Gift wrap please",
    "Call before delivery",
    "Express shipping",
    "Repeat order",
    "Customer requested invoice",
    "B2B - VAT ID on file",
    "Deliver after 6pm",
    "Ring twice",
    "No plastic packaging please",
    "Bitte beim Nachbarn abgeben",
    "Livraison après 18h",
    "Por favor, llamar antes",
    "请放在门口",
    "置き配希望",
    "문 앞에 놓아주세요",
    "Оставить у двери",
    "Paid by bank transfer",
    "Address verified by phone",
    "Fraud check passed",
    "Partial refund issued",
    "Replacement for order #{n}",
    "Price match approved",
    "Backorder: ships in 2 weeks",
    "Do not bend",
    "Signature required",
)
_NOTE_COMMA = (
    "Fragile, handle with care",
    "Deliver Mon-Fri, 9am-5pm",
    "Gate code {n}, ring twice",
    "Ring bell, then wait",
    "Size M, not L",
    "Blue, not red",
    "Left at reception, signed by J.",
    "Bitte klingeln, 3. Stock",
    "Fragile, ne pas plier",
    "Contactar, por favor, al llegar",
    "Customer called twice, very polite",
)
_NOTE_QUOTE = (
    'Customer says "urgent"',
    'Engraving: "Happy 30th, Anna!"',
    'Use "side entrance"',
    'Marked as "gift" - no prices in box',
    'Card text: "Alles Gute zum Geburtstag!"',
    'Tracking shows "delivered" but customer disagrees',
    'Promo code "SPRING{n}" applied',
    '"Best shop ever" - review promised',
)
_NOTE_MULTILINE = (
    "Address line 2:\nApt {n}",
    "Called customer.\nWill retry tomorrow",
    "Delivery attempt 1 failed\nDelivery attempt 2 failed\nReturned to sender",
    "Ticket #{n}\nCustomer: package damaged\nAgent: replacement sent",
    "Line 1: 2x mug\r\nLine 2: 1x teapot",
    "Hinweis:\nNicht bei Nachbarn abgeben",
)


def _note(rng: PoolRandom) -> str:
    kind = rng.weighted(
        (("empty", 52), ("plain", 20), ("comma", 12), ("quote", 6), ("multi", 7), ("long", 3))
    )
    number = str(rng.between(2, 99_999))
    if kind == "empty":
        return ""
    if kind == "plain":
        return rng.choice(_NOTE_PHRASES).replace("{n}", number)
    if kind == "comma":
        return rng.choice(_NOTE_COMMA).replace("{n}", number)
    if kind == "quote":
        return rng.choice(_NOTE_QUOTE).replace("{n}", number)
    if kind == "multi":
        return rng.choice(_NOTE_MULTILINE).replace("{n}", number)
    parts = [rng.choice(_NOTE_PHRASES + _NOTE_COMMA + _NOTE_QUOTE) for _ in range(rng.between(3, 6))]
    return rng.choice((". ", "; ", "\n")).join(parts).replace("{n}", number)


@dataclass(frozen=True)
class _Customer:
    """One customer's part of a row: from the name to the comma before the note."""

    template: bytes  # name,email,country,<amount>,CUR,<created_at>,
    amount_offset: int
    amount_bytes: int  # integer digits, plus ".cc" unless zero-decimal
    integer_digits: int
    decimal: bool
    ts_offset: int


_TS_TEMPLATE = b"0000-00-00T00:00:00Z"


def _customer(rng: PoolRandom) -> _Customer:
    person = random_person(rng)
    name, email, country, currency = person.name, person.email, person.country, person.currency
    decimal = currency not in _ZERO_DECIMAL
    if decimal:
        integer_digits = rng.weighted(((1, 15), (2, 45), (3, 32), (4, 8)))
    else:  # yen, won, pesos: larger numbers, no cents
        integer_digits = rng.weighted(((3, 15), (4, 45), (5, 30), (6, 10)))
    amount_bytes = integer_digits + (3 if decimal else 0)
    head = f"{quote(name)},{email},{country},".encode()
    template = head + b"0" * amount_bytes + f",{currency},".encode() + _TS_TEMPLATE + b","
    return _Customer(
        template=template,
        amount_offset=len(head),
        amount_bytes=amount_bytes,
        integer_digits=integer_digits,
        decimal=decimal,
        ts_offset=len(template) - len(_TS_TEMPLATE) - 1,
    )


def _cents_table() -> U64Array:
    # Shop prices cluster on price points; the rest are arbitrary (discounts, tax).
    weighted = [("99", 90), ("00", 50), ("50", 26), ("95", 13), ("49", 13), ("90", 8)]
    table: list[bytes] = []
    for cents, count in weighted:
        table += [cents.encode()] * count
    table += [f"{i % 100:02d}".encode() for i in range(256 - len(table))]
    assert len(table) == 256
    return le_words(table, width=2)


class _CsvPools:
    """Everything that is the same for every seed, built once per process.

    An entry is a customer *with* one of a few notes (customer-major), so a
    row is one pool entry behind the ``id,uuid,`` prefix: one join item per
    row, which is what makes ~135-byte records cheap enough.
    """

    def __init__(self) -> None:
        rng = PoolRandom(_POOL_SEED)
        customers = [_customer(rng) for _ in range(_N_CUSTOMERS)]
        entries: list[_Customer] = []
        texts: list[bytes] = []
        for customer in customers:
            for _ in range(_NOTES_PER_CUSTOMER):
                entries.append(customer)
                texts.append(customer.template + (quote(_note(rng)) + "\r\n").encode())
        self.entries = Pool.of(texts)
        self.hot_table = weighted_table(zipf_weights(_HOT_CUSTOMERS, offset=4), 16)

        def column(values: list[int]) -> U64Array:
            return np.array(values, dtype=np.uint64)

        self.amount_offset = np.array([e.amount_offset for e in entries], dtype=np.int64)
        self.ts_offset = np.array([e.ts_offset for e in entries], dtype=np.int64)
        self.integer_digits = column([e.integer_digits for e in entries])
        self.integer_low = column([10 ** (e.integer_digits - 1) for e in entries])
        self.integer_span = column([9 * 10 ** (e.integer_digits - 1) for e in entries])
        # Zero-decimal currencies get neither the dot nor the cents.
        self.dot = column([ord(".") if e.decimal else 0 for e in entries])
        self.cents_mask = column([0xFFFF if e.decimal else 0 for e in entries])
        # An amount shorter than 8 bytes is written with the template bytes
        # after it (",EUR,0000-..."), so its word carries those too.
        self.amount_tail = column(
            [
                le_word((b"\0" * e.amount_bytes + e.template[e.amount_offset + e.amount_bytes :])[:8])
                for e in entries
            ]
        )
        self.cents = _cents_table()


@cache
def csv_pools() -> _CsvPools:
    return _CsvPools()


class _CsvStream:
    """Per-call state: the bit generator, the next id and the clock."""

    def __init__(self, seed: int) -> None:
        self.pools = csv_pools()
        self.bits = np.random.PCG64(seed)
        self.next_id = 1
        self.clock_seconds = _START_SECONDS

    def batch(self, n_rows: int) -> RowBatch:
        pools = self.pools
        # Word 0: customer (high 32 bits), amount (low 32). Word 1: small
        # fields, one byte each. Then two words of uuid per row.
        raw = self.bits.random_raw(2 * n_rows).reshape(2, n_rows)
        uuid_raw = self.bits.random_raw(2 * n_rows).reshape(n_rows, 2)
        small = raw[1]
        # ids: +1, or +2..4 after a deleted order (1 in 16).
        gap_bits = small & u64(0xFF)
        gaps = np.where(gap_bits < u64(16), u64(2) + gap_bits % u64(3), u64(1))
        ids = u64(self.next_id) + np.cumsum(gaps) - gaps
        id_width, n_rows = first_width_run(ids)
        ids, raw, uuid_raw, small = ids[:n_rows], raw[:, :n_rows], uuid_raw[:n_rows], small[:n_rows]
        self.next_id = int(ids[-1] + gaps[n_rows - 1])

        # Customer: 35% repeat buyers (Zipf over the first 2k), the rest
        # uniform; then one of its notes.
        is_hot = ((small >> u64(8)) & u64(0xFF)) < u64(90)
        customer = np.where(
            is_hot,
            pools.hot_table[((small >> u64(16)) & _LOW16).astype(np.intp)],
            below(raw[0], _N_CUSTOMERS),
        )
        entry = customer * _NOTES_PER_CUSTOMER + ((small >> u64(32)) & u64(3)).astype(np.int64)

        # created_at: 0-7 s after the previous order.
        seconds = u64(self.clock_seconds) + np.cumsum((small >> u64(40)) & u64(7))
        self.clock_seconds = int(seconds[-1])
        days = (seconds // u64(86_400)).astype(np.int64)
        time_words = TIME_OF_DAY[(seconds % u64(86_400)).astype(np.intp)]
        date_words, day_of_month_words = day_words(days, (iso_date_head, iso_date_tail))

        # amount: integer part in the customer's magnitude, then ".cc".
        digits = pools.integer_digits[entry]
        integer = pools.integer_low[entry] + below_lo(raw[0], pools.integer_span[entry])
        cents = pools.cents[((small >> u64(48)) & u64(0xFF)).astype(np.intp)]
        decimals = pools.dot[entry] | ((cents & pools.cents_mask[entry]) << u64(8))
        amount = left_digits(integer, digits) | (decimals << (digits * u64(8))) | pools.amount_tail[entry]

        # Offsets in the row: "id,uuid," then the pool entry.
        prefix_bytes = id_width + _ID_PREFIX_BYTES
        amount_at = pools.amount_offset[entry] + prefix_bytes
        ts_at = pools.ts_offset[entry] + prefix_bytes
        # The id's word may run into the uuid placeholder: the uuid follows.
        writes = integer_writes(ids, id_width, 0, after=b"," + b"0" * 7)
        writes += uuid4_writes(uuid_raw, id_width + 1)
        writes += [
            Write(amount_at, amount),
            Write(ts_at, date_words),  # "2022-01-"
            Write(ts_at, day_of_month_words | (time_words << u64(24)), 8),  # "01T00:00"
            Write(ts_at, time_words, 11),  # "00:00:00"
        ]
        return RowBatch(
            pools=[pools.entries],
            indices=[entry],
            writes=writes,
            row_prefix=b"0" * id_width + b"," + b"0" * 36 + b",",
        )


class CsvExportGenerator:
    kind = "csv"
    version = 1
    extension = "csv"
    media_type = "text/csv"
    summary = "RFC 4180 orders export: quoted names/notes, UTF-8, embedded newlines"

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]:
        return self.blocks_with_cuts(size_bytes, seed, ())

    def blocks_with_cuts(self, size_bytes: int, seed: int, smaller_sizes: Sequence[int]) -> Iterator[Block]:
        stream = _CsvStream(seed)
        return stream_blocks(size_bytes, HEADER, stream.batch, ROWS_PER_BLOCK, smaller_sizes)
