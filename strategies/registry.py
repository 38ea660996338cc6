"""The strategy registry: an explicit list of built-ins plus an entry-point group.

Never a scan for subclasses. Built-ins are listed by import path and imported
only when named, so a worker pays for the one strategy it runs (asyncio and
importlib.metadata cost ~30 ms of each worker's start otherwise). A third-party
package registers a class under the entry-point group ``streambench.strategies``;
a plugin that fails to load is reported by name and does not stop the others.

A strategy is named in a matrix as ``NAME`` or ``NAME:KEY=VALUE[:KEY=VALUE...]``
(e.g. ``async:loop=uvloop``, ``mmap:window=64MiB``); each variant is its own cell.
The option ``tag`` is accepted by every strategy and ignored by it: ``pipe:tag=A``
and ``pipe:tag=B`` are two cells running the same code (an A/A test).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from streambench.harness.common.errors import UsageError
from streambench.strategies.base import Strategy
from streambench.strategies.user_endpoint import endpoint_strategy, is_user_endpoint
from streambench.strategies.user_module import is_user_module, user_strategy

ENTRY_POINT_GROUP = "streambench.strategies"

BUILTINS: dict[str, str] = {
    "whole-file": "streambench.strategies.whole_file:WholeFile",
    "pipe": "streambench.strategies.pipe:Pipe",
    "pause-drain": "streambench.strategies.pause_drain:PauseDrain",
    "readinto": "streambench.strategies.readinto:ReadInto",
    "async": "streambench.strategies.async_stream:AsyncStream",
    "mmap": "streambench.strategies.mmap_slices:MmapSlices",
    "sendfile": "streambench.strategies.sendfile:SendFile",
    "threaded": "streambench.strategies.threaded:Threaded",
    "unbounded": "streambench.strategies.unbounded:Unbounded",
    "lines": "streambench.strategies.lines:Lines",
    "planted": "streambench.strategies.planted:Planted",
    "node-readfile": "streambench.strategies.node:NodeReadFile",
    "node-pipe": "streambench.strategies.node:NodePipe",
    "node-pause-drain": "streambench.strategies.node:NodePauseDrain",
    "node-pipeline": "streambench.strategies.node:NodePipeline",
    "node-async-iter": "streambench.strategies.node:NodeAsyncIter",
    "node-unbounded": "streambench.strategies.node:NodeUnbounded",
    "node-fault": "streambench.strategies.node:NodeFault",
    "node-webstreams": "streambench.strategies.node:NodeWebStreams",
    "bun-file": "streambench.strategies.node:BunFile",
    "bun-write": "streambench.strategies.node:BunWrite",
    "deno-file": "streambench.strategies.node:DenoFile",
    "bun-serve": "streambench.strategies.node:BunServe",
    "deno-serve": "streambench.strategies.node:DenoServe",
    "cat": "streambench.strategies.reference:Cat",
    "dd": "streambench.strategies.reference:Dd",
}

# The reference tools are baselines; reports show strategies as shares of them.
REFERENCES: frozenset[str] = frozenset({"cat", "dd"})
# Accepted by every strategy, never passed to it: names an otherwise identical variant.
TAG_OPTION = "tag"


def split_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``'mmap:window=64MiB'`` -> ``('mmap', {'window': '64MiB'})``; a user's server (``serve:CMD``) is
    one name."""
    if not spec.isprintable() or not spec.strip():
        # A name becomes a label in terminals and pages, and part of a cell id.
        raise UsageError(f"bad strategy {spec!r}: names and options are printable text")
    if is_user_endpoint(spec):
        return spec, {}
    name, *parts = spec.split(":")
    options: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise UsageError(f"bad strategy option {part!r} in {spec!r}: expected KEY=VALUE")
        options[key] = value
    return name, options


def _import(path: str) -> type[Strategy]:
    module_name, _, class_name = path.partition(":")
    cls: type[Strategy] = getattr(importlib.import_module(module_name), class_name)
    return cls


@dataclass
class Registry:
    plugins: bool = True
    broken_plugins: dict[str, str] = field(default_factory=dict)
    _plugin_classes: dict[str, type[Strategy]] | None = None

    def _load_plugins(self) -> dict[str, type[Strategy]]:
        if self._plugin_classes is None:
            self._plugin_classes = {}
            if self.plugins:
                from importlib.metadata import entry_points

                for ep in entry_points(group=ENTRY_POINT_GROUP):
                    try:
                        cls = ep.load()
                        name = str(cls.name)
                    except Exception as exc:  # a broken plugin must not stop the others
                        self.broken_plugins[ep.name] = f"{type(exc).__name__}: {exc}"
                        continue
                    if name in BUILTINS or name in self._plugin_classes:
                        self.broken_plugins[ep.name] = f"name {name!r} is already taken"
                        continue
                    if not hasattr(cls, "options"):
                        cls.options = {}
                    self._plugin_classes[name] = cls
        return self._plugin_classes

    def names(self) -> list[str]:
        return [*BUILTINS, *_REGISTERED, *self._load_plugins()]

    def get(self, name: str) -> type[Strategy]:
        if name in BUILTINS:
            return _import(BUILTINS[name])
        if name in _REGISTERED:
            return _REGISTERED[name]
        plugins = self._load_plugins()
        if name not in plugins:
            raise UsageError(f"unknown strategy {name!r}; valid: {', '.join(self.names())}")
        return plugins[name]

    @property
    def strategies(self) -> dict[str, type[Strategy]]:
        """Every strategy class, imported (for listing)."""
        return {name: self.get(name) for name in self.names()}

    def resolve(self, spec: str) -> tuple[type[Strategy], dict[str, str]]:
        """The class and options a spec names; UsageError for unknown names or options.

        A path is the user's own module (``./copy.mjs``, ``./mine.py:Mine:tag=A``); ``serve:CMD`` and
        ``url:URL`` are the user's own server (see strategies.user_module, strategies.user_endpoint).
        """
        if is_user_endpoint(spec):
            return endpoint_strategy(spec), {}
        if is_user_module(spec):
            user_cls, module_options = user_strategy(spec)
            module_options.pop(TAG_OPTION, None)
            return user_cls, module_options
        name, options = split_spec(spec)
        cls = self.get(name)
        checks = getattr(cls, "option_checks", {})
        for key, value in options.items():
            if key not in cls.options and key != TAG_OPTION:
                valid = ", ".join([*cls.options, TAG_OPTION])
                raise UsageError(f"strategy {name!r} has no option {key!r}; its options: {valid}")
            if key in checks:
                try:
                    checks[key](value)
                except (ValueError, UsageError) as exc:
                    raise UsageError(f"strategy {name!r}: bad {key}={value!r}: {exc}") from None
        options.pop(TAG_OPTION, None)
        return cls, options


def load_registry(*, plugins: bool = True) -> Registry:
    return Registry(plugins=plugins)


# Strategies made known in this process (a runtime's test strategies); packages use entry points.
_REGISTERED: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> None:
    if cls.name in BUILTINS:
        raise ValueError(f"strategy name {cls.name!r} is taken by a built-in")
    _REGISTERED[cls.name] = cls


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)
