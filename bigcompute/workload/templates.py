"""`{param}` templates for task ids, commands and environment values.

Python's format mini-language gives format specs (`{seed:04d}`, `{rate:.3f}`), but its attribute and
index lookups (`{x.__class__}`) would let a workload file reach into Python objects: only bare
names are allowed.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FORMATTER = string.Formatter()
MAX_FORMAT_WIDTH = 1000  # a command line is at most 8,000 characters; `{x:999999999d}` would exhaust memory
_NUMBER = re.compile(r"[0-9]+")


class TemplateError(ValueError):
    def __init__(self, message: str, template: str | None = None):
        super().__init__(message)
        self.template = template  # the text that failed to fill, to locate it


@dataclass(frozen=True)
class Template:
    text: str
    fields: frozenset[str]

    def render(self, values: Mapping[str, Any]) -> str:
        try:
            return self.text.format_map(values) if self.fields else self._literal
        except (ValueError, TypeError, KeyError) as e:
            raise TemplateError(f"cannot fill template {self.text!r}: {e}", self.text) from None

    @property
    def _literal(self) -> str:
        return self.text.replace("{{", "{").replace("}}", "}")


def parse_template(text: str, known: frozenset[str] | set[str]) -> Template:
    """Parse and check a template against the placeholders available to it."""
    fields: set[str] = set()
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as e:
        raise TemplateError(f"malformed template: {e} (write '{{{{' and '}}}}' for literal braces)") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name == "" or not name.isidentifier():
            raise TemplateError(f"placeholder {{{name}}} must be a plain name such as {{seed}}")
        if conversion:
            raise TemplateError(f"placeholder {{{name}!{conversion}}}: conversions are not supported")
        if spec and "{" in spec:
            raise TemplateError(f"placeholder {{{name}:{spec}}}: nested placeholders are not supported")
        if spec and any(len(n.lstrip("0")) > 4 or int(n) > MAX_FORMAT_WIDTH for n in _NUMBER.findall(spec)):
            raise TemplateError(f"placeholder {{{name}:{spec[:20]}}}: width and precision must be at most "
                                f"{MAX_FORMAT_WIDTH}")
        if name not in known:
            options = ", ".join(sorted(known)) or "none"
            raise TemplateError(f"unknown placeholder {{{name}}}; available here: {options}")
        fields.add(name)
    return Template(text, frozenset(fields))
