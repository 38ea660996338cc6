"""A user's own module as a strategy or a transform, named by its path: ``./copy.mjs``,
``./mine.py:Mine``, ``./upper.py:Upper:tag=v2``.

The file's suffix says its language, so which runtime runs it (``.py``: Python; ``.mjs``, ``.js``:
a JavaScript runtime). ``PATH:NAME`` names what the module exports (without it: ``run`` in Python,
the default export in JavaScript); ``KEY=VALUE`` parts are options handed to the user's code as
text (``tag`` only names a variant). Nothing of the user's code is imported here: a strategy's
module is loaded by its runtime's measured worker, before the measured section, and a check
child (:meth:`harness.runtimes.Runtime.check_module`) says at plan time what is wrong with it.

The contract, per runtime, is in README.md ("Measure your own code").
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from streambench.harness.common.errors import UsageError
from streambench.strategies.base import Capability, RunStats, Sink, Source, StrategyParams

LANGUAGES: dict[str, str] = {".py": "python", ".mjs": "js", ".js": "js", ".cjs": "js"}
PATH_STARTS = ("./", "../", "/", "~/")
# What a module's code is looked up as when the spec names nothing, by (language, role); else its
# default export (JavaScript's).
DEFAULT_EXPORTS = {("python", "strategy"): "run", ("python", "transform"): "transform"}
DEFAULT_EXPORT = "default"


def is_user_module(spec: str) -> bool:
    """A path (``./x``, ``/x``, ``../x``) or a file name with a known suffix: the user's code."""
    head = spec.split(":", 1)[0]
    return head.startswith(PATH_STARTS) or Path(head).suffix in LANGUAGES


@dataclass(frozen=True)
class UserModule:
    """A user's module as a spec names it: its path (as given and resolved), export and language."""

    given: str  # the path as written: what cells, records and reports show
    path: Path  # resolved against the working directory
    export: str  # "" for the language's default
    language: str
    options: Mapping[str, str]

    @property
    def name(self) -> str:
        """``PATH`` or ``PATH:EXPORT``: the strategy's (or transform's) name."""
        return f"{self.given}:{self.export}" if self.export else self.given

    def export_or_default(self, role: str) -> str:
        return self.export or DEFAULT_EXPORTS.get((self.language, role), DEFAULT_EXPORT)

    def sha256(self) -> str:
        """The module file's sha256 (its own bytes; not the files it imports)."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def parse_user_module(spec: str) -> UserModule:
    """``PATH[:EXPORT][:KEY=VALUE...]`` -> the module; one clear line when the file is not usable."""
    if not spec.isprintable():
        raise UsageError(f"bad module {spec!r}: a path is printable text")
    given, *parts = spec.split(":")
    export = ""
    options: dict[str, str] = {}
    for i, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if not sep and i == 0 and part.isidentifier():
            export = part
        elif sep and key:
            options[key] = value
        else:
            raise UsageError(f"bad module spec {spec!r}: expected PATH[:EXPORT][:KEY=VALUE...]")
    language = LANGUAGES.get(Path(given).suffix)
    if language is None:
        raise UsageError(f"{given}: a module is a .py, .mjs, .js or .cjs file (the suffix says its language)")
    path = Path(given).expanduser().absolute()
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise UsageError(f"module {given} {what}")
    return UserModule(given, path, export, language, options)


def load_python_export(module: UserModule, role: str) -> Any:
    """Import a Python module from its path (no package needed) and return what the spec names."""
    name = f"streambench_user_{hashlib.sha256(str(module.path).encode()).hexdigest()[:12]}"
    loaded = sys.modules.get(name)
    if loaded is None:
        loaded = _import_path(name, module.path)
    attribute = module.export_or_default(role)
    if not hasattr(loaded, attribute):
        public = sorted(n for n in vars(loaded) if not n.startswith("_"))
        defined = ", ".join(public) or "nothing"
        raise UsageError(f"{module.given} has no {attribute!r} (it defines: {defined})")
    return getattr(loaded, attribute)


def _import_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: not an importable Python file")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    # The module's own folder first, so it can import its neighbours as a script would.
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(loaded)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return loaded


class UserTransform:
    """A user's transform object under the :class:`strategies.transforms.Transform` protocol.

    Its own ``process`` and ``flush`` are bound here as they are (no wrapper call per chunk);
    ``notes()`` is its own when it has one.
    """

    def __init__(self, name: str, made: Any) -> None:
        self.name = name
        self.process: Callable[[bytes | memoryview], bytes] = made.process
        self.flush: Callable[[], bytes] = made.flush
        self._made = made

    def notes(self) -> dict[str, str | int]:
        own = getattr(self._made, "notes", None)
        return dict(own()) if callable(own) else {}


def make_user_transform(spec: str) -> UserTransform:
    """What a Python transform module's export makes (a class or a factory, called with no arguments)."""
    module = parse_user_module(spec)
    export = load_python_export(module, "transform")
    if not callable(export):
        raise UsageError(f"{module.name} is not a class or a function that makes a transform")
    made = export()
    missing = [m for m in ("process", "flush") if not callable(getattr(made, m, None))]
    if missing:
        raise UsageError(f"{module.name}() made a {type(made).__name__} without {' and '.join(missing)}()")
    return UserTransform(module.name, made)


class UserStrategy:
    """Base of the class made for each user module named as a strategy.

    Its language decides the runtime; a JavaScript module runs in that runtime's worker and never
    here. A Python module's export is a class (made with no arguments; its ``run`` is called) or a
    function, called as built-in strategies are: ``run(source, sink, params, stats) -> bytes read``.
    """

    user_module: ClassVar[UserModule]
    name: ClassVar[str]
    language: ClassVar[str]
    summary: ClassVar[str]
    node_analogue: ClassVar[str] = ""
    # The user's code is handed the transform when a cell has one; the far end checks its output.
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSFORMS})
    options: ClassVar[Mapping[str, str]] = {}
    # Any KEY=VALUE is the user's to read: none is refused at plan time.
    any_option: ClassVar[bool] = True

    def __init__(self) -> None:
        # Made only by the Python worker (another language's module runs in its runtime's worker):
        # the module is imported here, before the measured section, as a built-in strategy's is.
        export = load_python_export(self.user_module, "strategy")
        self._run: Any = export().run if isinstance(export, type) else export
        if not callable(self._run):
            raise UsageError(f"{self.user_module.name} is neither a function nor a class with run()")

    def run(self, source: Source, sink: Sink, params: StrategyParams, stats: RunStats) -> int:
        moved = self._run(source, sink, params, stats)
        if moved is None:
            # The far end checks every byte anyway; the count is the source's.
            stats.notes["bytes_moved_from"] = "the source's size (the module returned nothing)"
            return source.size_bytes
        return int(moved)


_CLASSES: dict[str, type[UserStrategy]] = {}


def user_strategy(spec: str) -> tuple[type[UserStrategy], dict[str, str]]:
    """The strategy class of a user's module (one per module and export), and the spec's options."""
    module = parse_user_module(spec)
    cls = _CLASSES.get(module.name)
    if cls is None or cls.user_module.path != module.path:
        attrs = {
            "name": module.name,
            "summary": f"your {module.language} module {module.given}",
            "user_module": module,
            "language": module.language,
        }
        cls = type(f"UserStrategy[{module.name}]", (UserStrategy,), attrs)
        _CLASSES[module.name] = cls
    return cls, dict(module.options)
