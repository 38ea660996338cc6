"""A user's Python module, outside any measured run: checked at plan time, and a transform's
reference output.

``python -m streambench.harness.worker.user_code check ROLE SPEC``: import the module, find what
the spec names and check its shape (a strategy: a function, or a class with ``run``; a transform:
a class or function that makes an object with ``process`` and ``flush``). Exit 0, or exit 1 with
one line on stdout saying what is wrong.

``python -m streambench.harness.worker.user_code reference SPEC SOURCE CHUNK_BYTES``: the transform
applied to SOURCE in CHUNK_BYTES reads, its output on stdout (the parent hashes it).
"""

from __future__ import annotations

import sys

from streambench.harness.common.errors import UsageError, raised_at
from streambench.harness.common.lifeline import die_with_parent
from streambench.strategies.user_module import load_python_export, make_user_transform, parse_user_module


def check(role: str, spec: str) -> str | None:
    try:
        if role == "transform":
            make_user_transform(spec)
            return None
        module = parse_user_module(spec)
        export = load_python_export(module, "strategy")
        runner = getattr(export, "run", None) if isinstance(export, type) else export
        if not callable(runner):
            return f"{module.name} is neither a function nor a class with a run() method"
        return None
    except UsageError as exc:  # what the contract asks is not there: said as such
        return str(exc)
    except Exception as exc:  # the user's module: anything may happen on import
        return f"{type(exc).__name__}: {exc}{raised_at(exc)}"


def reference(spec: str, source: str, chunk_bytes: int) -> None:
    transform = make_user_transform(spec)
    out = sys.stdout.buffer
    with open(source, "rb", buffering=0) as f:
        while chunk := f.read(chunk_bytes):
            out.write(transform.process(chunk))
    out.write(transform.flush())
    out.flush()


def main(argv: list[str]) -> int:
    die_with_parent()
    if argv[:1] == ["check"] and len(argv) == 3:
        problem = check(argv[1], argv[2])
        if problem is not None:
            print(problem.replace("\n", " "))
            return 1
        return 0
    if argv[:1] == ["reference"] and len(argv) == 4:
        reference(argv[1], argv[2], int(argv[3]))
        return 0
    print("usage: user_code check ROLE SPEC | reference SPEC SOURCE CHUNK_BYTES")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
