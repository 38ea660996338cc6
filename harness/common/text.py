"""Text that reaches a terminal: never markup, never raw control sequences.

Names, tags and whole records come from users and files; printed as they are,
``[/]`` is rich markup (and crashed the summary) and ``ESC[2J`` clears a screen.
Every console here is made with markup off, and values are passed through
``printable`` so control characters show as escapes.
"""

from __future__ import annotations

from rich.console import Console


def printable(value: object) -> str:
    """``str(value)`` with each non-printable character shown as its escape (``\\x1b``)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A rich console that interprets nothing it is given: styles are passed as ``style=``.

    In a pipe or a log (not a terminal) lines are never wrapped: a path or a resume command is
    one line a script can find, whatever its length."""
    made = Console(stderr=stderr, width=width, markup=False, highlight=False, emoji=False)
    made.soft_wrap = not made.is_terminal
    return made
