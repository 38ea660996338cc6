"""Claims over records, and their verdicts: ``holds``, ``fails`` or ``inconclusive``.

A claim is declared data (a scenario's ``[[claim]]`` table)::

    says     = "Streams use less memory than readFile"   # the sentence being tested
    metric   = "peak_rss_growth_bytes"                   # see METRICS
    subject  = {strategy = "pipe"}                       # which records (field = value)
    expect   = "<= 0.1x"                                 # the vocabulary below
    baseline = {strategy = "whole-file"}                 # for ratio claims

``expect`` forms:
- ``"O(n)"`` / ``"O(1)"``: the metric's log-log slope against ``size_bytes``
  (medians per size; needs two sizes at least 4x apart);
- ``">= 0.9x"`` (with ``baseline``): subject / baseline, per size, by the one decision rule
  (:mod:`harness.common.decision`): holds when the ratio's whole 95% interval agrees, fails when
  none of it does (4 runs a side at least give an interval);
- ``"within 2x"`` (with ``baseline``): the same, two-sided: every ratio between 1/2 and 2
  (e.g. Node's pipe against Python's pipe on the same sink: runtimes compared);
- ``"<= 2x high_water_mark_bytes"``: against a field of the subject's own records;
- ``"<= 16MiB"``, ``"> 0"``: against a constant (sizes take units);
- ``"outcome oom"``: every subject record ended that way; ``"verified"``: every
  subject record's bytes were verified byte-exact;
- ``"knee <= 1MiB"``: the smallest chunk size reaching 95% of the best throughput.
Noise makes a claim ``inconclusive``, never quietly ``holds``.
"""

from __future__ import annotations

import math
import operator
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streambench.harness.common.decision import change
from streambench.harness.common.errors import UsageError
from streambench.harness.common.intervals import median_interval
from streambench.harness.common.units import parse_size
from streambench.harness.results.record import Record
from streambench.reports.scaling import complexity, loglog_fit
from streambench.reports.work import COUNTERS, per_mib

VERDICTS = ("holds", "fails", "inconclusive")


def _throughput(r: Record) -> float | None:
    wall = r.wall_s
    return r.bytes_moved / wall if wall else None


def _growth(r: Record, peak: str, base: str) -> float | None:
    high, low = getattr(r, peak), getattr(r, base)
    return None if high is None or low is None else float(high - low)


def _cpu(r: Record) -> float | None:
    if r.strategy_user_s is None:
        return None
    return float(r.strategy_user_s + (r.strategy_sys_s or 0.0))


def _work(name: str) -> Callable[[Record], float | None]:
    """A work counter per MiB moved, as ``compare`` weighs it."""
    return lambda r: per_mib(r.io, r.bytes_moved, name)


def _note(name: str) -> Callable[[Record], float | None]:
    def get(r: Record) -> float | None:
        value = r.strategy_notes.get(name)
        return None if value is None else float(value)

    return get


def _profile(name: str) -> Callable[[Record], float | None]:
    def get(r: Record) -> float | None:
        value = r.profile.get(name)
        return None if value is None else float(value)

    return get


def _sub(record: str, name: str) -> Callable[[Record], float | None]:
    """A figure of a sub-record (``http``: the viewers', ``browser``: the pages')."""

    def get(r: Record) -> float | None:
        value = getattr(r, record).get(name)
        return None if value is None else float(value)

    return get


def _browser(name: str, complete: str | None = None) -> Callable[[Record], float | None]:
    """A browser record's worst-page figure; infinite when a page never got there (never played,
    seek not honoured): "plays within 1 s" must fail for a page that never played, not go unjudged."""

    def get(r: Record) -> float | None:
        browser = r.browser
        if not browser.get("pages"):
            return None
        value = browser.get(name)
        if value is None or (complete is not None and browser.get(complete) != r.clients):
            return math.inf
        return float(value)

    return get


METRICS: dict[str, Callable[[Record], float | None]] = {
    "throughput_bps": _throughput,
    "wall_s": lambda r: r.wall_s,
    "cpu_s": _cpu,
    "cpu_s_per_gb": lambda r: (c / (r.bytes_moved / 1e9)) if (c := _cpu(r)) and r.bytes_moved else None,
    "sys_s": lambda r: r.strategy_sys_s,
    "peak_rss_bytes": lambda r: r.peak_rss_bytes,
    "peak_rss_growth_bytes": lambda r: _growth(r, "peak_rss_bytes", "baseline_rss_bytes"),
    "peak_rss_anon_growth_bytes": lambda r: _growth(r, "peak_rss_anon_bytes", "baseline_rss_anon_bytes"),
    "peak_rss_file_bytes": lambda r: r.peak_rss_file_bytes,
    "max_buffered_bytes": lambda r: r.max_buffered_bytes,
    "pauses": lambda r: r.pauses,
    "ttfb_s": lambda r: r.ttfb_s,
    "sink_last_byte_s": lambda r: r.sink_last_byte_s,
    "rchar": lambda r: r.io.get("rchar"),
    "wchar": lambda r: r.io.get("wchar"),
    "syscr": lambda r: r.io.get("syscr"),
    "syscw": lambda r: r.io.get("syscw"),
    # per MiB moved, as compare weighs them (reports.work)
    **{name: _work(name) for name in COUNTERS},
    "bytes_received": lambda r: r.bytes_received,
    "memray_peak_heap_bytes": _profile("peak_heap_bytes"),
    "loop_lag_max_s": _note("loop_lag_max_s"),
    "loop_lag_p99_s": _note("loop_lag_p99_s"),
    "lines_kept": _note("lines_kept"),
    # JS cells: the runtime's own defaults, read back (Node 22 raised the writable one to 64 KiB)
    "default_writable_high_water_mark_bytes": _note("default_writable_high_water_mark_bytes"),
    "default_readable_high_water_mark_bytes": _note("default_readable_high_water_mark_bytes"),
    "writable_high_water_mark_bytes": _note("writable_high_water_mark_bytes"),
    # http cells: the server's memory is peak_rss_*; these are the clients' view
    "per_client_bytes": _sub("http", "per_client_bytes"),
    "ttfb_p50_s": _sub("http", "ttfb_p50_s"),
    "ttfb_p99_s": _sub("http", "ttfb_p99_s"),
    "failed_clients": _sub("http", "failed_clients"),
    "aggregate_bps": _sub("http", "aggregate_bps"),
    # browser cells: the worst page of the run (infinite: it never got there)
    "metadata_s": _browser("metadata_max_s"),
    "first_frame_s": _browser("first_frame_max_s", complete="played_pages"),
    "seek_s": _browser("seek_max_s", complete="seek_honoured_pages"),
    "seek_honoured_share": _sub("browser", "seek_honoured_share"),
    "share_before_first_frame": _browser("share_before_first_frame_max", complete="played_pages"),
    "stalls": _sub("browser", "stalls_max"),
}

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_RATIO_RE = re.compile(r"^(>=|<=|>|<)\s*([\d.]+)\s*x$")
_WITHIN_RE = re.compile(r"^within\s+([\d.]+)\s*x$")
_FIELD_RE = re.compile(r"^(>=|<=|>|<)\s*([\d.]+)\s*x\s+([a-z_.]+)$")
_CONST_RE = re.compile(r"^(>=|<=|>|<)\s*(\S+)$")
_KNEE_RE = re.compile(r"^knee\s*(>=|<=|>|<)\s*(\S+)$")


@dataclass(frozen=True)
class Claim:
    says: str
    metric: str
    subject: dict[str, Any]
    expect: str
    baseline: dict[str, Any] | None = None

    def validate(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; valid: {', '.join(METRICS)}")
        e = self.expect.strip()
        known = (
            e in ("O(n)", "O(1)", "verified")
            or e.startswith("outcome ")
            or _KNEE_RE.match(e)
            or _FIELD_RE.match(e)
            or ((_RATIO_RE.match(e) or _WITHIN_RE.match(e)) and self.baseline is not None)
            or (_CONST_RE.match(e) and not _RATIO_RE.match(e))
        )
        if not known:
            raise ValueError(f"cannot read expect {self.expect!r} (see reports/claims.py for the forms)")


def parse_claims(raws: list[dict[str, Any]], where: str) -> list[Claim]:
    """Claims from a scenario's ``[[claim]]`` tables; a bad one is one clear line."""
    claims = []
    for raw in raws:
        try:
            claim = Claim(
                says=raw["says"], metric=raw["metric"], subject=dict(raw["subject"]),
                expect=str(raw["expect"]), baseline=raw.get("baseline"),
            )  # fmt: skip
            claim.validate()
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"{where}: bad claim {raw.get('says', raw)!r}: {exc}") from None
        claims.append(claim)
    return claims


@dataclass
class Verdict:
    claim: Claim
    verdict: str
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)
    # Which runtime the claim is about: "python", "node", or "node vs python" for a comparison.
    about: str = ""


def _field(r: Record, key: str) -> Any:
    """A record field; ``http.server_requests`` reaches into a sub-record."""
    value: Any = r
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else getattr(value, part, None)
    return value


def _matches(r: Record, selector: Mapping[str, Any]) -> bool:
    return all(_field(r, k) == v for k, v in selector.items())


def expects(claim: Claim, record: Record) -> bool:
    """Whether the claim expects this record's outcome (``outcome oom``: the run's answer, not a failure)."""
    expect = claim.expect.strip()
    return (
        expect.startswith("outcome ")
        and expect.split(None, 1)[1] == record.outcome
        and _matches(record, claim.subject)
    )


def _values(records: Sequence[Record], claim: Claim, selector: Mapping[str, Any]) -> dict[int, list[float]]:
    """Metric values of the matching measured records, grouped by workload size."""
    get = METRICS[claim.metric]
    out: dict[int, list[float]] = {}
    for r in records:
        if r.warmup or not _matches(r, selector) or r.outcome != "ok":
            continue
        if (r.profiler is not None) != claim.metric.startswith("memray"):
            continue  # timings never come from profiled passes; memray figures only do
        value = get(r)
        if value is not None:
            out.setdefault(int(r.size_bytes), []).append(float(value))
    return out


def _fmt(value: float, metric: str = "") -> str:
    """A figure in its unit: bytes as KiB/MiB, rates as GB/s, the rest as plain numbers."""
    if math.isinf(value):
        return "never"
    if metric.endswith("_bytes") or metric in ("rchar", "wchar"):
        if abs(value) >= 1 << 20:
            return f"{value / 2**20:.1f} MiB"
        return f"{value / 1024:.1f} KiB"
    if metric.endswith("_bps"):
        return f"{value / 1e9:.3g} GB/s"
    return f"{value:.4g}"


def _combine(parts: list[str]) -> str:
    if "fails" in parts:
        return "fails"
    if "inconclusive" in parts or not parts:
        return "inconclusive"
    return "holds"


def _runtimes(records: Sequence[Record], selector: Mapping[str, Any]) -> list[str]:
    """The runtimes (with their versions) of the records a selector matches: "node 20.20.2", "bun 1.4.5"."""
    named = {(str(r.runtime or "python"), r.runtime_version) for r in records if _matches(r, selector)}
    return sorted(f"{name} {version}" if version else name for name, version in named)


# What tells a claim's cells apart in a sentence ("clients=1"), in this order.
_CELL_FIELDS = ("strategy", "workload", "size_bytes", "sink", "clients", "consumer_rate_bps",
                "chunk_bytes", "high_water_mark_bytes", "http_route", "cell_runtime")  # fmt: skip


def split_cells(claim: Claim, records: Sequence[Record]) -> dict[str, list[str]] | None:
    """Whether a claim that pools several cells is split: each cell, judged alone by the same rule,
    is decided, some hold and as many or more fail (or the other way round), so no side has most of
    the cells. Then the pooled median sits between the sides whatever more runs say, and the claim
    stays inconclusive for good: ``{"holds": [...], "fails": [...]}`` (the cells, by what tells them
    apart), else None. Only claims against a bound pool cells (a ratio is judged size by size)."""
    expect = claim.expect.strip()
    if claim.baseline is not None or expect in ("verified", "O(n)", "O(1)"):
        return None
    if expect.startswith(("outcome ", "knee")):
        return None
    by_cell: dict[str, list[Record]] = {}
    for r in records:
        if not r.warmup and r.profiler is None and r.outcome == "ok" and _matches(r, claim.subject):
            by_cell.setdefault(r.cell_id, []).append(r)
    if len(by_cell) < 2:
        return None
    sides: dict[str, list[str]] = {"holds": [], "fails": [], "inconclusive": []}
    for cell_id, cell_records in by_cell.items():
        sides[_evaluate(claim, cell_records).verdict].append(cell_id)
    if sides["inconclusive"] or not sides["holds"] or not sides["fails"]:
        return None
    if 2 * max(len(sides["holds"]), len(sides["fails"])) > len(by_cell):
        return None  # a majority: more runs may move the pooled median to its side
    differing = [f for f in _CELL_FIELDS if len({getattr(rs[0], f) for rs in by_cell.values()}) > 1]

    def label(cell_id: str) -> str:
        first = by_cell[cell_id][0]
        return " ".join(f"{f}={getattr(first, f)}" for f in differing) or cell_id

    return {"holds": sorted(map(label, sides["holds"])), "fails": sorted(map(label, sides["fails"]))}


def cannot_be_decided(claim: Claim, records: Sequence[Record], runs_to_come: int) -> bool:
    """Whether a claim against a constant bound stays inconclusive even if all of ``runs_to_come``
    more runs land on one side: pooled with what is measured, all of them within the bound still
    leave the median's interval across it, and all of them past it too. Then more rounds only
    cost time (``browser-video``'s "a seek is honoured" for whole-file at 1 GiB: some runs seek,
    some never play). Other claim forms: False (they are judged otherwise)."""
    expect = claim.expect.strip()
    m = _CONST_RE.match(expect)
    if claim.baseline is not None or m is None or _RATIO_RE.match(expect):
        return False
    flat = [v for vs in _values(records, claim, claim.subject).values() for v in vs]
    if not flat:
        return False
    op, bound = m.group(1), _bound(m.group(2))
    # A value that meets the bound, and one that misses it (a "never" is infinite already).
    nudge = abs(bound) * 1e-9 + 1e-12
    within = {"<=": bound, "<": bound - nudge, ">=": bound, ">": bound + nudge}[op]
    past = math.inf if op in ("<=", "<") else -math.inf
    can_hold = _const_decision(flat + [within] * runs_to_come, op, bound)[0] == "holds"
    can_fail = _const_decision(flat + [past] * runs_to_come, op, bound)[0] == "fails"
    return not can_hold and not can_fail


def evaluate(claim: Claim, records: Sequence[Record]) -> Verdict:
    """The claim's verdict on these records, and which runtime it is about."""
    verdict = _evaluate(claim, records)
    if verdict.verdict == "inconclusive" and (split := split_cells(claim, records)) is not None:
        verdict.detail += (
            f"; split: judged alone, {', '.join(split['holds'])} holds and {', '.join(split['fails'])} "
            "fails, so more runs cannot decide it"
        )
        verdict.numbers["split"] = split
    about = "/".join(_runtimes(records, claim.subject))
    if claim.baseline is not None:
        base = "/".join(_runtimes(records, claim.baseline))
        about = about if base == about else f"{about} vs {base}"
    verdict.about = about
    return verdict


def _evaluate(claim: Claim, records: Sequence[Record]) -> Verdict:
    claim.validate()
    expect = claim.expect.strip()
    if expect == "verified":
        got = [bool(r.verified) for r in records if _matches(r, claim.subject) and not r.profiler]
        if not got:
            return Verdict(claim, "inconclusive", "no records match the subject")
        verdict = "holds" if all(got) else "fails"
        # A browser checks what it plays by decoding it, not by a checksum.
        browser = all(r.sink == "browser" for r in records if _matches(r, claim.subject))
        how = "decoded by the browser with no media error" if browser else "verified byte-exact"
        return Verdict(claim, verdict, f"{sum(got)} of {len(got)} runs {how}", {"verified": sum(got)})
    if expect.startswith("outcome "):
        wanted = expect.split(None, 1)[1]
        outcomes = [str(r.outcome) for r in records if _matches(r, claim.subject) and not r.profiler]
        if not outcomes:
            return Verdict(claim, "inconclusive", "no records match the subject")
        verdict = "holds" if all(o == wanted for o in outcomes) else "fails"
        return Verdict(claim, verdict, f"outcomes: {', '.join(outcomes)}", {"outcomes": outcomes})
    if expect.startswith("knee"):
        return _knee(claim, records)
    values = _values(records, claim, claim.subject)
    if not values:
        return Verdict(claim, "inconclusive", "no successful measured records match the subject")
    if expect in ("O(n)", "O(1)"):
        return _scaling(claim, values)
    if claim.baseline is not None and (m := _RATIO_RE.match(expect)):
        op, factor = m.group(1), float(m.group(2))
        accepted = (factor, math.inf) if op in (">=", ">") else (0.0, factor)
        return _ratio(claim, values, _values(records, claim, claim.baseline), accepted)
    if claim.baseline is not None and (m := _WITHIN_RE.match(expect)):
        factor = float(m.group(1))
        return _ratio(claim, values, _values(records, claim, claim.baseline), (1 / factor, factor))
    if m := _FIELD_RE.match(expect):
        return _field_bound(claim, records, m.group(1), float(m.group(2)), m.group(3))
    m = _CONST_RE.match(expect)
    assert m is not None
    return _const_bound(claim, values, m.group(1), _bound(m.group(2)))


def _bound(text: str) -> float:
    """A constant bound as written: sizes take units (``16MiB``), the rest are plain numbers."""
    return float(parse_size(text)) if any(c.isalpha() for c in text) else float(text)


def undecided_cells(
    claims: Sequence[Claim], records: Sequence[Record], rounds_to_come: int | None = None
) -> tuple[set[str], list[str]]:
    """The cells whose measured records feed a claim that is still inconclusive, and those claims.

    A scenario that stops deciding early (``min_repeat``) gives only these cells another round; a
    claim no record matches yet holds no cell back (more rounds of other cells cannot decide it). Only
    runs that ended ok feed one: an undecided claim is never an outcome claim (those are decided by the
    first record), and every figure a claim reads comes from an ok run, so a cell killed at the cap as
    expected (readfile-vs-stream's readFile above the cap) is not run again for a throughput claim.
    A split claim (:func:`split_cells`) holds no cell back, nor, given ``rounds_to_come``, one that
    :func:`cannot_be_decided` by that many more rounds of its cells; both stay among the open claims."""
    measured = [r for r in records if not r.warmup and not r.profiler]
    cells: set[str] = set()
    open_claims: list[str] = []
    for claim in claims:
        verdict = evaluate(claim, measured)
        if verdict.verdict in ("holds", "fails"):
            continue
        if "split" in verdict.numbers:
            continue
        feeding = {
            r.cell_id
            for r in measured
            if r.outcome == "ok"
            and (_matches(r, claim.subject) or (claim.baseline is not None and _matches(r, claim.baseline)))
        }
        if not feeding:
            continue
        open_claims.append(claim.says)
        if rounds_to_come is not None and cannot_be_decided(claim, measured, len(feeding) * rounds_to_come):
            continue
        cells |= feeding
    return cells, open_claims


def _scaling(claim: Claim, values: dict[int, list[float]]) -> Verdict:
    sizes = sorted(values)
    if len(sizes) < 2 or sizes[-1] < 4 * sizes[0]:
        return Verdict(claim, "inconclusive", "needs two sizes at least 4x apart", {"sizes": sizes})
    # A floor keeps log() finite: one page for bytes (nothing measurable below it),
    # a microsecond for times and other figures.
    floor = 4096.0 if claim.metric.endswith("_bytes") else 1e-6
    slope, _ = loglog_fit(sizes, [statistics.median(values[s]) for s in sizes], floor)
    # The report's memory-vs-size chart reads the same slope with the same thresholds.
    kind = complexity(slope)
    verdict = "holds" if kind == claim.expect else "inconclusive" if kind == "between" else "fails"
    medians = {s: statistics.median(values[s]) for s in sizes}
    detail = f"log-log slope {slope:.2f} over sizes " + ", ".join(
        f"{s / 2**20:g} MiB -> {_fmt(v, claim.metric)}" for s, v in medians.items()
    )
    return Verdict(claim, verdict, detail, {"slope": slope, "medians": medians})


def _ratio(
    claim: Claim,
    subject: dict[int, list[float]],
    baseline: dict[int, list[float]],
    accepted: tuple[float, float],
) -> Verdict:
    """Subject over baseline, per size, by the one decision rule's interval (harness.common.decision):
    holds when the whole 95% interval of the ratio lies in the ``accepted`` range, fails when none of
    it does (an exact ratio, from runs without spread, is its own interval), else inconclusive."""
    parts: list[str] = []
    details: list[str] = []
    numbers: dict[str, Any] = {}
    for size in sorted(subject):
        if size not in baseline or not baseline[size]:
            continue
        ch = change(baseline[size], subject[size])
        if math.isnan(ch.ratio):
            continue
        if ch.bounded:
            inside = accepted[0] <= ch.low and ch.high <= accepted[1]
            apart = ch.high < accepted[0] or ch.low > accepted[1]
            verdict = "holds" if inside else "fails" if apart else "inconclusive"
            interval = f"interval {ch.low:.3g}..{ch.high:.3g} ({ch.coverage:.1%})"
        else:
            verdict = "inconclusive"
            interval = f"no 95% interval from {ch.n_cand} and {ch.n_base} runs"
        parts.append(verdict)
        details.append(f"{size / 2**20:g} MiB: ratio {ch.ratio:.3g}, {interval}")
        numbers[str(size)] = {
            "ratio": ch.ratio,
            "low": ch.low if ch.bounded else None,
            "high": ch.high if ch.bounded else None,
            "coverage": ch.coverage,
            "runs": [ch.n_cand, ch.n_base],
        }
    if not parts:
        return Verdict(claim, "inconclusive", "no size has both subject and baseline records")
    return Verdict(claim, _combine(parts), "; ".join(details), numbers)


def _const_decision(flat: list[float], op: str, bound: float) -> tuple[str, float, float]:
    """Pooled values against a constant bound: the verdict and the interval that decided it.

    The median's order-statistic interval decides, as in the report and --repeat auto: holds when
    all of it is within the bound, fails when none of it is. Below 6 runs it is the range."""
    compare = _OPS[op]
    interval = median_interval(flat)
    low, high = (min(flat), max(flat)) if interval.n < 2 else (interval.low, interval.high)
    if compare(low, bound) and compare(high, bound):
        return "holds", low, high
    if not compare(low, bound) and not compare(high, bound):
        return "fails", low, high
    return "inconclusive", low, high


def _const_bound(claim: Claim, values: dict[int, list[float]], op: str, bound: float) -> Verdict:
    flat = [v for vs in values.values() for v in vs]
    median = statistics.median(flat)
    interval = median_interval(flat)
    verdict, low, high = _const_decision(flat, op, bound)
    m = claim.metric
    spread = f"{_fmt(min(flat), m)}..{_fmt(max(flat), m)}"
    detail = (
        f"median {_fmt(median, m)}, range {spread}, interval {_fmt(low, m)}..{_fmt(high, m)} "
        f"({interval.describe()}) against {op} {_fmt(bound, m)}"
    )
    return Verdict(
        claim, verdict, detail, {"median": median, "min": min(flat), "max": max(flat), "bound": bound}
    )


def _field_bound(claim: Claim, records: Sequence[Record], op: str, factor: float, field_name: str) -> Verdict:
    compare = _OPS[op]
    get = METRICS[claim.metric]
    pairs: list[tuple[float, float]] = []
    memray = claim.metric.startswith("memray")
    for r in records:
        if r.warmup or not _matches(r, claim.subject) or r.outcome != "ok":
            continue
        if (r.profiler is not None) != memray:
            continue
        value, ref = get(r), _field(r, field_name)
        if value is None or not ref:
            ref = r.chunk_bytes if field_name == "high_water_mark_bytes" else ref  # 0: one chunk
        if value is not None and ref:
            pairs.append((float(value), factor * float(ref)))
    if not pairs:
        return Verdict(claim, "inconclusive", f"no records with both {claim.metric} and {field_name}")
    ok = [compare(v, b) for v, b in pairs]
    median_ratio = statistics.median(v / b for v, b in pairs)
    verdict = "holds" if all(ok) else "fails" if not compare(median_ratio, 1.0) else "inconclusive"
    detail = (
        f"{sum(ok)}/{len(ok)} runs within; median {claim.metric} = {median_ratio * factor:.3g}x {field_name}"
    )
    return Verdict(claim, verdict, detail, {"within": sum(ok), "runs": len(ok), "median_ratio": median_ratio})


def _knee(claim: Claim, records: Sequence[Record]) -> Verdict:
    m = _KNEE_RE.match(claim.expect.strip())
    assert m is not None
    by_chunk: dict[int, list[float]] = {}
    for r in records:
        if r.warmup or r.profiler or not _matches(r, claim.subject) or r.outcome != "ok":
            continue
        value = _throughput(r)
        if value is not None:
            by_chunk.setdefault(int(r.chunk_bytes), []).append(value)
    if len(by_chunk) < 3:
        return Verdict(claim, "inconclusive", "needs at least three chunk sizes")
    medians = {c: statistics.median(v) for c, v in sorted(by_chunk.items())}
    best = max(medians.values())
    knee = min(c for c, v in medians.items() if v >= 0.95 * best)
    bound = parse_size(m.group(2))
    verdict = "holds" if _OPS[m.group(1)](knee, bound) else "fails"
    detail = f"knee at {knee / 1024:g} KiB (95% of best {best / 1e9:.2f} GB/s); " + ", ".join(
        f"{c / 1024:g}K {v / 1e9:.2f}" for c, v in medians.items()
    )
    return Verdict(claim, verdict, detail, {"knee_bytes": knee, "medians_bps": medians})


# How a verdict reads in a sentence (scenario pages): the reader's words first, the statistic after.
_VERDICT_WORDS = {"holds": "Holds", "fails": "Does not hold", "inconclusive": "Cannot tell yet"}
_METRIC_WORDS = {
    "throughput_bps": "throughput", "cpu_s_per_gb": "CPU per GB", "wall_s": "time",
    "peak_rss_growth_bytes": "peak memory growth", "peak_rss_bytes": "peak memory",
    "max_buffered_bytes": "bytes queued at once", "ttfb_p99_s": "TTFB at p99",
    "default_writable_high_water_mark_bytes": "default writable highWaterMark read back",
}  # fmt: skip


def sentence(v: Verdict) -> str:
    """The verdict as one plain sentence with units: what the claim says, whether it holds, and the
    measured figure that decided it (the full statistic stays in ``detail``)."""
    head = f"{_VERDICT_WORDS.get(v.verdict, v.verdict)}: {v.claim.says.rstrip('.')}."
    what = _METRIC_WORDS.get(v.claim.metric, v.claim.metric.replace("_", " "))
    ratios = [
        (int(k), n) for k, n in v.numbers.items() if k.isdigit() and isinstance(n, dict) and "ratio" in n
    ]
    if ratios:
        parts = []
        for size, n in sorted(ratios):
            interval = (
                f" (95% interval {n['low']:.2f}x to {n['high']:.2f}x)"
                if n.get("low") is not None else " (too few runs for an interval)"
            )  # fmt: skip
            parts.append(f"{n['ratio']:.2f}x at {size / 2**20:g} MiB{interval}")
        return f"{head} Its {what} was {', '.join(parts)} the baseline's; the claim asks {v.claim.expect}."
    if "median" in v.numbers and "bound" in v.numbers:
        m = v.claim.metric
        runs = f"runs {_fmt(v.numbers['min'], m)} to {_fmt(v.numbers['max'], m)}"
        return (
            f"{head} The median {what} was {_fmt(v.numbers['median'], m)} ({runs}) against {v.claim.expect}."
        )
    return f"{head} Measured: {v.detail}."
