"""The strategy registry: an explicit list of built-ins plus an entry-point group.

Never a scan for subclasses. A third-party package registers a class under the
entry-point group ``streambench.strategies``; a plugin that fails to load is
reported by name and does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points

from strategies.base import Strategy
from strategies.pipe import Pipe
from strategies.reference import Cat, Dd
from strategies.whole_file import WholeFile

ENTRY_POINT_GROUP = "streambench.strategies"

BUILTINS: tuple[type[Strategy], ...] = (WholeFile, Pipe, Cat, Dd)

# The reference tools are baselines; "every strategy" in a default matrix means
# these plus the Python strategies, and reports show strategies as shares of them.
REFERENCES: frozenset[str] = frozenset({Cat.name, Dd.name})


@dataclass
class Registry:
    strategies: dict[str, type[Strategy]] = field(default_factory=dict)
    broken_plugins: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return list(self.strategies)

    def create(self, name: str) -> Strategy:
        return self.strategies[name]()


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
        registry.strategies[name] = cls
    return registry
