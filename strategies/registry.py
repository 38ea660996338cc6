"""The strategy registry: an explicit list of built-ins plus an entry-point group.

Never a scan for subclasses. A third-party package registers a class under the
entry-point group ``streambench.strategies``; a plugin that fails to load is
reported by name and does not stop the others.

A strategy is named in a matrix as ``NAME`` or ``NAME:KEY=VALUE[:KEY=VALUE...]``
(e.g. ``async:loop=uvloop``, ``mmap:window=64MiB``); each variant is its own cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points

from harness.errors import UsageError
from strategies.async_stream import AsyncStream
from strategies.base import Strategy
from strategies.mmap_slices import MmapSlices
from strategies.pause_drain import PauseDrain
from strategies.pipe import Pipe
from strategies.readinto import ReadInto
from strategies.reference import Cat, Dd
from strategies.sendfile import SendFile
from strategies.threaded import Threaded
from strategies.unbounded import Unbounded
from strategies.whole_file import WholeFile

ENTRY_POINT_GROUP = "streambench.strategies"

BUILTINS: tuple[type[Strategy], ...] = (
    WholeFile,
    Pipe,
    PauseDrain,
    ReadInto,
    AsyncStream,
    MmapSlices,
    SendFile,
    Threaded,
    Unbounded,
    Cat,
    Dd,
)

# The reference tools are baselines; reports show strategies as shares of them.
REFERENCES: frozenset[str] = frozenset({Cat.name, Dd.name})


def split_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``'mmap:window=64MiB'`` -> ``('mmap', {'window': '64MiB'})``."""
    name, *parts = spec.split(":")
    options: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise UsageError(f"bad strategy option {part!r} in {spec!r}: expected KEY=VALUE")
        options[key] = value
    return name, options


@dataclass
class Registry:
    strategies: dict[str, type[Strategy]] = field(default_factory=dict)
    broken_plugins: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return list(self.strategies)

    def resolve(self, spec: str) -> tuple[type[Strategy], dict[str, str]]:
        """The class and options a spec names; UsageError for unknown names or options."""
        name, options = split_spec(spec)
        if name not in self.strategies:
            raise UsageError(f"unknown strategy {name!r}; valid: {', '.join(self.names())}")
        cls = self.strategies[name]
        for key in options:
            if key not in cls.options:
                valid = ", ".join(cls.options) or "none"
                raise UsageError(f"strategy {name!r} has no option {key!r}; its options: {valid}")
        return cls, options


def load_registry(*, plugins: bool = True) -> Registry:
    registry = Registry({cls.name: cls for cls in BUILTINS})
    if not plugins:
        return registry
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            name = str(cls.name)
        except Exception as exc:  # a broken plugin must not stop the others
            registry.broken_plugins[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        if name in registry.strategies:
            registry.broken_plugins[ep.name] = f"name {name!r} is already taken"
            continue
        if not hasattr(cls, "options"):
            cls.options = {}
        registry.strategies[name] = cls
    return registry
