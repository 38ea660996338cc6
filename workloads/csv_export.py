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

This module also holds the small toolkit the other text kinds
(:mod:`workloads.access_log`, :mod:`workloads.ndjson`) share; see "Toolkit".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from workloads.base import Block

# ---------------------------------------------------------------------------
# Toolkit shared by the text generators.
#
# Why it is shaped like this: Python cannot format 7 million rows a second,
# and NumPy has no cheap "copy a variable-length slice per row" operation.
# ``bytes.join`` is the one fast variable-length concatenation CPython has,
# so each record is the join of a few pre-encoded *pool entries* (a customer,
# a note, a request line, ...). Fields that must differ on every row (ids,
# timestamps, amounts, UUIDs) are left as placeholders in the pool entries
# and overwritten afterwards with 8-byte little-endian words, scattered
# through an unaligned uint64 view of the joined buffer: one fancy-index
# assignment moves 8 bytes, ~3x cheaper than scattering single bytes.
#
# Two measured constraints shape the constants: pools stay at a few MB (the
# join reads entries in random order, and a 9 MB pool halved CSV throughput
# through cache misses), and batches stay near 8k rows (so NumPy temporaries
# and the joined buffer live in L2; 32k-row batches were ~20% slower).
#
# Everything random comes from PCG64 ``random_raw``, whose stream NumPy keeps
# stable across versions and platforms; all derivations are integer
# arithmetic, so the bytes are the same on any machine. (We never call
# ``numpy.random.Generator`` methods, whose algorithms may change.)
# ---------------------------------------------------------------------------

U64Array = NDArray[np.uint64]
I64Array = NDArray[np.int64]
ObjArray = NDArray[np.object_]
T = TypeVar("T")


def u64(value: int) -> np.uint64:
    """A uint64 scalar, so array arithmetic never silently widens to float64."""
    return np.uint64(value & 0xFFFF_FFFF_FFFF_FFFF)


def le_word(text: bytes) -> int:
    """The little-endian integer whose bytes are ``text`` (at most 8 bytes)."""
    assert len(text) <= 8
    return int.from_bytes(text, "little")


def below(raw: U64Array, n: int) -> I64Array:
    """Uniform ints in ``[0, n)`` from the high 32 bits of raw words (n < 2**32).

    Lemire's multiply-shift without rejection: the bias is below n / 2**32,
    irrelevant for picking test data, and it costs two vector ops.
    """
    return (((raw >> u64(32)) * u64(n)) >> u64(32)).astype(np.int64)


def below_lo(raw: U64Array, n: int | U64Array) -> U64Array:
    """Like :func:`below` but from the low 32 bits, so one word serves twice."""
    scale = n if isinstance(n, np.ndarray) else u64(n)
    return ((raw & u64(0xFFFF_FFFF)) * scale) >> u64(32)


class PoolRandom:
    """Deterministic Python-int draws for building vocabularies and pools.

    Pools are built once per process with Python code, so this favours
    simplicity; it still draws from PCG64 ``random_raw`` (in bulk) so that
    pools, like rows, are identical on every machine.
    """

    def __init__(self, seed: int) -> None:
        self._bit_generator = np.random.PCG64(seed)
        self._buffer: list[int] = []

    def word(self) -> int:
        if not self._buffer:
            self._buffer = self._bit_generator.random_raw(4096).tolist()
            self._buffer.reverse()
        return self._buffer.pop()

    def below(self, n: int) -> int:
        return (self.word() * n) >> 64

    def between(self, low: int, high: int) -> int:
        """Uniform in ``[low, high]`` inclusive."""
        return low + self.below(high - low + 1)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]

    def weighted(self, items: Sequence[tuple[T, int]]) -> T:
        """Pick from ``(item, integer weight)`` pairs."""
        total = sum(weight for _, weight in items)
        point = self.below(total)
        for item, weight in items:
            if point < weight:
                return item
            point -= weight
        raise AssertionError("unreachable")


def weighted_table(weights: Sequence[int], size_log2: int) -> NDArray[np.int32]:
    """A lookup table of ``2**size_log2`` pool indices, each index appearing in
    proportion to its integer weight (largest-remainder rounding, every
    positive weight at least once). Indexing it with uniform random bits draws
    a skewed (e.g. Zipf) distribution in one gather.
    """
    slots_total = 1 << size_log2
    positive = [i for i, w in enumerate(weights) if w > 0]
    if len(positive) > slots_total:
        raise ValueError("more weighted items than table slots")
    weight_total = sum(weights)
    # Every positive item gets one slot; the rest are shared in proportion.
    spare = slots_total - len(positive)
    slots = [0] * len(weights)
    remainders: list[tuple[int, int]] = []
    for i in positive:
        quotient, remainder = divmod(weights[i] * spare, weight_total)
        slots[i] = 1 + quotient
        remainders.append((-remainder, i))
    remainders.sort()
    for _, i in remainders[: slots_total - sum(slots)]:
        slots[i] += 1
    table = np.repeat(np.arange(len(weights), dtype=np.int32), slots)
    assert table.size == slots_total
    return table


def zipf_weights(n: int, offset: int = 1) -> list[int]:
    """Integer Zipf-Mandelbrot weights 1/(rank+offset), exponent 1 (no floats,
    so tables are bit-identical everywhere)."""
    return [10**12 // (rank + offset) for rank in range(n)]


@dataclass
class Pool:
    """Pre-encoded byte strings, as an object array for cheap gathers."""

    items: ObjArray
    lengths: I64Array

    @classmethod
    def of(cls, items: Sequence[bytes]) -> Pool:
        array = np.empty(len(items), dtype=object)
        array[:] = list(items)
        lengths = np.fromiter((len(b) for b in items), dtype=np.int64, count=len(items))
        return cls(array, lengths)


def le_words(items: Sequence[bytes], width: int = 8) -> U64Array:
    """Each item (at most ``width`` bytes, NUL-padded) as a little-endian uint64."""
    padded = b"".join(item.ljust(width, b"\0") for item in items)
    dtype = {2: "<u2", 4: "<u4", 8: "<u8"}[width]
    return np.frombuffer(padded, dtype=dtype).astype(np.uint64)


def _build_digit_lut() -> U64Array:
    # "0000".."9999" as little-endian 4-byte words: two gathers give 8 digits.
    return le_words([f"{i:04d}".encode() for i in range(10_000)], width=4)


DIGITS4 = _build_digit_lut()


def digits8(values: U64Array) -> U64Array:
    """``values`` (< 10**8) as zero-padded 8-digit ASCII little-endian words."""
    high = values // u64(10_000)
    low = values - high * u64(10_000)
    words: U64Array = DIGITS4[high] | (DIGITS4[low] << u64(32))
    return words


def left_digits(values: U64Array, widths: U64Array | int) -> U64Array:
    """``values`` written in ``widths`` digits (no leading zeros if the width is
    exact), left-aligned in the low bytes of a word, zero bytes above."""
    width = widths if isinstance(widths, np.ndarray) else u64(widths)
    return digits8(values) >> ((u64(8) - width) * u64(8))


def _build_time_lut() -> U64Array:
    # "HH:MM:SS" for every second of the day, as little-endian words.
    seconds = np.arange(86_400, dtype=np.int64)
    parts = (seconds // 3600, seconds // 60 % 60, seconds % 60)
    chars = np.empty((86_400, 8), dtype=np.uint8)
    for column, part in zip((0, 3, 6), parts, strict=True):
        chars[:, column] = 48 + part // 10
        chars[:, column + 1] = 48 + part % 10
    chars[:, 2] = chars[:, 5] = ord(":")
    return chars.view("<u8").ravel().astype(np.uint64)


TIME_OF_DAY = _build_time_lut()


def day_words(days: I64Array, formats: Sequence[Callable[[dt.date], bytes]]) -> list[U64Array]:
    """Per-row date words for ``days`` since 1970-01-01: one array per format.

    A block spans a few days at most, so formatting each distinct day in
    Python and gathering costs nothing per row.
    """
    first = int(days.min())
    span = int(days.max()) - first + 1
    epoch = dt.date(1970, 1, 1)
    dates = [epoch + dt.timedelta(days=first + i) for i in range(span)]
    offsets = days - first
    return [le_words([fmt(d) for d in dates])[offsets] for fmt in formats]


def _build_hex_lut() -> U64Array:
    # 16 random bits -> 4 lowercase hex chars, as a little-endian uint32.
    values = np.arange(1 << 16, dtype=np.uint32)
    nibbles = np.stack([(values >> np.uint32(s)) & np.uint32(0xF) for s in (12, 8, 4, 0)], axis=1)
    chars = np.where(nibbles < 10, nibbles + ord("0"), nibbles + (ord("a") - 10)).astype(np.uint8)
    return chars.view("<u4").ravel().astype(np.uint64)


_HEX4 = _build_hex_lut().astype(np.uint32)
_UUID_VARIANT_CHARS = np.array([ord(c) for c in "89ab"], dtype=np.uint64)
_DASH = u64(ord("-"))
_LOW16 = u64(0xFFFF)
_LOW32 = u64(0xFFFF_FFFF)


def uuid4_writes(raw_pairs: U64Array, offset: I64Array | int) -> list[Write]:
    """Five word writes putting a random RFC 4122 version-4 UUID (36 chars,
    lowercase) at ``offset`` in each row, from ``raw_pairs`` of shape (n, 2).
    Later words overlap and fix the tail of earlier ones.
    """
    # 32 hex chars in four words: one 65536-entry table gather per 16 bits.
    halves = raw_pairs.astype("<u8", copy=False).view("<u2")
    chars = _HEX4[halves].astype("<u4", copy=False).view("<u8").astype(np.uint64, copy=False)
    h0, h1, h2, h3 = chars[:, 0], chars[:, 1], chars[:, 2], chars[:, 3]
    variant = _UUID_VARIANT_CHARS[(h2 & u64(3)).astype(np.intp)]
    # UUID chars:  0-7 "-" 8-11 "-" "4" 13-15 "-" variant 17-19 "-" 20-31
    word8 = (
        _DASH
        | ((h1 & _LOW32) << u64(8))
        | (_DASH << u64(40))
        | (u64(ord("4")) << u64(48))
        | (((h1 >> u64(40)) & u64(0xFF)) << u64(56))
    )
    word16 = (
        (h1 >> u64(48))
        | (_DASH << u64(16))
        | (variant << u64(24))
        | (((h2 >> u64(8)) & u64(0xFF_FFFF)) << u64(32))
        | (_DASH << u64(56))
    )
    return [
        Write(offset, h0),
        Write(offset, word8, 8),
        Write(offset, word16, 16),
        Write(offset, (h2 >> u64(32)) | (h3 << u64(32)), 24),
        Write(offset, h3, 28),
    ]


def integer_writes(values: U64Array, width: int, offset: I64Array | int, after: bytes) -> list[Write]:
    """Words writing ``values`` in exactly ``width`` digits (1..16) at
    ``offset``, where the template continues with ``after`` (a word written
    for a narrow number covers the next ``8 - width`` bytes too)."""
    if width <= 8:
        spill = u64(le_word(after[: 8 - width]) << (8 * width) if width < 8 else 0)
        return [Write(offset, left_digits(values, width) | spill)]
    high = values // u64(10**8)
    low_text = digits8(values - high * u64(10**8))
    extra = width - 8  # digits above the low eight
    first_word = (digits8(high) >> u64(8 * (8 - extra))) | (low_text << u64(8 * extra))
    return [Write(offset, first_word), Write(offset, low_text, width - 8)]


def first_width_run(ids: U64Array) -> tuple[int, int]:
    """(digit count of ``ids[0]``, how many leading ids share it). Ids are
    fixed-width slots, so a batch is cut where they gain a digit."""
    width = len(str(int(ids[0])))
    return width, int(np.searchsorted(ids, u64(10**width)))


@dataclass
class Write:
    """An 8-byte little-endian word to store at ``row start + offset + extra``."""

    offset: I64Array | int
    value: U64Array
    extra: int = 0


@dataclass
class RowBatch:
    """A batch of rows before assembly.

    Each row is ``row_prefix`` followed by one entry from each pool (in
    order; ``indices[k]`` picks the entries of pool ``k``); then ``writes``
    patch the placeholders, in order.
    """

    pools: list[Pool]
    indices: list[I64Array]
    writes: list[Write] = field(default_factory=list)
    row_prefix: bytes = b""

    @property
    def size(self) -> int:
        return len(self.indices[0])

    def row_lengths(self) -> I64Array:
        total = self.pools[0].lengths[self.indices[0]] + len(self.row_prefix)
        for pool, index in zip(self.pools[1:], self.indices[1:], strict=True):
            total += pool.lengths[index]
        return total


def assemble(batch: RowBatch, row_lengths: I64Array, n_rows: int) -> bytearray:
    """Join the first ``n_rows`` rows of ``batch`` and apply its writes."""
    if len(batch.pools) == 1:
        entries: list[bytes] = batch.pools[0].items[batch.indices[0][:n_rows]].tolist()
        if batch.row_prefix:
            # The prefix is the join separator, so it costs no list item: a
            # leading empty entry puts it in front of the first row too.
            entries.insert(0, b"")
        buffer = bytearray(batch.row_prefix).join(entries)
    else:
        # One object per slot, row-major, joined in one call.
        first = 1 if batch.row_prefix else 0
        slots = np.empty((n_rows, first + len(batch.pools)), dtype=object)
        if batch.row_prefix:
            slots[:, 0] = batch.row_prefix
        for column, (pool, index) in enumerate(zip(batch.pools, batch.indices, strict=True)):
            slots[:, first + column] = pool.items[index[:n_rows]]
        buffer = bytearray().join(slots.ravel().tolist())
    lengths = row_lengths[:n_rows]
    row_starts = np.cumsum(lengths) - lengths
    # An unaligned uint64 view with a 1-byte stride: element i is the word at
    # byte i. Every write lands inside its own row (pools leave at least 8
    # bytes after each written offset), so the view may stop 7 bytes short.
    words = np.ndarray(shape=(max(len(buffer) - 7, 0),), dtype="<u8", buffer=buffer, strides=(1,))
    for write in batch.writes:
        offset = write.offset if isinstance(write.offset, int) else write.offset[:n_rows]
        words[row_starts + (offset + write.extra)] = write.value[:n_rows]
    return buffer


#: Rows in the first batches: small, so tiny sizes cost next to nothing; the
#: schedule ignores ``size_bytes`` so a smaller file is a prefix of a larger one.
_FIRST_BATCH_ROWS = 64


def stream_blocks(
    size_bytes: int,
    header: bytes,
    next_batch: Callable[[int], RowBatch],
    rows_per_block: int,
) -> Iterator[Block]:
    """The shared driver: header, then batches, stopping at the first record
    boundary at or past ``size_bytes``. ``next_batch(n)`` returns up to ``n``
    rows (fewer is allowed, e.g. when an id gains a digit)."""
    if size_bytes <= 0:
        return
    emitted_bytes = 0
    if header:
        yield Block(header, 0)
        emitted_bytes = len(header)
    requested_rows = _FIRST_BATCH_ROWS
    while emitted_bytes < size_bytes:
        batch = next_batch(requested_rows)
        requested_rows = min(requested_rows * 4, rows_per_block)
        row_lengths = batch.row_lengths()
        ends = np.cumsum(row_lengths)
        # First row whose end reaches the target, or the whole batch.
        n_rows = min(int(np.searchsorted(ends, size_bytes - emitted_bytes)) + 1, batch.size)
        data = assemble(batch, row_lengths, n_rows)
        emitted_bytes += len(data)
        yield Block(data, n_rows)


# ---------------------------------------------------------------------------
# The CSV export itself.
# ---------------------------------------------------------------------------

HEADER = b"id,uuid,customer_name,email,country,amount,currency,created_at,note\r\n"
COLUMNS = tuple(HEADER.decode().strip().split(","))

#: ~1.1 MiB per block at ~135 bytes per order (see "Toolkit" on batch size).
ROWS_PER_BLOCK = 8_192

_POOL_SEED = 0x5EED_C5F0
_N_CUSTOMERS = 4_096
_NOTES_PER_CUSTOMER = 4
_HOT_CUSTOMERS = 1_024  # repeat buyers: drawn with a Zipf skew
_START_SECONDS = 1_640_995_200  # 2022-01-01T00:00:00Z
_ID_PREFIX_BYTES = 38  # ",", 36-char uuid, "," after the id digits
_TS_BYTES = 20  # 2022-01-01T00:00:00Z


def quote(value: str) -> str:
    """RFC 4180: quote fields holding a comma, quote or line break."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@dataclass(frozen=True)
class Locale:
    first_names: tuple[tuple[str, str], ...]  # (as written, ASCII for emails)
    last_names: tuple[tuple[str, str], ...]
    countries: tuple[tuple[str, str, int], ...]  # (ISO code, currency, weight)
    domains: tuple[str, ...]
    family_first: bool = False
    name_separator: str = " "
    weight: int = 1


def _latin(names: str) -> tuple[tuple[str, str], ...]:
    table = str.maketrans(
        {
            "ä": "ae",
            "ö": "oe",
            "ü": "ue",
            "ß": "ss",
            "Ä": "Ae",
            "Ö": "Oe",
            "Ü": "Ue",
            "é": "e",
            "è": "e",
            "ê": "e",
            "ë": "e",
            "É": "E",
            "à": "a",
            "â": "a",
            "ç": "c",
            "î": "i",
            "ï": "i",
            "ô": "o",
            "û": "u",
            "ù": "u",
            "ñ": "n",
            "á": "a",
            "í": "i",
            "ó": "o",
            "ú": "u",
            "Á": "A",
            "Í": "I",
            "Ñ": "N",
            "ø": "o",
            "Ø": "O",
            "å": "a",
            "Å": "A",
            "æ": "ae",
            "Æ": "Ae",
            "ł": "l",
            "Ł": "L",
            "ń": "n",
            "ś": "s",
            "ź": "z",
            "ż": "z",
            "ą": "a",
            "ę": "e",
            "ć": "c",
            "ã": "a",
            "õ": "o",
            "Ç": "C",
            "ğ": "g",
            "ş": "s",
            "Ş": "S",
            "ı": "i",
            "İ": "I",
            "'": "",
            "Ô": "O",
        }
    )
    return tuple((name, name.translate(table)) for name in names.split())


def _romanised(pairs: str) -> tuple[tuple[str, str], ...]:
    """ "王=Wang 李=Li" -> (("王", "Wang"), ("李", "Li"))."""
    return tuple((p.split("=")[0], p.split("=")[1]) for p in pairs.split())


LOCALES: tuple[Locale, ...] = (
    Locale(
        _latin(
            "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth "
            "David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen "
            "Christopher Nancy Daniel Lisa Matthew Betty Anthony Margaret Mark Sandra "
            "Emily Olivia Liam Noah Emma Ava Sophia Isabella Ethan Mason Logan Lucas "
            "Harper Evelyn Abigail Ella Jack Oliver Amelia Charlotte Grace Chloe Zoe"
        ),
        _latin(
            "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez "
            "Wilson Anderson Taylor Moore Jackson Martin Lee Thompson White Harris "
            "Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green "
            "Adams Baker Nelson Carter Mitchell Perez Roberts Turner Phillips Campbell "
            "Parker Evans Edwards Collins Stewart O'Brien O'Connor McDonald Nguyen Patel "
            "Kim Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Kelly Howard"
        ),
        (
            ("US", "USD", 40),
            ("GB", "GBP", 10),
            ("CA", "CAD", 4),
            ("AU", "AUD", 3),
            ("IE", "EUR", 1),
            ("NZ", "NZD", 1),
        ),
        (
            "gmail.com",
            "gmail.com",
            "yahoo.com",
            "outlook.com",
            "hotmail.com",
            "icloud.com",
            "aol.com",
            "proton.me",
            "comcast.net",
            "acme-corp.com",
        ),
        weight=45,
    ),
    Locale(
        _latin(
            "Jürgen Günter Björn Jörg Sören Käthe Anneliese Lukas Lena Hannah "
            "Maximilian Felix Jonas Leonie Mia Sophie Uwe Dieter Ursula Renate Jürgen "
            "Katharina Stefan Andreas Sabine Monika Petra Thomas Matthias Tobias Jörn"
        ),
        _latin(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann "
            "Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann "
            "Braun Krüger Hofmann Hartmann Lange Schmitt Werner Krause Meier Lehmann "
            "Köhler Groß Weiß Jäger Böhm Vogt Günther Müller-Lüdenscheidt Strauß"
        ),
        (("DE", "EUR", 12), ("AT", "EUR", 2), ("CH", "CHF", 2)),
        ("web.de", "gmx.de", "gmx.net", "t-online.de", "gmail.com", "posteo.de"),
        weight=14,
    ),
    Locale(
        _latin(
            "Élodie François Hélène Amélie Cécile Léa Chloé Zoé Jérôme Stéphane Benoît "
            "Gaëlle Noël Loïc Anaïs Inès Thérèse Raphaël Mathéo Célia Camille Hugo "
            "Louis Manon Théo Éric Aurélie Jean-Baptiste Marie-Hélène Frédéric"
        ),
        _latin(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau "
            "Simon Laurent Lefèvre Michel Garçon Lefebvre Mercier Dupont Lambert Bonnet "
            "François Girard Fontaine Rousseau Chevalier Gauthier Bélanger Brûlé Lemaître"
        ),
        (("FR", "EUR", 8), ("BE", "EUR", 1), ("CA", "CAD", 1)),
        ("orange.fr", "free.fr", "laposte.net", "gmail.com", "sfr.fr", "wanadoo.fr"),
        weight=9,
    ),
    Locale(
        _latin(
            "José María Núria Ángel Sofía Lucía Martín Mateo Álvaro Raúl Inés Begoña "
            "Jesús Íñigo Alejandro Carmen Javier Pilar Andrés Ramón Mónica Guadalupe"
        ),
        _latin(
            "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez "
            "Martín Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Núñez Peña "
            "Ibáñez Castillo Ortega Rubio Marín Sanz Iglesias Domínguez"
        ),
        (("ES", "EUR", 4), ("MX", "MXN", 3), ("AR", "ARS", 1), ("CO", "COP", 1)),
        ("gmail.com", "hotmail.es", "yahoo.es", "outlook.es", "telefonica.net"),
        weight=8,
    ),
    Locale(
        _latin(
            "Søren Bjørn Åsa Jørgen Mette Kirsten Ole Lars Nils Ingrid Sigrid Øystein "
            "Linnéa Astrid Maja Freja Magnus Håkon Tove Kjell Göran Björk"
        ),
        _latin(
            "Jørgensen Østergaard Sørensen Nielsen Hansen Pedersen Andersen Larsen "
            "Johansson Karlsson Nilsson Eriksson Lindström Åberg Ångström Bäckström "
            "Håkansson Berg Dahl Haugen Løvås Sjöberg"
        ),
        (("NO", "NOK", 1), ("DK", "DKK", 1), ("SE", "SEK", 2), ("FI", "EUR", 1)),
        ("gmail.com", "online.no", "hotmail.se", "live.dk", "telia.com"),
        weight=4,
    ),
    Locale(
        _latin(
            "Łukasz Paweł Michał Małgorzata Agnieszka Krzysztof Wojciech Zofia Anna "
            "Katarzyna Jakub Bartłomiej Grzegorz Ewa Tomasz"
        ),
        _latin(
            "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński "
            "Szymański Woźniak Dąbrowski Kozłowski Mazur Krawczyk"
        ),
        (("PL", "PLN", 1),),
        ("wp.pl", "onet.pl", "o2.pl", "gmail.com", "interia.pl"),
        weight=3,
    ),
    Locale(
        _latin(
            "João José Gonçalo Conceição Inês Luís André Mônica Antônio Vitória "
            "Sebastião Ana Beatriz Rafael Gabriel Letícia Júlia"
        ),
        _latin(
            "Silva Santos Oliveira Souza Gonçalves Pereira Ferreira Rodrigues Alves "
            "Lima Araújo Magalhães Carvalho Ribeiro Gomes Barbosa"
        ),
        (("BR", "BRL", 3), ("PT", "EUR", 1)),
        ("gmail.com", "uol.com.br", "bol.com.br", "hotmail.com", "sapo.pt"),
        weight=5,
    ),
    Locale(
        _romanised(
            "伟=Wei 芳=Fang 娜=Na 敏=Min 静=Jing 丽=Li 强=Qiang 磊=Lei 军=Jun 洋=Yang "
            "艳=Yan 勇=Yong 杰=Jie 娟=Juan 涛=Tao 明=Ming 超=Chao 秀英=Xiuying "
            "小红=Xiaohong 建华=Jianhua 志强=Zhiqiang 桂英=Guiying"
        ),
        _romanised(
            "王=Wang 李=Li 张=Zhang 刘=Liu 陈=Chen 杨=Yang 黄=Huang 赵=Zhao 吴=Wu "
            "周=Zhou 徐=Xu 孙=Sun 马=Ma 朱=Zhu 胡=Hu 郭=Guo 何=He 林=Lin 欧阳=Ouyang"
        ),
        (("CN", "CNY", 5), ("TW", "TWD", 1), ("SG", "SGD", 1)),
        ("qq.com", "163.com", "126.com", "sina.com", "gmail.com"),
        family_first=True,
        name_separator="",
        weight=6,
    ),
    Locale(
        _romanised(
            "健=Ken 花子=Hanako 翔太=Shota 陽菜=Hina 大輝=Daiki 美咲=Misaki 拓也=Takuya "
            "結衣=Yui 蓮=Ren さくら=Sakura 優子=Yuko 直樹=Naoki"
        ),
        _romanised(
            "佐藤=Sato 鈴木=Suzuki 高橋=Takahashi 田中=Tanaka 渡辺=Watanabe 伊藤=Ito "
            "山本=Yamamoto 中村=Nakamura 小林=Kobayashi 加藤=Kato 吉田=Yoshida"
        ),
        (("JP", "JPY", 1),),
        ("yahoo.co.jp", "docomo.ne.jp", "gmail.com", "ezweb.ne.jp", "icloud.com"),
        family_first=True,
        name_separator="\u3000",  # ideographic space, as Japanese forms often store it
        weight=4,
    ),
    Locale(
        _romanised(
            "민준=Minjun 서연=Seoyeon 지호=Jiho 하은=Haeun 도윤=Doyun 지우=Jiwoo 수빈=Subin 현우=Hyunwoo"
        ),
        _romanised("김=Kim 이=Lee 박=Park 최=Choi 정=Jung 강=Kang 조=Cho 윤=Yoon"),
        (("KR", "KRW", 1),),
        ("naver.com", "daum.net", "gmail.com", "hanmail.net"),
        family_first=True,
        name_separator="",
        weight=2,
    ),
    Locale(
        _romanised(
            "Дмитрий=Dmitry Анна=Anna Сергей=Sergey Ольга=Olga Алексей=Alexey "
            "Наталья=Natalya Иван=Ivan Екатерина=Ekaterina Михаил=Mikhail Мария=Maria"
        ),
        _romanised(
            "Иванов=Ivanov Смирнов=Smirnov Кузнецов=Kuznetsov Попов=Popov "
            "Соколов=Sokolov Лебедев=Lebedev Козлов=Kozlov Новиков=Novikov"
        ),
        (("RU", "RUB", 2), ("KZ", "KZT", 1)),
        ("yandex.ru", "mail.ru", "gmail.com", "rambler.ru"),
        weight=2,
    ),
    Locale(
        _latin("Çağla Gökhan Şule İbrahim Ayşe Mehmet Özge Emre Elif Burak Zeynep"),
        _latin("Yılmaz Kaya Demir Şahin Çelik Öztürk Aydın Arslan Doğan Kılıç"),
        (("TR", "TRY", 1),),
        ("gmail.com", "hotmail.com.tr", "yandex.com.tr", "outlook.com"),
        weight=2,
    ),
    Locale(
        _latin("Mohammed Ahmed Fatima Aisha Omar Youssef Priya Rahul Ananya Arjun Sanjay Deepika Vikram"),
        _latin("Khan Sharma Gupta Singh Ali Hassan Reddy Iyer Kumar Mehta Chaudhary"),
        (("IN", "INR", 4), ("AE", "AED", 1), ("GB", "GBP", 1)),
        ("gmail.com", "yahoo.co.in", "rediffmail.com", "outlook.com"),
        weight=5,
    ),
    Locale(
        _latin("Luca Giulia Francesco Chiara Alessandro Sofia Niccolò Federica Matteo"),
        _latin("Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Fabbri"),
        (("IT", "EUR", 1),),
        ("libero.it", "gmail.com", "alice.it", "virgilio.it", "tiscali.it"),
        weight=4,
    ),
)

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


def _email(rng: PoolRandom, first: str, last: str, domain: str) -> str:
    first, last = first.lower().replace(" ", ""), last.lower().replace(" ", "")
    year = str(rng.between(1950, 2006))
    if domain == "qq.com":
        return f"{rng.between(10_000_000, 3_999_999_999)}@qq.com"
    pattern = rng.weighted(
        (
            (f"{first}.{last}", 30),
            (f"{first[0]}{last}", 15),
            (f"{first}{last}", 10),
            (f"{first}_{last}", 6),
            (f"{first}.{last}{year[2:]}", 10),
            (f"{first}{year}", 8),
            (f"{last}.{first}", 5),
            (f"{first}{rng.between(1, 999)}", 12),
            (f"{first}.{last}+shop", 2),
        )
    )
    return f"{pattern}@{domain}"


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


@dataclass(frozen=True)
class Person:
    """A customer as a shop database holds them (names may be messy)."""

    name: str
    email: str
    country: str  # ISO 3166 alpha-2
    currency: str  # ISO 4217
    language: str  # BCP 47, e.g. "de-AT"


_LANGUAGES = {
    "US": "en",
    "GB": "en",
    "CA": "en",
    "AU": "en",
    "IE": "en",
    "NZ": "en",
    "IN": "en",
    "DE": "de",
    "AT": "de",
    "CH": "de",
    "FR": "fr",
    "BE": "fr",
    "ES": "es",
    "MX": "es",
    "AR": "es",
    "CO": "es",
    "NO": "nb",
    "DK": "da",
    "SE": "sv",
    "FI": "fi",
    "PL": "pl",
    "BR": "pt",
    "PT": "pt",
    "CN": "zh",
    "TW": "zh",
    "SG": "en",
    "JP": "ja",
    "KR": "ko",
    "RU": "ru",
    "KZ": "ru",
    "TR": "tr",
    "AE": "ar",
    "IT": "it",
}


def random_person(rng: PoolRandom) -> Person:
    """A customer from one of :data:`LOCALES`, with a realistic share of
    names that need quoting in CSV ("Last, First", "Jr.", nicknames)."""
    locale = rng.weighted(tuple((loc, loc.weight) for loc in LOCALES))
    first, first_ascii = rng.choice(locale.first_names)
    last, last_ascii = rng.choice(locale.last_names)
    country, currency, _ = rng.weighted(tuple((c, c[2]) for c in locale.countries))
    if locale.family_first:
        name = last + locale.name_separator + first
    else:
        style = rng.weighted(
            (("plain", 76), ("last_first", 12), ("suffix", 3), ("nick", 2), ("initial", 5), ("upper", 2))
        )
        if style == "last_first":
            name = f"{last}, {first}"
        elif style == "suffix":
            name = f"{first} {last}, {rng.choice(('Jr.', 'Sr.', 'III', 'PhD', 'MD'))}"
        elif style == "nick":
            name = f'{first} "{rng.choice(("Bob", "Liz", "Kat", "Max", "Jo"))}" {last}'
        elif style == "initial":
            name = f"{first} {chr(ord('A') + rng.below(26))}. {last}"
        elif style == "upper":
            name = f"{first} {last}".upper()
        else:
            name = f"{first} {last}"
    email = _email(rng, first_ascii, last_ascii, rng.choice(locale.domains))
    return Person(name, email, country, currency, f"{_LANGUAGES[country]}-{country}")


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


def _iso_date(day: dt.date) -> bytes:
    return day.isoformat().encode()[:8]  # "2022-01-"


def _iso_day_of_month(day: dt.date) -> bytes:
    return f"{day.day:02d}T".encode()


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
        date_words, day_of_month_words = day_words(days, (_iso_date, _iso_day_of_month))

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
        stream = _CsvStream(seed)
        return stream_blocks(size_bytes, HEADER, stream.batch, ROWS_PER_BLOCK)
