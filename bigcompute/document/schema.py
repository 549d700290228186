"""Check a located document against a JSON Schema; every error points at the offending line.

Messages say what was expected and, for a misspelled key, what was probably meant.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from bigcompute.document.diagnostics import Diagnostic, Path
from bigcompute.document.loader import Document

_UNEXPECTED = re.compile(r"\('(.+?)' (?:was|were) unexpected\)")


def _ecma(pattern: str) -> str:
    """A JSON Schema pattern (ECMA-262) for Python's `re`: ECMA's `$` is `\\Z`, since Python's `$` also
    matches before a final newline and would let `name: "demo\\n"` through `^[a-z0-9-]+$`."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "$":
            c = "\\Z"
        out.append(c)
        i += 1
    return "".join(out)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_ecma(pattern))


def _pattern(validator, pattern: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})


@cache
def packaged_validator(package: str, name: str) -> Draft202012Validator:
    schema = json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    Validator.check_schema(schema)
    return Validator(schema)


def check_schema(doc: Document, validator: Draft202012Validator, data: Any = None,
                 locate: Callable[[Path], Path] = lambda path: path) -> list[Diagnostic]:
    """Every schema violation of `data` (default: the whole document), each located in `doc`.

    `locate` maps a path inside `data` to its path in the document, when `data` is a part of it.
    """
    target = doc.data if data is None else data
    found = [_diagnose(doc, _deepest(e), locate) for e in validator.iter_errors(target)]
    return sorted({d for group in found for d in group})


def _deepest(error: ValidationError) -> ValidationError:
    # For oneOf/anyOf, the branch the author evidently meant says more than "is not valid under any".
    while error.context:
        branch = _intended_branch(error)
        candidates = [e for e in error.context if branch is None or e.relative_schema_path[0] == branch]
        deeper = best_match(candidates or error.context)
        if deeper is None or len(deeper.absolute_path) < len(error.absolute_path):
            break
        error = deeper
    return error


def _intended_branch(error: ValidationError) -> int | None:
    """For a mapping, the oneOf branch declaring most of its keys (ties: none)."""
    if not isinstance(error.instance, dict) or not isinstance(error.validator_value, list):
        return None
    keys = set(error.instance)
    scores = [len(keys & set(branch.get("properties", {}))) if isinstance(branch, dict) else 0
              for branch in error.validator_value]
    best = max(scores, default=0)
    return scores.index(best) if best and scores.count(best) == 1 else None


def _diagnose(doc: Document, error: ValidationError, locate: Callable[[Path], Path]) -> Iterator[Diagnostic]:
    relative = tuple(error.absolute_path)
    path = locate(relative)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in _unexpected_keys(error):
            hint = difflib.get_close_matches(key, allowed, n=1)
            expected = f"did you mean '{hint[0]}'?" if hint else f"expected one of: {', '.join(allowed)}"
            yield doc.diagnostic(locate((*relative, key)), f"unknown key '{key}'; {expected}", key=True, code="unknown-key")
        return
    yield doc.diagnostic(path, _message(error), code=f"schema-{error.validator}")


def _unexpected_keys(error: ValidationError) -> list[str]:
    if isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        return [k for k in error.instance if k not in allowed and not any(p.search(k) for p in patterns)]
    match = _UNEXPECTED.search(error.message)
    return [match.group(1)] if match else []


def _message(error: ValidationError) -> str:
    v, value = error.validator, error.instance
    if v == "required":
        missing = [k for k in error.validator_value if isinstance(value, dict) and k not in value]
        return f"missing required key '{missing[0]}'" if missing else error.message
    if v == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, got {_show(value)}"
    if v == "enum":
        return f"expected one of {', '.join(map(_show, error.validator_value))}; got {_show(value)}"
    if v == "pattern":
        what = error.schema.get("patternDescription") or f"a string matching {error.validator_value}"
        return f"expected {what}; got {_show(value)}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
             "minItems", "maxItems", "minProperties", "maxProperties"):
        return f"{error.message}"
    if v == "const":
        return f"expected {_show(error.validator_value)}; got {_show(value)}"
    if v == "not" and isinstance(error.validator_value, dict):
        banned = error.validator_value
        if list(banned) == ["required"]:  # {"required": [a], "not": {"required": [b]}}, or not both of [a, b]
            keys = banned["required"]
            keys = [*error.schema.get("required", []), *keys] if len(keys) == 1 else keys
            return f"{' and '.join(repr(k) for k in keys)} cannot be used together"
        if list(banned) == ["const"]:
            return f"must not be {_show(banned['const'])}"
        if list(banned) == ["anyOf"] and isinstance(value, dict):  # not any of several pairs: name the pair present
            pair = next((b["required"] for b in banned["anyOf"] if set(b.get("required", ())) <= set(value)), None)
            if pair:
                return f"{' and '.join(repr(k) for k in pair)} cannot be used together"
    if v in ("oneOf", "anyOf"):
        options = [s.get("title") or "/".join(s.get("required", [])) for s in error.validator_value]
        options = [o for o in options if o]
        return f"expected exactly one of: {', '.join(options)}" if options else error.message
    return error.message


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value) if isinstance(value, str) else str(value)
