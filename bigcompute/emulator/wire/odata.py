"""The OData subset Batch lists accept: `$filter` (eq/ne/gt/ge/lt/le, and/or/not, startswith), `$select`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bigcompute.emulator.core.errors import invalid_query
from bigcompute.emulator.state.models import Predicate

# What each list lets $filter name, and with which operators: the tables of "OData filters in Azure Batch"
# (https://learn.microsoft.com/rest/api/batchservice/odata-filters-in-batch). Anything else is refused with
# 400 InvalidQueryParameterValue, as Batch refuses it, instead of matching nothing.
_ORDER = frozenset({"eq", "ne", "ge", "gt", "le", "lt"})
_ID = _ORDER | {"startswith"}
_EQ, _EQ_NE = frozenset({"eq"}), frozenset({"eq", "ne"})
Filterable = dict[str, frozenset[str]]
FILTERABLE: dict[str, Filterable] = {
    "pools": {"id": _ID, "state": _EQ, "stateTransitionTime": _ORDER, "allocationState": _EQ,
              "allocationStateTransitionTime": _ORDER, "creationTime": _ORDER, "enableAutoScale": _EQ_NE,
              "lastModified": _ORDER, "vmSize": _EQ_NE, "enableInterNodeCommunication": _EQ_NE},
    "jobs": {"id": _ID, "state": _EQ, "stateTransitionTime": _ORDER, "creationTime": _ORDER, "lastModified": _ORDER,
             "executionInfo/startTime": _ORDER, "executionInfo/endTime": _ORDER, "executionInfo/poolId": _ID},
    # The page names the last-modified time of tasks lastModifiedTime; the property is lastModified.
    "tasks": {"id": _ID, "state": _EQ, "stateTransitionTime": _ORDER, "creationTime": _ORDER,
              "lastModified": _ORDER, "lastModifiedTime": _ORDER, "executionInfo/startTime": _ORDER,
              "executionInfo/endTime": _ORDER, "executionInfo/exitCode": _ORDER, "executionInfo/result": _EQ_NE},
    "nodes": {"state": _EQ, "stateTransitionTime": _ORDER, "lastBootTime": _ORDER, "allocationTime": _ORDER,
              "startTaskInfo/state": _EQ, "startTaskInfo/result": _EQ_NE, "startTaskInfo/exitCode": _ORDER,
              "startTaskInfo/startTime": _ORDER, "startTaskInfo/endTime": _ORDER},
    "files": {"name": frozenset({"startswith"})},
    "prepstatus": {"poolId": _EQ_NE, "nodeId": _EQ_NE, **{
        f"{kind}TaskExecutionInfo/{prop}": ops for kind in ("jobPreparation", "jobRelease")
        for prop, ops in (("state", _EQ), ("startTime", _ORDER), ("endTime", _ORDER), ("exitCode", _ORDER),
                          ("result", _EQ_NE))}},
    "nodecounts": {"poolId": _EQ},
    "extensions": {},  # List Node Extensions takes $select and maxresults, no $filter
    "poolusagemetrics": {"poolId": _ID, "startTime": _ORDER, "endTime": _ORDER},
    "applications": {},  # List Applications takes no $filter
    "jobschedules": {"id": _ID, "state": _EQ, "stateTransitionTime": _ORDER, "creationTime": _ORDER,
                     "lastModified": _ORDER, "executionInfo/nextRunTime": _ORDER, "executionInfo/endTime": _ORDER,
                     "executionInfo/recentJob/id": _ID},
}

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<dt>datetime'[^']*')"
                    r"|(?P<op>\(|\)|,)|(?P<word>[A-Za-z_$][\w/.$]*))")
_CMP = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise invalid_query("$filter", text, f"Unexpected text at position {pos}.")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "str":
            out.append(("lit", raw[1:-1].replace("''", "'")))
        elif kind == "dt":
            out.append(("lit", raw[9:-1]))
        elif kind == "num":
            out.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw in ("true", "false"):
            out.append(("lit", raw == "true"))
        else:
            out.append((kind, raw))
    return out


def _get(doc: Mapping[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("/"):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda d: a(d) or b(d)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda d: a(d) and b(d)


class _Parser:
    def __init__(self, text: str, allowed: Filterable | None) -> None:
        self.text = text
        self.allowed = allowed
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise invalid_query("$filter", self.text, "The filter ended unexpectedly.")
        self.i += 1
        return tok

    def expr(self) -> Predicate:
        left = self.term()
        while self.peek() == ("word", "or"):
            self.take()
            left = _either(left, self.term())
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.peek() == ("word", "and"):
            self.take()
            left = _both(left, self.factor())
        return left

    def factor(self) -> Predicate:
        kind, val = self.take()
        if (kind, val) == ("word", "not"):
            inner = self.factor()
            return lambda d: not inner(d)
        if (kind, val) == ("op", "("):
            inner = self.expr()
            self.expect(")")
            return inner
        if kind == "word" and val == "startswith":
            self.expect("(")
            field = self.take()[1]
            self._check(field, "startswith")
            self.expect(",")
            prefix = str(self.take()[1])
            self.expect(")")
            return lambda d: str(_get(d, field) or "").lower().startswith(prefix.lower())
        if kind != "word":
            raise invalid_query("$filter", self.text, f"Expected a property name, got {val!r}.")
        op = self.take()[1]
        if op not in _CMP:
            raise invalid_query("$filter", self.text, f"Unsupported operator {op!r}.")
        self._check(val, op)
        lit_kind, lit = self.take()
        if lit_kind != "lit":
            raise invalid_query("$filter", self.text, f"Expected a literal after {op}.")
        cmp = _CMP[op]

        def pred(d: Mapping[str, Any], field: str = val) -> bool:
            got = _get(d, field)
            if got is None:
                return op == "ne" if lit is not None else op == "eq"
            if isinstance(lit, str) and isinstance(got, str):
                return cmp(got.lower(), lit.lower())
            try:
                return cmp(type(lit)(got), lit)
            except (TypeError, ValueError):
                return False
        return pred

    def _check(self, field: str, op: str) -> None:
        if self.allowed is None:
            return
        ops = self.allowed.get(field)
        if ops is None:
            raise invalid_query("$filter", self.text, f"The property {field} cannot be used in a filter of this list.")
        if op not in ops:
            raise invalid_query("$filter", self.text, f"The property {field} cannot be filtered with {op}; "
                                f"use {', '.join(sorted(ops))}.")

    def expect(self, sym: str) -> None:
        if self.take() != ("op", sym):
            raise invalid_query("$filter", self.text, f"Expected {sym!r}.")


def parse_filter(text: str | None, allowed: Filterable | None = None) -> Predicate | None:
    """`allowed`: what the list may filter on (FILTERABLE); None checks the syntax only."""
    if not text:
        return None
    parser = _Parser(text, allowed)
    pred = parser.expr()
    if parser.peek() is not None:
        raise invalid_query("$filter", text, "Unexpected text after the expression.")
    return pred


def project(doc: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if not select:
        return doc
    return {k: doc[k] for k in select if k in doc}


def parse_select(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None
