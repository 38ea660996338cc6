"""A cell's identity: its key, its stable id and its label, defined once.

The plan's ``Cell`` and the reports' records both use these functions on plain
mappings of cell fields, so a cell run today and its record read next year get
the same id and the same words. HTTP fields (viewers, window, route) are part
of an ``http`` cell's key only, so the ids of other cells never moved.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streambench.harness.common.units import format_bytes

if TYPE_CHECKING:
    from streambench.harness.results.record import Record

# The reference strategy of a setting (one of strategies.registry.REFERENCES): the machine's own pace,
# which --repeat auto ranks the best against and compare reads the machine's drift from.
REFERENCE = "cat"

# The fields that make a cell, with the value an older record that lacks one is given.
CELL_DEFAULTS: dict[str, Any] = {
    "strategy": "?",
    "workload": "?",
    "size_bytes": 0,
    "sink": "?",
    "chunk_bytes": 0,
    "cache": "warm",
    "dest": "-",
    "transform": "none",
    "consumer_rate_bps": 0,
    "high_water_mark_bytes": 0,
    "seed": 0,
    # http cells only
    "clients": 0,
    "view_bytes": 0,
    "http_route": "file",
    # the runtime a cell names ("": its strategy's default; part of the key only when named).
    # Records keep it under this name: their ``runtime`` is what ran them.
    "cell_runtime": "",
}
_HTTP_FIELDS = ("clients", "view_bytes")
# A cell id names folders (profiles/<cell-id>/): only these characters of a
# strategy spec are kept in it, so a tag like "x/../.." can never leave the run.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:=+-]")
ID_NAME_MAX = 60


def cell_key(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that identify a cell, as ``Cell.key()`` has always written them."""
    key = {k: fields[k] for k in CELL_DEFAULTS if k not in (*_HTTP_FIELDS, "http_route", "cell_runtime")}
    if fields["sink"] in ("http", "browser"):
        key.update({k: fields[k] for k in _HTTP_FIELDS})
    if fields.get("http_route", "file") != "file":
        key["http_route"] = fields["http_route"]
    if fields.get("cell_runtime"):
        key["runtime"] = fields["cell_runtime"]
    return key


def cell_id(key: Mapping[str, Any]) -> str:
    """Stable across runs and machines: the same cell always gets the same id."""
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()
    name = _ID_UNSAFE.sub("_", str(key["strategy"]))[:ID_NAME_MAX].lstrip(".") or "_"
    return f"{name}-{key['workload']}-{key['sink']}-{digest[:8]}"


def cell_label(fields: Mapping[str, Any]) -> str:
    """How a cell is named in terminals and pages."""
    dest = f" ({fields['dest']})" if fields["sink"] == "file" else ""
    rate = f" @{format_bytes(fields['consumer_rate_bps'])}/s" if fields["consumer_rate_bps"] else ""
    transform = f" |{fields['transform']}" if fields["transform"] != "none" else ""
    if fields["sink"] == "http":
        rate += f" x{fields.get('clients', 0)} viewers"
    elif fields["sink"] == "browser":
        link = fields["consumer_rate_bps"]
        rate = f" @{link * 8 / 1e6:g}Mbit/s" if link else " unthrottled"
        rate += f" x{fields.get('clients', 0)} pages"
        if fields.get("http_route", "file") != "file":
            rate += f" ({fields['http_route']})"
    runtime = f" [{fields['cell_runtime']}]" if fields.get("cell_runtime") else ""
    return (
        f"{fields['strategy']}{runtime}{transform} {fields['workload']}:{format_bytes(fields['size_bytes'])} "
        f"-> {fields['sink']}{dest}{rate} chunk {format_bytes(fields['chunk_bytes'])} {fields['cache']}"
    )


def setting_label(fields: Mapping[str, Any]) -> str:
    """What the strategies of one setting share, in the words of the report: workload, size, sink
    and the rest (``video:1GiB -> null warm``), never the raw key."""
    dest = f" ({fields['dest']})" if fields["sink"] == "file" else ""
    rate = f" @{format_bytes(fields['consumer_rate_bps'])}/s" if fields["consumer_rate_bps"] else ""
    transform = f" |{fields['transform']}" if fields["transform"] != "none" else ""
    hwm = f" hwm {format_bytes(fields['high_water_mark_bytes'])}" if fields["high_water_mark_bytes"] else ""
    # Viewers or pages and their route tell two settings of one sink apart (16 viewers, 128 viewers).
    viewers = ""
    if fields["sink"] in ("http", "browser") and fields.get("clients"):
        viewers = f" x{int(fields['clients'])} {'pages' if fields['sink'] == 'browser' else 'viewers'}"
        if fields.get("view_bytes"):
            viewers += f" of {format_bytes(fields['view_bytes'])}"
        if fields.get("http_route", "file") != "file":
            viewers += f" ({fields['http_route']})"
    workload = f"{fields['workload']}:{format_bytes(fields['size_bytes'])}"
    return f"{workload}{transform} -> {fields['sink']}{dest}{rate}{viewers} {fields['cache']}{hwm}"


def record_cell_fields(record: Record) -> dict[str, Any]:
    """A record's cell fields, as the plan's ``Cell.fields()`` names them."""
    return {name: getattr(record, name) for name in CELL_DEFAULTS}
