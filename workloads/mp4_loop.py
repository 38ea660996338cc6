"""A short mp4 clip looped into a long one without re-muxing: ISO BMFF boxes read and written.

ffmpeg's ``-stream_loop N -c copy`` rewrites every packet of every loop (and, for faststart, the
whole file once more). The loops are the same bytes each time, so the looped file is the clip's
``mdat`` payload written N times, and only the index (``moov``) is new: its sample tables are the
clip's, tiled N times with the offsets and times moved on. This module reads the clip's boxes and
writes that index; the bytes of the payload never pass through it.

A loop must last exactly as long in every track, or the tracks drift apart loop after loop (ffmpeg's
loop drops an AAC frame and stretches a video frame each time to keep them together). So the clip is
made a whole number of video frames *and* AAC frames long (:data:`workloads.mp4.CLIP_S`); each
track keeps the samples that start inside one loop and its last sample ends where the loop does.
The audio's encoder delay (the edit list's ``media_time``) is skipped once, at the start.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

CONTAINERS = frozenset({b"moov", b"trak", b"edts", b"mdia", b"minf", b"dinf", b"stbl"})
U32_MAX = 0xFFFFFFFF

Ints = npt.NDArray[np.int64]


class ClipError(RuntimeError):
    """The clip is not an mp4 this module can loop (said in one line)."""


@dataclass
class Box:
    """One box: a leaf's ``body`` (what follows its header) or a container's ``children``."""

    kind: bytes
    body: bytes = b""
    children: list[Box] = field(default_factory=list)

    def child(self, kind: bytes) -> Box:
        for box in self.children:
            if box.kind == kind:
                return box
        raise ClipError(f"the clip has no {kind.decode()} box in {self.kind.decode()}")

    def maybe(self, kind: bytes) -> Box | None:
        return next((box for box in self.children if box.kind == kind), None)

    def to_bytes(self) -> bytes:
        body = b"".join(box.to_bytes() for box in self.children) if self.kind in CONTAINERS else self.body
        return box_header(self.kind, len(body)) + body


def box_header(kind: bytes, body_bytes: int) -> bytes:
    """A box header: 8 bytes, or 16 (``size`` 1 and a 64-bit ``largesize``) for a box of 4 GiB or more."""
    if body_bytes + 8 <= U32_MAX:
        return struct.pack(">I4s", body_bytes + 8, kind)
    return struct.pack(">I4sQ", 1, kind, body_bytes + 16)


def _box_at(data: bytes, offset: int, end: int) -> tuple[bytes, int, int]:
    """The box at ``offset``: its type, header length and whole length (``size`` 0: up to ``end``)."""
    size, kind = struct.unpack_from(">I4s", data, offset)
    header = 8
    if size == 1:
        (size,) = struct.unpack_from(">Q", data, offset + 8)
        header = 16
    elif size == 0:
        size = end - offset
    if size < header or offset + size > end:
        raise ClipError(f"the clip's {kind!r} box at byte {offset} runs past its end")
    return kind, header, size


def parse_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes in ``data[start:end]``, containers opened; an mdat's body is left out (:func:`mdat_span`)."""
    end = len(data) if end is None else end
    boxes: list[Box] = []
    offset = start
    while offset + 8 <= end:
        kind, header, size = _box_at(data, offset, end)
        if kind in CONTAINERS:
            boxes.append(Box(kind, children=parse_boxes(data, offset + header, offset + size)))
        elif kind == b"mdat":
            boxes.append(Box(kind))
        else:
            boxes.append(Box(kind, bytes(data[offset + header : offset + size])))
        offset += size
    return boxes


def mdat_span(data: bytes) -> tuple[int, int]:
    """Where the clip's one ``mdat`` payload starts and ends (offsets in ``data``)."""
    offset = 0
    while offset + 8 <= len(data):
        kind, header, size = _box_at(data, offset, len(data))
        if kind == b"mdat":
            return offset + header, offset + size
        offset += size
    raise ClipError("the clip has no mdat box")


# --- Run-length tables <-> one value per sample ---------------------------------------------------


def _entries(body: bytes, header_bytes: int, fields: int, dtype: str = ">u4") -> npt.NDArray[np.int64]:
    """A full box's table: ``entry_count`` at ``header_bytes - 4``, then rows of ``fields`` words."""
    (count,) = struct.unpack_from(">I", body, header_bytes - 4)
    table = np.frombuffer(body, dtype=dtype, count=count * fields, offset=header_bytes)
    return table.astype(np.int64).reshape(count, fields)


def _expand(runs: npt.NDArray[np.int64]) -> Ints:
    """(count, value) rows -> one value per sample."""
    return np.repeat(runs[:, 1], runs[:, 0])


def _runs(values: Ints) -> npt.NDArray[np.int64]:
    """One value per sample -> (count, value) rows, equal neighbours merged."""
    if values.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    counts = np.diff(np.append(starts, values.size))
    return np.stack([counts, values[starts]], axis=1)


def _full_box(version: int, flags: int, table: npt.NDArray[np.int64], dtype: str = ">u4") -> bytes:
    rows = np.ascontiguousarray(table, dtype=np.int64)
    return struct.pack(">B3sI", version, flags.to_bytes(3, "big"), len(rows)) + rows.astype(dtype).tobytes()


# --- One track of the clip, one value per sample ---------------------------------------------------


@dataclass(frozen=True)
class Track:
    """A clip track's samples, kept to one loop: decode deltas, sizes, payload offsets, keyframes."""

    box: Box
    timescale: int
    deltas: Ints
    sizes: Ints
    offsets: Ints  # from the start of the clip's mdat payload
    chunk_firsts: Ints  # the first sample of each chunk
    chunk_descriptions: Ints
    keyframes: Ints | None  # 0-based; None: every sample is one (no stss)
    composition: Ints | None  # ctts offsets, per sample
    groups: list[tuple[bytes, Ints]]  # sbgp: its header bytes and a group index per sample
    media_time: int  # the edit list's one entry: where presentation starts in the media
    loop_media: int  # one loop in this track's timescale

    @property
    def samples(self) -> int:
        return int(self.sizes.size)


def _track(trak: Box, payload_start: int, loop_s: Fraction) -> Track:
    mdia = trak.child(b"mdia")
    stbl = mdia.child(b"minf").child(b"stbl")
    mdhd = mdia.child(b"mdhd").body
    (timescale,) = struct.unpack_from(">I", mdhd, 20 if mdhd[0] == 1 else 12)
    deltas = _expand(_entries(stbl.child(b"stts").body, 8, 2))
    stsz = stbl.child(b"stsz").body
    uniform, count = struct.unpack_from(">II", stsz, 4)
    sizes = (
        np.full(count, uniform, np.int64)
        if uniform
        else np.frombuffer(stsz, ">u4", count, 12).astype(np.int64)
    )
    if (co := stbl.maybe(b"stco")) is not None:
        chunk_offsets = _entries(co.body, 8, 1)[:, 0]
    else:
        chunk_offsets = _entries(stbl.child(b"co64").body, 8, 1, ">u8")[:, 0]
    stsc = _entries(stbl.child(b"stsc").body, 8, 3)  # first_chunk (1-based), samples, description
    run_ends = np.append(stsc[1:, 0], chunk_offsets.size + 1)
    per_chunk = np.repeat(stsc[:, 1], run_ends - stsc[:, 0])
    descriptions = np.repeat(stsc[:, 2], run_ends - stsc[:, 0])
    chunk_firsts = np.concatenate(([0], np.cumsum(per_chunk)[:-1]))
    # A sample's offset: its chunk's offset plus the sizes of the samples before it in that chunk.
    chunk_of = np.repeat(np.arange(per_chunk.size), per_chunk)
    before = np.cumsum(sizes) - sizes
    offsets = chunk_offsets[chunk_of] + before - before[chunk_firsts][chunk_of] - payload_start
    if not (deltas.size == sizes.size == offsets.size):
        raise ClipError("the clip's sample tables disagree on how many samples a track has")
    stss = stbl.maybe(b"stss")
    ctts = stbl.maybe(b"ctts")
    loop_media = loop_s * timescale
    if loop_media.denominator != 1:
        raise ClipError(f"a {loop_s} s loop is not a whole number of ticks at {timescale} Hz")
    track = Track(
        box=trak,
        timescale=timescale,
        deltas=deltas,
        sizes=sizes,
        offsets=offsets,
        chunk_firsts=chunk_firsts,
        chunk_descriptions=descriptions,
        keyframes=None if stss is None else _entries(stss.body, 8, 1)[:, 0] - 1,
        composition=None if ctts is None else _expand(_entries(ctts.body, 8, 2, ">i4")),
        groups=[_group(box.body, deltas.size) for box in stbl.children if box.kind == b"sbgp"],
        media_time=_edit(trak),
        loop_media=int(loop_media),
    )
    return _one_loop(track)


def _edit(trak: Box) -> int:
    """The ``media_time`` of the track's one edit (0 without an edit list)."""
    edts = trak.maybe(b"edts")
    if edts is None:
        return 0
    body = edts.child(b"elst").body
    (count,) = struct.unpack_from(">I", body, 4)
    if count != 1:
        raise ClipError(f"the clip's edit list has {count} entries; one was expected")
    return int(struct.unpack_from(">q" if body[0] == 1 else ">i", body, 16 if body[0] == 1 else 12)[0])


def _group(body: bytes, samples: int) -> tuple[bytes, Ints]:
    header_bytes = 16 if body[0] == 1 else 12  # version 1 adds grouping_type_parameter
    per_sample = _expand(_entries(body, header_bytes, 2))
    per_sample = np.concatenate((per_sample, np.zeros(samples - per_sample.size, np.int64)))
    return body[: header_bytes - 4], per_sample[:samples]


def _one_loop(track: Track) -> Track:
    """Keep the samples that start inside one loop; the last one ends where the loop does."""
    starts = np.cumsum(track.deltas) - track.deltas
    kept = int(np.count_nonzero(starts < track.loop_media))
    if kept == 0:
        raise ClipError("a track of the clip has no sample inside one loop")
    deltas = track.deltas[:kept].copy()
    deltas[-1] = track.loop_media - starts[kept - 1]
    firsts = track.chunk_firsts[track.chunk_firsts < kept]
    keyframes = None if track.keyframes is None else track.keyframes[track.keyframes < kept]
    if keyframes is not None and (keyframes.size == 0 or keyframes[0] != 0):
        raise ClipError("the clip does not start with a keyframe, so its loops would not either")
    return dataclasses.replace(
        track,
        deltas=deltas,
        sizes=track.sizes[:kept],
        offsets=track.offsets[:kept],
        chunk_firsts=firsts,
        chunk_descriptions=track.chunk_descriptions[: firsts.size],
        keyframes=keyframes,
        composition=None if track.composition is None else track.composition[:kept],
        groups=[(header, per_sample[:kept]) for header, per_sample in track.groups],
    )


# --- The looped index -------------------------------------------------------------------------------


@dataclass
class Clip:
    """A clip ready to loop: its ``ftyp``, its ``mdat`` payload and its tracks kept to one loop."""

    ftyp: bytes
    payload: bytes
    moov: Box
    tracks: list[Track]
    movie_timescale: int
    loop_s: Fraction

    @classmethod
    def read(cls, data: bytes, loop_s: Fraction) -> Clip:
        boxes = parse_boxes(data)
        ftyp = next((box for box in boxes if box.kind == b"ftyp"), None)
        moov = next((box for box in boxes if box.kind == b"moov"), None)
        if ftyp is None or moov is None:
            raise ClipError("the clip has no ftyp or no moov box")
        start, end = mdat_span(data)
        mvhd = moov.child(b"mvhd").body
        (movie_timescale,) = struct.unpack_from(">I", mvhd, 20 if mvhd[0] == 1 else 12)
        tracks = [_track(box, start, loop_s) for box in moov.children if box.kind == b"trak"]
        return cls(ftyp.to_bytes(), bytes(data[start:end]), moov, tracks, movie_timescale, loop_s)

    def moov_bytes(self, loops: int, payload_at: int) -> bytes:
        """The ``moov`` of the clip looped ``loops`` times, its payload starting at byte ``payload_at``."""
        movie_loop = self.loop_s * self.movie_timescale
        movie_duration = int(movie_loop * loops)
        tracks = iter(self.tracks)  # in the order of their trak boxes
        children: list[Box] = []
        for box in self.moov.children:
            if box.kind == b"mvhd":
                children.append(Box(b"mvhd", _with_duration(box.body, movie_duration, 24)))
            elif box.kind == b"trak":
                children.append(self._trak(next(tracks), loops, payload_at))
            else:
                children.append(box)
        return Box(b"moov", children=children).to_bytes()

    def _trak(self, track: Track, loops: int, payload_at: int) -> Box:
        media_duration = track.loop_media * loops
        shown = (media_duration - track.media_time) * self.movie_timescale // track.timescale
        children: list[Box] = []
        for box in track.box.children:
            if box.kind == b"tkhd":
                children.append(Box(b"tkhd", _with_duration(box.body, shown, 28)))
            elif box.kind == b"edts":
                children.append(Box(b"edts", children=[Box(b"elst", _elst(shown, track.media_time))]))
            elif box.kind == b"mdia":
                children.append(self._mdia(box, track, loops, payload_at, media_duration))
            else:
                children.append(box)
        return Box(b"trak", children=children)

    def _mdia(self, mdia: Box, track: Track, loops: int, payload_at: int, media_duration: int) -> Box:
        def rebuilt(box: Box) -> Box:
            if box.kind == b"mdhd":
                return Box(b"mdhd", _with_duration(box.body, media_duration, 24))
            if box.kind == b"stbl":
                return Box(b"stbl", children=_sample_tables(box, track, loops, payload_at, len(self.payload)))
            if box.kind in CONTAINERS:
                return Box(box.kind, children=[rebuilt(child) for child in box.children])
            return box

        return rebuilt(mdia)


def _with_duration(body: bytes, duration: int, v1_at: int) -> bytes:
    """mvhd/tkhd/mdhd with a new duration; version 0 (32-bit times) becomes 1 when it does not fit.

    ``v1_at`` is where the duration sits in version 1, after the 64-bit creation and modification
    times: 24 in mvhd and mdhd (after the timescale), 28 in tkhd (after track_id and a reserved word);
    version 0 has it 8 bytes earlier."""
    if body[0] == 0:
        if duration <= U32_MAX:
            return body[: v1_at - 8] + struct.pack(">I", duration) + body[v1_at - 4 :]
        # 32-bit creation and modification times widen to 64; the rest moves on by 12 bytes.
        times = struct.unpack_from(">II", body, 4)
        middle = body[12 : v1_at - 8]
        body = b"\x01" + body[1:4] + struct.pack(">QQ", *times) + middle + bytes(8) + body[v1_at - 4 :]
    return body[:v1_at] + struct.pack(">Q", duration) + body[v1_at + 8 :]


def _elst(shown: int, media_time: int) -> bytes:
    if shown <= U32_MAX:
        return struct.pack(">B3sIIiHH", 0, b"\0\0\0", 1, shown, media_time, 1, 0)
    return struct.pack(">B3sIQqHH", 1, b"\0\0\0", 1, shown, media_time, 1, 0)


def _sample_tables(stbl: Box, track: Track, loops: int, payload_at: int, payload_bytes: int) -> list[Box]:
    n = track.samples
    tiled = np.arange(loops, dtype=np.int64)
    chunk_offsets = (
        track.offsets[track.chunk_firsts][None, :] + (payload_at + tiled * payload_bytes)[:, None]
    ).ravel()
    per_chunk = np.diff(np.append(track.chunk_firsts, n))
    chunk_counts = np.tile(per_chunk, loops)
    descriptions = np.tile(track.chunk_descriptions, loops)
    tables: dict[bytes, bytes] = {
        b"stts": _full_box(0, 0, _runs(np.tile(track.deltas, loops))),
        b"stsz": _stsz(track.sizes, loops),
        b"stsc": _stsc(chunk_counts, descriptions),
    }
    if chunk_offsets[-1] <= U32_MAX:
        chunks = Box(b"stco", _full_box(0, 0, chunk_offsets[:, None]))
    else:
        chunks = Box(b"co64", _full_box(0, 0, chunk_offsets[:, None], ">u8"))
    if track.keyframes is not None:
        tables[b"stss"] = _full_box(
            0, 0, ((track.keyframes + 1)[None, :] + (tiled * n)[:, None]).reshape(-1, 1)
        )
    if track.composition is not None:
        version = stbl.child(b"ctts").body[0]
        tables[b"ctts"] = _full_box(version, 0, _runs(np.tile(track.composition, loops)), ">i4")
    groups = iter(track.groups)
    out: list[Box] = []
    for box in stbl.children:
        if box.kind in (b"stco", b"co64"):
            out.append(chunks)
        elif box.kind == b"sbgp":
            header, per_sample = next(groups)
            runs = _runs(np.tile(per_sample, loops))
            out.append(Box(b"sbgp", header + struct.pack(">I", len(runs)) + runs.astype(">u4").tobytes()))
        elif box.kind in tables:
            out.append(Box(box.kind, tables[box.kind]))
        else:
            out.append(box)
    return out


def _stsz(sizes: Ints, loops: int) -> bytes:
    if sizes.size and np.all(sizes == sizes[0]):
        return struct.pack(">III", 0, int(sizes[0]), sizes.size * loops)
    table = np.tile(sizes, loops).astype(">u4")
    return struct.pack(">III", 0, 0, table.size) + table.tobytes()


def _stsc(chunk_counts: Ints, descriptions: Ints) -> bytes:
    """Runs of chunks with the same samples and description: (first_chunk 1-based, samples, description)."""
    change = np.concatenate(
        ([True], (chunk_counts[1:] != chunk_counts[:-1]) | (descriptions[1:] != descriptions[:-1]))
    )
    firsts = np.flatnonzero(change)
    rows = np.stack([firsts + 1, chunk_counts[firsts], descriptions[firsts]], axis=1)
    return _full_box(0, 0, rows)


def loop(clip: Clip, loops: int, moov_first: bool) -> tuple[bytes, bytes]:
    """What goes before and after the clip's payload written ``loops`` times: ``moov`` first
    (faststart) or after the ``mdat``."""
    mdat_header = box_header(b"mdat", len(clip.payload) * loops)
    if not moov_first:
        head = clip.ftyp + mdat_header
        return head, clip.moov_bytes(loops, len(head))
    # The moov's size depends on where the payload starts only through whether its offsets need 64
    # bits: built again until the start it assumed is where it puts the payload (twice, mostly).
    payload_at = len(clip.ftyp) + len(mdat_header)
    while True:
        moov = clip.moov_bytes(loops, payload_at)
        if len(clip.ftyp) + len(moov) + len(mdat_header) == payload_at:
            return clip.ftyp + moov + mdat_header, b""
        payload_at = len(clip.ftyp) + len(moov) + len(mdat_header)
