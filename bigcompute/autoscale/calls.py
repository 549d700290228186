"""Compile calls of the built-in functions (reference §B5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bigcompute.autoscale import catalog as cat
from bigcompute.autoscale import nodes as n
from bigcompute.autoscale.functions import (
    AGGREGATES,
    FUNCTIONS,
    LOGS,
    Domain,
    parse_time,
    percentile,
    signature_error,
    val,
)
from bigcompute.autoscale.methods import guarded
from bigcompute.autoscale.runtime import Fn, Runtime, Stop
from bigcompute.autoscale.values import T

if TYPE_CHECKING:
    from bigcompute.autoscale.compiler import Compiler, Typed

TIME_FORMATS = ("W3C-DTF like 2025-01-01T00:00:00Z (at most 7 digits after the seconds' point) or RFC 1123 like "
                "Wed, 01 Jan 2025 00:00:00 GMT")


def compile_call(c: Compiler, node: n.Call) -> Typed:
    from bigcompute.autoscale.compiler import FAILED, suggest

    name = node.name
    if name not in FUNCTIONS:
        if name in cat.SAMPLE_METHODS:
            return c.error(node.pos, f"{name}() is a sample method; call it on a metric, "
                                     f"e.g. $PendingTasks.{name}(...)")
        return c.error(node.pos, f"unknown function '{name}'" + suggest(name, list(FUNCTIONS)))
    typed = [c.expr(a) for a in node.args]
    if any(fn is None for _, fn in typed):
        return FAILED
    kinds = [k for k, _ in typed]
    fns: list[Fn] = [fn for _, fn in typed]  # type: ignore[misc]
    result, problem, bad = signature_error(name, kinds)
    if problem:
        return c.error(node.pos if bad is None else node.args[bad].pos, problem)
    if name == "time":
        return _time(c, node, fns)
    if name == "rand":
        return result, lambda rt: rt.rng.random()
    if name == "stop":
        return result, _stop
    if name in ("percentile", "val"):
        impl = percentile if name == "percentile" else val
        v, x = fns
        return result, guarded(node.pos, lambda rt: impl(v(rt), x(rt)))  # type: ignore[arg-type]
    flat = flatten(kinds, fns)
    if name in LOGS:
        log = LOGS[name]
        if result is T.DOUBLE:
            (arg,) = fns
            return result, lambda rt: log(arg(rt))  # type: ignore[arg-type]
        return result, lambda rt: tuple(log(x) for x in flat(rt))
    agg = AGGREGATES[name]
    return result, guarded(node.pos, lambda rt: agg(flat(rt)))


def flatten(kinds: list[T], fns: list[Fn]) -> Fn:
    """A doubleVecList argument list as one flat sequence (reference §B5)."""
    if all(k is T.DOUBLE for k in kinds):
        if len(fns) == 2:
            a, b = fns
            return lambda rt: (a(rt), b(rt))
        return lambda rt: [f(rt) for f in fns]
    if len(fns) == 1:
        return fns[0]
    pairs = list(zip(kinds, fns, strict=True))

    def flat(rt: Runtime) -> list[float]:
        out: list[float] = []
        for kind, f in pairs:
            if kind is T.VEC:
                out.extend(f(rt))  # type: ignore[arg-type]
            else:
                out.append(f(rt))  # type: ignore[arg-type]
        return out
    return flat


def _stop(rt: Runtime) -> object:
    raise Stop


def _time(c: Compiler, node: n.Call, fns: list[Fn]) -> Typed:
    if not fns:
        return T.TIMESTAMP, lambda rt: rt.now
    arg = node.args[0]
    if isinstance(arg, n.String):  # a literal: check it now rather than at every evaluation
        if not arg.value.strip():
            return T.TIMESTAMP, lambda rt: rt.now
        moment = parse_time(arg.value)
        if moment is None:
            return c.error(arg.pos, f"time() cannot read \"{arg.value}\"; use {TIME_FORMATS}")
        return T.TIMESTAMP, lambda rt: moment
    text = fns[0]

    def parse(rt: Runtime) -> float:
        value = str(text(rt))
        if not value.strip():
            return rt.now
        moment = parse_time(value)
        if moment is None:
            raise Domain(f"time() cannot read \"{value}\"; use {TIME_FORMATS}")
        return moment
    return T.TIMESTAMP, guarded(node.pos, parse)
