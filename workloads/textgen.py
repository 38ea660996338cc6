"""Shared machinery of the text workload kinds (``csv``, ``log``, ``ndjson``).

Each text kind is a vocabulary plus a per-row recipe; this module holds what
the recipes are made of. It knows nothing of CSV, JSON or log lines.

The technique
-------------

Python cannot format millions of rows a second, and NumPy has no cheap "copy
a variable-length slice per row" operation. ``bytes.join`` is the one fast
variable-length concatenation CPython has, so a record is the join of a few
pre-encoded *pool entries* (a customer with a note, a request line, an event
body, ...): a :class:`Pool` is an object array of ``bytes``, so picking the
entries of a whole batch is one NumPy gather, and :func:`assemble` joins
them (after an optional per-row prefix) in a single ``join`` call.

Fields that must differ on every row (ids, timestamps, amounts, UUIDs) are
left as placeholder bytes in the pool entries and prefixes, and overwritten
afterwards: each :class:`Write` is one 8-byte little-endian word per row,
stored through an *unaligned* uint64 view of the joined buffer (a view with
a 1-byte stride, so element ``i`` is the word starting at byte ``i``). One
fancy-index assignment moves 8 bytes per row, about 3x cheaper than
scattering single bytes. The words themselves come from lookup tables, so
formatting costs a gather or two per field: :data:`DIGITS4` ("0000".."9999",
two gathers make 8 digits, see :func:`digits8`, :func:`left_digits`,
:func:`integer_writes`), :data:`TIME_OF_DAY` ("HH:MM:SS" for every second),
:func:`day_words` (each distinct day of a batch formatted once in Python)
and a 16-bit-to-4-hex-chars table behind :func:`uuid4_writes`. A word may
run past its field into the bytes that follow; the writer either folds those
bytes into the word or a later write overwrites them, and pools leave at
least 8 bytes after every written offset so a word never crosses into the
next row.

Sizes, measured rather than guessed:

- Pools stay at a few MB. The join reads entries in random order, so a pool
  that outgrows the caches costs a miss per entry: a 9 MB pool halved CSV
  throughput. Variety comes from combining pools and from the patched fields,
  not from bigger pools.
- Batches stay near 8k rows (each kind's ``ROWS_PER_BLOCK``), so NumPy's
  temporaries and the joined buffer live in L2; 32k-row batches were ~20%
  slower. :func:`stream_blocks` starts with :data:`FIRST_BATCH_ROWS`-row
  batches and grows them 4x a step, so tiny sizes cost next to nothing. The
  schedule ignores ``size_bytes``, which makes a smaller output a prefix of a
  larger one with the same seed.
- Ids are fixed-width placeholders, so a batch is cut where the ids gain a
  digit (:func:`first_width_run`); batches may hence be shorter than asked.

Determinism: everything random comes from PCG64 ``random_raw``, whose stream
NumPy keeps stable across versions and platforms, and every derivation is
integer arithmetic (:func:`below`, :func:`below_lo`, :func:`weighted_table`,
:func:`zipf_weights`; :class:`PoolRandom` for the Python-side pool builds),
so the bytes are the same on any machine. We never call
``numpy.random.Generator`` methods, whose algorithms may change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

# With the module, not inside a timed generation: NumPy imports its random package lazily (~17 ms).
import numpy.random
from numpy.typing import NDArray

from streambench.workloads.base import Block

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


def iso_date_head(day: dt.date) -> bytes:
    """``"2024-03-"``: with :func:`iso_date_tail`, an ISO 8601 date and its
    ``T`` in two :func:`day_words` formats (each at most 8 bytes)."""
    return day.isoformat().encode()[:8]


def iso_date_tail(day: dt.date) -> bytes:
    """``"10T"``: the day of the month and the date-time separator."""
    return f"{day.day:02d}T".encode()


def _build_hex_lut() -> U64Array:
    # 16 random bits -> 4 lowercase hex chars, as a little-endian uint32.
    values = np.arange(1 << 16, dtype=np.uint32)
    nibbles = np.stack([(values >> np.uint32(s)) & np.uint32(0xF) for s in (12, 8, 4, 0)], axis=1)
    chars = np.where(nibbles < 10, nibbles + ord("0"), nibbles + (ord("a") - 10)).astype(np.uint8)
    return chars.view("<u4").ravel().astype(np.uint64)


_HEX4 = _build_hex_lut().astype(np.uint32)
_UUID_VARIANT_CHARS = np.array([ord(c) for c in "89ab"], dtype=np.uint64)
_DASH = u64(ord("-"))
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
FIRST_BATCH_ROWS = 64


def stream_blocks(
    size_bytes: int,
    header: bytes,
    next_batch: Callable[[int], RowBatch],
    rows_per_block: int,
    smaller_sizes: Sequence[int] = (),
) -> Iterator[Block]:
    """The shared driver: header, then batches, stopping at the first record
    boundary at or past ``size_bytes``. ``next_batch(n)`` returns up to ``n``
    rows (fewer is allowed, e.g. when an id gains a digit).

    ``smaller_sizes``: where each of these sizes' own output would end, a block
    ends too, naming it in ``Block.completes``. The schedule ignores the size, so
    the bytes up to there *are* that size's output, and the cache cuts it from
    this one instead of generating it again."""
    if size_bytes <= 0:
        return
    pending = sorted({s for s in smaller_sizes if 0 < s < size_bytes})
    emitted_bytes = 0
    if header:
        done = [s for s in pending if s <= len(header)]
        pending = pending[len(done) :]
        yield Block(header, 0, tuple(done))
        emitted_bytes = len(header)
    requested_rows = FIRST_BATCH_ROWS
    while emitted_bytes < size_bytes:
        batch = next_batch(requested_rows)
        requested_rows = min(requested_rows * 4, rows_per_block)
        row_lengths = batch.row_lengths()
        ends = np.cumsum(row_lengths)
        # First row whose end reaches the target, or the whole batch.
        n_rows = min(int(np.searchsorted(ends, size_bytes - emitted_bytes)) + 1, batch.size)
        data = assemble(batch, row_lengths, n_rows)
        # Cut where a smaller size ends (by the same rule), each piece its own block.
        view, rows_out, bytes_out = memoryview(data), 0, 0
        while pending and pending[0] - emitted_bytes <= ends[n_rows - 1]:
            cut_rows = int(np.searchsorted(ends, pending[0] - emitted_bytes)) + 1
            completes = tuple(s for s in pending if s - emitted_bytes <= ends[cut_rows - 1])
            pending = pending[len(completes) :]
            cut_bytes = int(ends[cut_rows - 1])
            yield Block(view[bytes_out:cut_bytes], cut_rows - rows_out, completes)
            rows_out, bytes_out = cut_rows, cut_bytes
        emitted_bytes += len(data)
        if bytes_out < len(data):
            yield Block(view[bytes_out:] if bytes_out else data, n_rows - rows_out)
