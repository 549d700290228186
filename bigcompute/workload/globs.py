"""Glob patterns over POSIX relative paths with Batch's syntax: `*`, `**`, `?`, `[abc]`, `[!abc]`."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                body = "^" + body[1:] if body.startswith("!") else body
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    return compile_glob(pattern).match(path) is not None


def has_wildcard(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def landing(pattern: str) -> str:
    """Where files of an output pattern land below `<job>/<task>/`: a plain path by its file name alone, a
    wildcard's matches by their path below the pattern's fixed folders (Batch's rule; wire.py sends it)."""
    if not has_wildcard(pattern):
        return pattern.rstrip("/").rsplit("/", 1)[-1]
    fixed = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return pattern[fixed.rfind("/") + 1:]
