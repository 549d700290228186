"""Submit-time parameters: declared in a workload's `parameters:` block, given by `--set name=value` and
`--values FILE`, used as `{name}` placeholders in templates and as `{param: name}` wherever a value goes
(a sweep's bounds, a task count, a seed).

Better than the Batch CLI extension templates (doc/templates.md) where their users complained: nothing is ever
asked interactively (a missing value is an error, exit 2, so CI never hangs on a prompt); values are given
inline (`--set`, which the extension lacked) or in a plain YAML mapping (no `{"value": …}` wrapper); every
value is checked against its declared type and allowed values before anything is created, each error located
at the file and line of the value (or the `--set` argument) that is wrong.

A value that reaches a command line follows the rules of the workload file: no NUL (a command line is a C
string) and, stricter than a file name, no control character at all, since nothing legitimate needs one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bigcompute.document import Diagnostic, Document, DocumentError, load_document

PARAM_KEY = "param"  # `{param: NAME}`: the value of parameter NAME, wherever a value goes
ENV_PREFIX = "BIGCOMPUTE_PARAM_"  # each task's environment: BIGCOMPUTE_PARAM_<name>=<value>
MAX_TEXT = 4096  # a command line is at most 8,000 characters
# Placeholders bigcompute defines itself: a parameter may not shadow one.
BUILTIN = frozenset({"index", "workload", "file", "name", "stem", "ext", "dir", "job", "task", "repeat"})
TYPES = ("string", "int", "number", "bool")
_INT = re.compile(r"[+-]?[0-9]{1,18}\Z")


@dataclass(frozen=True)
class Given:
    """A value given at submit time, still text from `--set` or a YAML scalar from `--values`, with where
    it was written (for a located error)."""

    name: str
    value: Any
    origin: Diagnostic  # file, line and column of the value; message unused
    from_text: bool  # from `--set`: converted to the declared type rather than required to have it


def _origin(file: str, line: int, column: int, name: str) -> Diagnostic:
    return Diagnostic(file, line, column, (name,), "", "parameter")


def parse_set(items: Sequence[str]) -> tuple[list[Given], list[Diagnostic]]:
    """`--set name=value` arguments, in order (a later one wins)."""
    given, problems = [], []
    for i, item in enumerate(items, 1):
        name, sep, value = item.partition("=")
        where = f"--set #{i}"
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            problems.append(Diagnostic(where, 1, 1, (), f"expected --set NAME=VALUE (NAME a parameter name), got "
                                       f"{item[:80]!r}", "parameter"))
            continue
        given.append(Given(name, value, _origin(where, 1, len(name) + 2, name), from_text=True))
    return given, problems


def load_values(path: str | Path) -> list[Given]:
    """A `--values` file: a YAML mapping of parameter name to value. Raises DocumentError, located."""
    doc = load_document(path)
    if not isinstance(doc.data, dict):
        raise DocumentError([doc.diagnostic((), "a values file is a mapping of parameter names to values "
                                            "(name: value)", code="parameter")])
    out = []
    for name, value in doc.data.items():
        line, column = doc.mark((name,))
        out.append(Given(str(name), value, _origin(doc.path, line, column, str(name)), from_text=False))
    return out


# --- values against declarations ------------------------------------------------------------------------

def declared(data: Any) -> dict[str, Any]:
    """The `parameters:` block of a loaded document (empty when absent or malformed: the schema says so)."""
    block = data.get("parameters") if isinstance(data, dict) else None
    return {k: v for k, v in block.items() if isinstance(v, dict)} if isinstance(block, dict) else {}


def convert(spec: Mapping[str, Any], value: Any, from_text: bool) -> Any:
    """`value` as the declared type; raises ValueError saying what is wrong (for its origin's location)."""
    kind = spec.get("type", "string")
    if from_text:
        value = _from_text(kind, value)
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"expected an integer, got {value!r}")
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value)):
        raise ValueError(f"expected a finite number, got {value!r}")
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r} (quote it in YAML: '{value}')")
        check_text(value)
    _check_bounds(spec, value)
    return value


def _from_text(kind: str, text: str) -> Any:
    if kind == "int" and _INT.match(text.strip()):
        return int(text)
    if kind == "number":
        try:
            return int(text) if _INT.match(text.strip()) else float(text)
        except ValueError:
            pass
    if kind == "bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def check_text(text: str) -> None:
    bad = next((c for c in text if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise ValueError(f"contains the control character U+{ord(bad):04X} (at character {text.index(bad) + 1}), "
                         "which no value reaching a command line may hold")
    if len(text) > MAX_TEXT:
        raise ValueError(f"is {len(text):,} characters long, over the limit of {MAX_TEXT:,}")


def _check_bounds(spec: Mapping[str, Any], value: Any) -> None:
    allowed = spec.get("allowed")
    if allowed is not None and not any(value == a and type(value) is type(a) or
                                       _both_numbers(value, a) and value == a for a in allowed):
        raise ValueError(f"{value!r} is not one of the allowed values: {', '.join(map(repr, allowed))}")
    if "min" in spec and value < spec["min"]:
        raise ValueError(f"{value!r} is below the minimum, {spec['min']!r}")
    if "max" in spec and value > spec["max"]:
        raise ValueError(f"{value!r} is above the maximum, {spec['max']!r}")


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def resolve(doc: Document, given: Iterable[Given]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Each declared parameter's value: the last given one, else its default. Diagnostics for a declaration
    that shadows a placeholder, a default or given value that breaks its declaration, and a required
    parameter (no default) left without a value. Values for names the workload does not declare are left
    to the caller (another workload of the same command may declare them)."""
    specs = declared(doc.data)
    values: dict[str, Any] = {}
    problems = list(_declaration_problems(doc, specs))
    broken = {d.path[1] for d in problems}  # never resolved: their declaration is wrong
    for name, spec in specs.items():
        if name in broken:
            continue
        if "default" in spec:
            try:
                values[name] = convert(spec, spec["default"], from_text=False)
            except ValueError as e:
                problems.append(doc.diagnostic(("parameters", name, "default"), f"default of {name!r}: {e}",
                                               code="parameter"))
        for i, a in enumerate(spec.get("allowed") or ()):
            try:
                convert({"type": spec.get("type", "string")}, a, from_text=False)
            except ValueError as e:
                problems.append(doc.diagnostic(("parameters", name, "allowed", i), f"allowed value of {name!r}: "
                                               f"{e}", code="parameter"))
    for g in given:
        if g.name in specs and g.name not in broken:
            try:
                values[g.name] = convert(specs[g.name], g.value, g.from_text)
            except ValueError as e:
                problems.append(_at(g, f"parameter {g.name!r} of {doc.path}: {e}"))
    for name, spec in specs.items():
        if name not in values and "default" not in spec and name not in broken:
            problems.append(doc.diagnostic(("parameters", name), f"parameter {name!r} has no default and no value "
                                           f"was given: pass --set {name}=VALUE or a --values file", key=True,
                                           code="parameter-missing"))
    return values, problems


def _declaration_problems(doc: Document, specs: Mapping[str, Any]) -> Iterator[Diagnostic]:
    for name, spec in specs.items():
        if name in BUILTIN:
            yield doc.diagnostic(("parameters", name), f"parameter {name!r} would hide the built-in placeholder "
                                 f"{{{name}}}; choose another name", key=True, code="parameter")
        bounds = [k for k in ("min", "max") if k in spec]
        if bounds and spec.get("type", "string") not in ("int", "number"):
            yield doc.diagnostic(("parameters", name, bounds[0]), f"{bounds[0]} applies to int and number "
                                 f"parameters; {name!r} is a {spec.get('type', 'string')}", key=True, code="parameter")


def _at(g: Given, message: str) -> Diagnostic:
    o = g.origin
    return Diagnostic(o.file, o.line, o.column, o.path, message, "parameter")


def unknown(given: Iterable[Given], known: set[str]) -> list[Diagnostic]:
    """Given values no workload of the command declares: a typo, refused rather than ignored."""
    names = ", ".join(sorted(known)) or "none"
    return [_at(g, f"no workload declares a parameter {g.name!r} (declared: {names})")
            for g in given if g.name not in known]


# --- {param: NAME} references ---------------------------------------------------------------------------

def substitute(data: Any, values: Mapping[str, Any]) -> tuple[Any, list[tuple[tuple, str]]]:
    """`data` with each `{param: NAME}` mapping (outside `parameters:`) replaced by NAME's value, and the
    (path, name) of each reference to an undeclared or unresolved name."""
    unresolved: list[tuple[tuple, str]] = []

    def walk(node: Any, path: tuple) -> Any:
        if isinstance(node, dict):
            if set(node) == {PARAM_KEY} and isinstance(node[PARAM_KEY], str):
                name = node[PARAM_KEY]
                if name in values:
                    return values[name]
                unresolved.append((path, name))
                return node
            return {k: v if path == () and k == "parameters" else walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        return node

    return walk(data, ()), unresolved


def environment(values: Mapping[str, Any]) -> dict[str, str]:
    """Each value as the task environment sees it (`BIGCOMPUTE_PARAM_<name>`), booleans as true/false."""
    return {f"{ENV_PREFIX}{k}": ("true" if v else "false") if isinstance(v, bool) else str(v)
            for k, v in values.items()}
