"""`{param}` templates for task ids, commands and environment values.

Python's format mini-language gives format specs (`{seed:04d}`, `{rate:.3f}`), but its attribute and
index lookups (`{x.__class__}`) would let a workload file reach into Python objects: only bare
names are allowed.

Commands run under `/bin/sh -c`, so a value filled into a command is shell-quoted after its format
spec (`shlex.quote`: `42`, `clip_01.mp4`, `a/b.csv` stay as they are; `$(touch X).mp4` becomes one
literal word). `{name!raw}` inserts a value as it is, in commands only, for those who build shell
syntax on purpose. A placeholder inside quotes would be quoted twice, so it is refused.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bigcompute.workload.shellquote import BACKSLASH, shell_context

MAX_FORMAT_WIDTH = 1000  # a command line is at most 8,000 characters; `{x:999999999d}` would exhaust memory
_NUMBER = re.compile(r"[0-9]+")
_FIELD = re.compile(r"([^!:]*)(?:!([^:]*))?(?::(.*))?", re.DOTALL)  # name[!conversion][:spec]
# Specs that turn any number into characters shlex.quote leaves alone: no fill, no space sign, width only
# zero-padded, no `c` (a character) or `n` (locale separators).
_NUMBER_SPEC = re.compile(r"[+-]?z?#?(?:0[0-9]*)?[,_]?(?:\.[0-9]+)?[bdoxXeEfFgG%]?")
RAW = "raw"
_BRACES = "(write '{{' and '}}' for literal braces)"

# Sweeps repeat each parameter value across many tasks: quote each formatted text once.
_quote = lru_cache(maxsize=4096)(shlex.quote)


class TemplateError(ValueError):
    def __init__(self, message: str, template: str | None = None):
        super().__init__(message)
        self.template = template  # the text that failed to fill, to locate it


@dataclass(frozen=True)
class Field:
    name: str
    spec: str = ""
    raw: bool = False


@dataclass(frozen=True)
class Template:
    text: str
    fields: frozenset[str]
    parts: tuple[tuple[str, Field | None], ...] = ()  # (literal text, field after it); set for shell templates
    plain: str | None = None  # the text as a str.format string, when no value needs quoting

    def render(self, values: Mapping[str, Any]) -> str:
        try:
            if not self.fields:
                return self._literal
            if self.plain is not None:
                return self.plain.format_map(values)
            return self._render_shell(values)
        except (ValueError, TypeError, KeyError) as e:
            raise TemplateError(f"cannot fill template {self.text!r}: {e}", self.text) from None

    def _render_shell(self, values: Mapping[str, Any]) -> str:
        out = []
        for literal, f in self.parts:
            out.append(literal)
            if f is not None:
                text = format(values[f.name], f.spec)
                out.append(text if f.raw else _quote(text))
        return "".join(out)

    def trusting(self, numbers: frozenset[str] | set[str]) -> Template:
        """This template, knowing that the fields named in `numbers` only ever hold numbers: those need no
        quoting under a number spec, and a command whose every field is such renders at str.format speed
        (a million-task sweep renders a million commands)."""
        if self.plain is not None or not self.parts:
            return self
        parts = tuple((lit, f if f is None or f.raw or f.name not in numbers or not _NUMBER_SPEC.fullmatch(f.spec)
                       else Field(f.name, f.spec, raw=True)) for lit, f in self.parts)
        if any(f is not None and not f.raw for _, f in parts):
            return Template(self.text, self.fields, parts)
        return Template(self.text, self.fields, parts, plain=_format_string(parts))

    @property
    def _literal(self) -> str:
        return self.text.replace("{{", "{").replace("}}", "}")


def parse_template(text: str, known: frozenset[str] | set[str], *, shell: bool = False) -> Template:
    """Parse and check a template against the placeholders available to it; `shell` for commands."""
    parts = split_template(text)
    for _, f in parts:
        if f is not None:
            _check_field(f, known)
            if f.raw and not shell:
                raise TemplateError(f"placeholder {{{f.name}!raw}}: the raw form is for commands only; other "
                                    "fields never reach a shell and take values as they are: write "
                                    f"{{{f.name}}}")
    if shell:
        for f, quote in shell_context(parts):
            if quote and not f.raw:
                fix = "the backslash" if quote == BACKSLASH else "the quotes around it"
                raise TemplateError(f"placeholder {{{f.name}}} is {quote}: values are shell-quoted for you, so "
                                    f"remove {fix} (or write {{{f.name}!raw}} to insert the value as it is)")
    fields = frozenset(f.name for _, f in parts if f is not None)
    if not shell:
        return Template(text, fields, plain=text)
    return Template(text, fields, tuple(parts)).trusting(set())


def _format_string(parts: tuple[tuple[str, Field | None], ...]) -> str:
    return "".join(escape_braces(lit) + (f"{{{f.name}:{f.spec}}}" if f else "") for lit, f in parts)


def escape_braces(text: str) -> str:
    """`text` as literal text of a str.format string."""
    return text.replace("{", "{{").replace("}", "}}")


def split_template(text: str) -> list[tuple[str, Field | None]]:
    """(literal text, field that follows it) pairs, as `string.Formatter.parse` splits a format string,
    plus the `!raw` conversion it cannot read."""
    parts: list[tuple[str, Field | None]] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "{}" and text.startswith(c * 2, i):
            literal.append(c)
            i += 2
        elif c == "}":
            raise TemplateError(f"malformed template: single '}}' at column {i + 1} {_BRACES}")
        elif c == "{":
            end = text.find("}", i)
            if end < 0:
                raise TemplateError(f"malformed template: '{{' at column {i + 1} is never closed {_BRACES}")
            parts.append(("".join(literal), _field(text[i + 1:end])))
            literal = []
            i = end + 1
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append(("".join(literal), None))
    return parts


def _field(body: str) -> Field:
    m = _FIELD.fullmatch(body)
    name, conversion, spec = m.group(1), m.group(2), m.group(3) or ""
    if "{" in body:
        raise TemplateError(f"placeholder {{{body}}}: nested placeholders are not supported")
    if name == "" or not name.isidentifier():
        raise TemplateError(f"placeholder {{{name}}} must be a plain name such as {{seed}}")
    if conversion is not None and conversion != RAW:
        raise TemplateError(f"placeholder {{{name}!{conversion}}}: conversions are not supported "
                            "(only {name!raw}, in commands)")
    return Field(name, spec, conversion == RAW)


def _check_field(f: Field, known: frozenset[str] | set[str]) -> None:
    if f.spec and any(len(n.lstrip("0")) > 4 or int(n) > MAX_FORMAT_WIDTH for n in _NUMBER.findall(f.spec)):
        raise TemplateError(f"placeholder {{{f.name}:{f.spec[:20]}}}: width and precision must be at most "
                            f"{MAX_FORMAT_WIDTH}")
    if f.name not in known:
        options = ", ".join(sorted(known)) or "none"
        raise TemplateError(f"unknown placeholder {{{f.name}}}; available here: {options}")
