"""Matrix specs: the axes of a run as plain data, from flags, a TOML file, or run.json.

A spec is a mapping with the same keys as the ``run`` flags (``strategy``,
``workload``, ``sink``, ``chunk_size``, ``cache``, ``transform``,
``consumer_rate``: lists or comma strings; ``dest``, ``high_water_mark``,
``seed``, ``repeat``, ``warmup``, ``timeout``, ``memory_limit``: scalars) and an
optional list of ``[[group]]`` tables, fio-style: each group overrides axes of
the top level and expands on its own; the matrix is the union of the groups.
Flags override the file, in every group. The merged spec is stored in
``run.json``, so ``--resume`` rebuilds exactly the same matrix.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from streambench.harness import runtimes
from streambench.harness.common.errors import UsageError
from streambench.harness.common.units import parse_count, parse_rate, parse_seconds, parse_size
from streambench.harness.plan.config import (
    CACHE_STATES,
    DEST_MODES,
    HTTP_ROUTES,
    SINKS,
    TRANSFORM_NAMES,
    EndpointSettings,
    MatrixConfig,
    Placement,
)
from streambench.harness.plan.user_code import check_user_module
from streambench.strategies.registry import Registry
from streambench.strategies.user_module import is_user_module
from streambench.workloads import user_file
from streambench.workloads.cache import WorkloadSpec
from streambench.workloads.registry import GENERATORS, kinds

LIST_KEYS = ("strategy", "workload", "sink", "chunk_size", "cache", "transform", "consumer_rate", "clients",
             "link_rate", "runtime")  # fmt: skip
GROUP_SCALAR_KEYS = ("dest", "high_water_mark", "seed", "view_size", "http_route")
RUN_SCALAR_KEYS = (
    "repeat",
    "warmup",
    "timeout",
    "memory_limit",
    "disk_read_rate",
    "pin",
    "budget",
    "path",
    "expect",
    "port",
    "ready_timeout",
)
GROUP_KEYS = (*LIST_KEYS, *GROUP_SCALAR_KEYS, "name")
TOP_KEYS = (*LIST_KEYS, *GROUP_SCALAR_KEYS, *RUN_SCALAR_KEYS, "group", "description")

DEFAULTS: dict[str, Any] = {
    "sink": ["null", "file"],
    "chunk_size": ["64KiB"],
    "cache": ["warm"],
    "transform": ["none"],
    "consumer_rate": ["unlimited"],
    "dest": "existing",
    "high_water_mark": "0",
    "clients": ["1"],
    "view_size": "0",
    "http_route": "file",
    "seed": 0,
    "repeat": 3,
    "warmup": 1,
}
# The product of a matrix's axes beyond this is a typo, not a benchmark: it is
# refused before a single cell is built (350,000 cells took 99 s to list).
MAX_CELLS = 20_000
MAX_SEED = 2**63 - 1


def _normalise(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "link_rate" in raw or "link-rate" in raw:
        # A browser page's link rate is the consumer rate of its cells: one axis, two names.
        if "consumer_rate" in raw or "consumer-rate" in raw:
            raise UsageError(f"{where}: give link_rate or consumer_rate, not both (they are one axis)")
        raw = {("consumer_rate" if k in ("link_rate", "link-rate") else k): v for k, v in raw.items()}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in allowed:
            raise UsageError(f"{where}: unknown key {key!r}; valid keys: {', '.join(allowed)}")
        if name in LIST_KEYS:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, list) and all(
                isinstance(v, str | int) and not isinstance(v, bool) for v in value
            ):
                value = [str(v) for v in value]
            else:
                raise UsageError(f"{where}: {key!r} must be a list of strings or a comma string")
            if not value:
                # An empty list would silently mean "the default" (every strategy).
                raise UsageError(f"{where}: {key!r} is empty; give at least one value or leave it out")
            for v in value:
                if not v.isprintable():
                    raise UsageError(f"{where}: {key!r} has a value with control characters: {v!r}")
        out[name] = value
    return out


def load_spec_file(path: Path) -> dict[str, Any]:
    """A TOML matrix file as a normalised spec; any problem is one clear line."""
    try:
        # A BOM (an editor's UTF-8 signature) is not TOML: read past it.
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise UsageError(f"matrix file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read matrix file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: malformed TOML: {exc}") from None
    return normalise_spec(raw, str(path))


def normalise_spec(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    spec = _normalise({k: v for k, v in raw.items() if k != "group"}, TOP_KEYS, where)
    groups = raw.get("group", [])
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise UsageError(f"{where}: 'group' must be an array of tables ([[group]])")
    if "group" in raw and not groups:
        raise UsageError(f"{where}: 'group' is empty; give [[group]] tables or leave it out")
    if groups:
        spec["group"] = [_normalise(g, GROUP_KEYS, f"{where} group {i + 1}") for i, g in enumerate(groups)]
    return spec


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` wins key by key; its axes also win inside every group of ``base``."""
    merged = {**base, **{k: v for k, v in override.items() if k != "group"}}
    if "group" in override:
        merged["group"] = override["group"]
    if "group" in merged:
        axis_overrides = {k: v for k, v in override.items() if k in GROUP_KEYS and k != "name"}
        merged["group"] = [{**g, **axis_overrides} for g in merged["group"]]
    return merged


def _choices(kind: str, values: list[str], valid: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    for value in values:
        if value not in valid:
            raise UsageError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    return tuple(values)


def parse_workload(text: str, seed: int) -> WorkloadSpec:
    """``KIND:SIZE`` or ``KIND:SIZE:OPTION`` (``mp4:1GiB:moov=end``: the option names a variant kind);
    ``file:PATH``: the user's own file, as it is now (read, never written)."""
    if user_file.is_user_file(text):
        _, st = user_file.checked_path(text)
        return WorkloadSpec(user_file.KIND, st.st_size, 0, user_file.shown(text))
    kind, sep, rest = text.partition(":")
    if not sep:
        raise UsageError(f"bad workload {text!r}: expected KIND:SIZE, e.g. video:256MiB")
    if kind not in GENERATORS:
        raise UsageError(f"unknown workload kind {kind!r}; valid kinds: {', '.join(kinds())}")
    size, _, options = rest.partition(":")
    if options:
        variant = getattr(GENERATORS[kind], "variant", None)
        if variant is None:
            raise UsageError(f"bad workload {text!r}: kind {kind!r} takes no options")
        kind = variant(options)
    return WorkloadSpec(kind, parse_size(size), seed)


def _int(spec: Mapping[str, Any], key: str, minimum: int, maximum: int) -> int:
    return parse_count(spec[key], key, minimum, maximum)


def _group_matrix(spec: Mapping[str, Any], registry: Registry, repeat: int, warmup: int) -> MatrixConfig:
    full = {**DEFAULTS, **spec}
    strategies = tuple(full.get("strategy") or registry.names())
    for name in strategies:
        registry.resolve(name)  # unknown names or options: one clear line
        check_user_module(name, "strategy")  # a user's module that is not what the contract asks: one too
    for transform in full["transform"]:
        check_user_module(transform, "transform")
    if not full.get("workload"):
        raise UsageError("no workload given (e.g. --workload video:256MiB)")
    seed = _int(full, "seed", 0, MAX_SEED)
    chunks = tuple(parse_size(c) for c in full["chunk_size"])
    if any(c <= 0 for c in chunks):
        raise UsageError("chunk size must be positive")
    n_cells = len(strategies) * len(chunks)
    for axis in ("workload", "sink", "cache", "transform", "consumer_rate", "clients"):
        n_cells *= len(full[axis])
    n_cells *= max(1, len(full.get("runtime") or []))
    if n_cells > MAX_CELLS:
        raise UsageError(
            f"the matrix's axes multiply to {n_cells:,} cells (more than {MAX_CELLS:,}): "
            "split it into [[group]] tables of the combinations you mean"
        )
    return MatrixConfig(
        strategies=strategies,
        workloads=tuple(parse_workload(w, seed) for w in full["workload"]),
        sinks=_choices("sink", full["sink"], SINKS),
        chunk_sizes_bytes=chunks,
        cache_states=_choices("cache state", full["cache"], CACHE_STATES),
        dest=_choices("dest", [str(full["dest"])], DEST_MODES)[0],
        repeat=repeat,
        warmup=warmup,
        transforms=tuple(
            t if is_user_module(t) else _choices("transform", [t], TRANSFORM_NAMES)[0]
            for t in full["transform"]
        ),
        consumer_rates_bps=tuple(parse_rate(r) for r in full["consumer_rate"]),
        high_water_mark_bytes=parse_size(str(full["high_water_mark"])),
        clients=tuple(_clients(c) for c in full["clients"]),
        view_bytes=parse_size(str(full["view_size"])),
        http_route=_choices("http route", [str(full["http_route"])], HTTP_ROUTES)[0],
        strategy_runtimes=_strategy_runtimes(strategies, full.get("runtime") or [], registry),
    )


def _strategy_runtimes(
    strategies: tuple[str, ...], names: list[str], registry: Registry
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The runtime axis per strategy: each runtime named that runs the strategy's language ("" for that
    language's default, so a cell's id does not move when its default is named); none: the default."""
    if not names:
        return ()
    axis = [runtimes.get(name) for name in dict.fromkeys(names)]  # an unknown name: one line
    out = []
    for strategy in strategies:
        cls, _ = registry.resolve(strategy)
        language = runtimes.language_of(cls)
        default = runtimes.for_language(language).name
        mine = ["" if r.name == default else r.name for r in axis if r.language == language]
        out.append((strategy, tuple(dict.fromkeys(mine)) or ("",)))
    return tuple(out)


def _clients(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 1024:
        raise UsageError(f"bad client count {text!r}: a whole number from 1 to 1024")
    return n


def build_matrix(spec: Mapping[str, Any], registry: Registry) -> MatrixConfig:
    """The matrix a (merged) spec describes; groups become the matrix's groups."""
    full = {**DEFAULTS, **spec}
    adaptive = str(full["repeat"]).strip().lower() == "auto"
    if not adaptive and not str(full["repeat"]).strip().isdigit():
        raise UsageError(f"repeat must be a whole number or auto, got {str(full['repeat'])[:40]!r}")
    if adaptive:
        from streambench.harness.plan.adaptive import AdaptiveRule

        full["repeat"] = AdaptiveRule.first_rounds
    repeat, warmup = _int(full, "repeat", 1, 10_000), _int(full, "warmup", 0, 1_000)
    budget_s = parse_seconds(full.get("budget", 150.0), "budget")
    top = {k: v for k, v in full.items() if k in GROUP_KEYS}
    if "group" not in full:
        return replace(_group_matrix(top, registry, repeat, warmup), adaptive=adaptive, budget_s=budget_s)
    groups = tuple(_group_matrix({**top, **g}, registry, repeat, warmup) for g in full["group"])
    if not groups:
        raise UsageError("the matrix has an empty group list")
    if sum(len(g.cells()) for g in groups) > MAX_CELLS:
        raise UsageError(f"the matrix's groups have more than {MAX_CELLS:,} cells between them")
    return MatrixConfig(
        strategies=groups[0].strategies,
        workloads=groups[0].workloads,
        sinks=groups[0].sinks,
        chunk_sizes_bytes=groups[0].chunk_sizes_bytes,
        repeat=repeat,
        warmup=warmup,
        groups=groups,
        adaptive=adaptive,
        budget_s=budget_s,
    )


RESTRICTABLE = ("strategy", "sink", "cache", "transform", "clients")


def restrict_spec(spec: Mapping[str, Any], only: str) -> dict[str, Any]:
    """The spec with one axis cut to the given values (``strategy=pipe,sendfile``), in every group.

    A group left with none of them is dropped; a spec left with nothing is an error.
    """
    key, sep, values_text = only.partition("=")
    key = key.strip().replace("-", "_")
    wanted = [v.strip() for v in values_text.split(",") if v.strip()]
    if not sep or key not in RESTRICTABLE or not wanted:
        raise UsageError(
            f"bad --only {only!r}: expected AXIS=V1,V2 with AXIS one of {', '.join(RESTRICTABLE)}"
        )

    def cut(table: Mapping[str, Any], inherited: list[str] | None) -> list[str] | None:
        values = table.get(key, inherited)
        if values is None:
            values = [str(v) for v in DEFAULTS.get(key, [])] or wanted  # the default axis, or "all"
        return [v for v in values if v in wanted]

    top = cut(spec, None)
    out = dict(spec)
    if "group" not in spec:
        if not top:
            raise UsageError(f"--only {only}: no cell of this matrix has {key} in {', '.join(wanted)}")
        out[key] = top
        return out
    groups = []
    for group in spec["group"]:
        kept = cut(group, spec.get(key))
        if kept:
            groups.append({**group, key: kept})
    if not groups:
        raise UsageError(f"--only {only}: no cell of this matrix has {key} in {', '.join(wanted)}")
    out["group"] = groups
    return out


def endpoint_settings(spec: Mapping[str, Any]) -> EndpointSettings:
    """``path``, ``expect`` and ``port``: how a user's server (``--serve``) is asked and checked."""
    path = str(spec.get("path", "/"))
    if not path.startswith("/") or not path.isprintable() or " " in path:
        raise UsageError(f"bad --path {path[:60]!r}: a request path, e.g. /video")
    expect = None
    if spec.get("expect") is not None:
        expect, _ = user_file.checked_path(user_file.PREFIX + str(spec["expect"]), "--expect file")
    port = 0
    if spec.get("port") is not None:
        port = parse_count(spec["port"], "--port", 1, 65535)
    ready_timeout_s = parse_seconds(
        spec.get("ready_timeout", EndpointSettings.ready_timeout_s), "ready_timeout"
    )
    return EndpointSettings(path=path, expect=expect, port=port, ready_timeout_s=ready_timeout_s)


def parse_pin(text: object, cores: tuple[int, ...] | None = None) -> Placement | None:
    """``--pin``: ``none``; ``auto`` (the worker on the first core, its far end and the harness on the
    last: apart, so neither waits for the other's time slice); or ``W/F/P`` core lists, e.g. ``0/1/1``."""
    import os

    available = tuple(sorted(os.sched_getaffinity(0))) if cores is None else cores
    value = str(text).strip().lower()
    if value in ("none", "off"):
        return None
    if value == "auto":
        if len(available) < 2:
            return None  # one core: nothing to place
        return Placement((available[0],), (available[-1],), (available[-1],))
    parts = value.split("/")
    # ASCII digits only: int() reads a fullwidth '１' as 1, which nobody meant.
    if re.fullmatch(r"[0-9,/ ]+", value, re.ASCII):
        lists = [tuple(int(c) for c in part.split(",") if c.strip()) for part in parts]
    else:
        lists = []
    if len(lists) != 3 or not all(lists):
        raise UsageError(
            f"bad --pin {text!r}: expected none, auto, or WORKER/FAR_END/PARENT cores, e.g. 0/1/1"
        )
    unknown = sorted({c for cs in lists for c in cs} - set(available))
    if unknown:
        raise UsageError(f"bad --pin {text!r}: cores {unknown} are not available (this process may use "
                         f"{', '.join(map(str, available))})")  # fmt: skip
    return Placement(lists[0], lists[1], lists[2])
