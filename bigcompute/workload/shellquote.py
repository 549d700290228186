"""Where a placeholder sits in a shell command: inside quotes, after a backslash, or bare.

Values are shell-quoted when filled in, so a placeholder inside quotes would be quoted twice; this reads
the command's literal text the way /bin/sh does to find out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_QUOTES = {"'": "inside single quotes", '"': "inside double quotes"}
BACKSLASH = "right after a backslash"
_WORD_START = " \t\n;&|()"


def shell_context(parts: Iterable[tuple[str, T | None]]) -> Iterator[tuple[T, str | None]]:
    """Each field with the quoting /bin/sh reads it in: inside quotes, right after a backslash, or None."""
    quoting = _ShellQuoting()
    for literal, f in parts:
        quoting.read(literal)
        if f is not None:
            yield f, quoting.context()
            quoting.prev = "x"  # the value is a word's text


class _ShellQuoting:
    """The POSIX shell's quoting state over a command's text: quotes, backslashes, comments, and `$(...)`
    and backticks, which open a fresh quoting context (`"$(cat {file})"` reads the value unquoted).
    https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#tag_19_02"""

    def __init__(self) -> None:
        self.stack: list[str] = []  # open contexts: ' " ` $( ( and # (a comment, to the end of its line)
        self.prev = " "
        self.escaped = False  # the text ended with an unquoted backslash

    def context(self) -> str | None:
        top = self.stack[-1] if self.stack else ""
        return _QUOTES.get(top) or (BACKSLASH if self.escaped else None)

    def read(self, text: str) -> None:
        i, n, stack = 0, len(text), self.stack
        self.escaped = False
        while i < n:
            c, top = text[i], stack[-1] if stack else None
            opens_substitution = text.startswith("$(", i)
            if top in ("'", "#"):
                if c == ("'" if top == "'" else "\n"):
                    stack.pop()
            elif c == "\\":
                i += 1
                self.escaped = i == n
            elif c == '"' and top == '"':
                stack.pop()
            elif top == '"' and not opens_substitution and c != "`":
                pass  # inside double quotes only $( and ` start something
            elif c in "\"'(" or opens_substitution:
                stack.append("$(" if opens_substitution else c)
                i += opens_substitution
            elif c == "`":
                stack.pop() if top == "`" else stack.append(c)
            elif c == ")" and top in ("(", "$("):
                stack.pop()
            elif c == "#" and self.prev in _WORD_START:
                stack.append(c)
            self.prev = text[min(i, n - 1)]
            i += 1
