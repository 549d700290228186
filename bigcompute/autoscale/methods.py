"""Compile timestamp members (`time().hour`) and the sample methods of metrics (reference §B6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bigcompute.autoscale import catalog as cat
from bigcompute.autoscale import nodes as n
from bigcompute.autoscale.errors import EVALUATION_ERROR, INSUFFICIENT_SAMPLES, EvaluationFailure
from bigcompute.autoscale.functions import Domain
from bigcompute.autoscale.runtime import Fn, Runtime
from bigcompute.autoscale.values import T, format_double

if TYPE_CHECKING:
    from bigcompute.autoscale.compiler import Compiler, Typed

INSUFFICIENT = "Autoscale evaluation failed due to insufficient sample data"
WHEN = (T.TIMESTAMP, T.INTERVAL)
GETSAMPLE_FORMS = ("GetSample takes (double count), (start [, double samplePercent]) or "
                   "(start, end [, double samplePercent]), where start and end are timestamps or timeintervals")


def guarded(pos: n.Pos, fn: Fn) -> Fn:
    """Turn a Domain problem inside `fn` into a located evaluation failure."""
    def run(rt: Runtime) -> object:
        try:
            return fn(rt)
        except Domain as e:
            raise EvaluationFailure(EVALUATION_ERROR, "Autoscale evaluation failed", str(e),
                                    pos.line, pos.column) from None
    return run


def _moment(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise Domain(f"{seconds!r} is not a representable timestamp") from None


_MEMBERS = {
    "year": lambda d: d.year, "month": lambda d: d.month, "day": lambda d: d.day,
    # "1 for Monday" and the examples test 1..5 for weekdays: .NET's DayOfWeek, Sunday = 0.
    "weekday": lambda d: (d.weekday() + 1) % 7,
    "hour": lambda d: d.hour, "minute": lambda d: d.minute, "second": lambda d: d.second,
}


def compile_member(c: Compiler, node: n.Member) -> Typed:
    from bigcompute.autoscale.compiler import FAILED, suggest

    target = node.target
    if isinstance(target, n.Var) and cat.canonical_metric(target.name) and node.name in cat.SAMPLE_METHODS:
        return c.error(node.pos, f"{node.name} is a method; call it as {target.name}.{node.name}(...)")
    kind, fn = c.expr(target)
    if fn is None:
        return FAILED
    if kind is not T.TIMESTAMP:
        return c.error(node.pos, f"a {kind} has no member '{node.name}'; only timestamps have members "
                                 f"({', '.join(cat.TIMESTAMP_MEMBERS)})")
    getter = _MEMBERS.get(node.name)
    if getter is None:
        return c.error(node.pos, f"timestamps have no member '{node.name}'; expected one of "
                                 f"{', '.join(cat.TIMESTAMP_MEMBERS)}" + suggest(node.name, list(_MEMBERS)))
    return T.DOUBLE, guarded(node.pos, lambda rt: float(getter(_moment(fn(rt)))))  # type: ignore[arg-type]


def compile_method(c: Compiler, node: n.Method) -> Typed:
    from bigcompute.autoscale.compiler import FAILED, suggest

    target = node.target
    key = cat.canonical_metric(target.name) if isinstance(target, n.Var) else None
    if key is None:
        kind, fn = c.expr(target)
        if fn is None:
            return FAILED
        return c.error(node.pos, f"a {kind} has no method '{node.name}'; sample methods belong to the "
                                 "read-only metrics such as $PendingTasks or $CPUPercent")
    shown = target.name  # type: ignore[union-attr]
    c.mentions.add(shown)
    if node.name not in cat.SAMPLE_METHODS:
        return c.error(node.pos, f"unknown sample method '{node.name}'; expected one of "
                                 f"{', '.join(cat.SAMPLE_METHODS)}" + suggest(node.name, list(cat.SAMPLE_METHODS)))
    c.metrics.add(key)
    typed = [c.expr(a) for a in node.args]
    if any(fn is None for _, fn in typed):
        return FAILED
    kinds = [k for k, _ in typed]
    fns: list[Fn] = [fn for _, fn in typed]  # type: ignore[misc]
    got = f"; got ({', '.join(str(k) for k in kinds)})"
    if node.name == "GetSample":
        if kinds == [T.DOUBLE]:
            (count,) = fns
            return T.VEC, lambda rt: rt.history.last(key, count(rt), rt.now)  # type: ignore[arg-type]
        form = _window_form(kinds, allow_percent=True)
        if form is None:
            return c.error(node.pos, GETSAMPLE_FORMS + got)
        return T.VEC, _get_sample(key, shown, node.pos, kinds, fns, form)
    if node.name == "GetSamplePercent":
        form = _window_form(kinds, allow_percent=False)
        if form is None:
            return c.error(node.pos, "GetSamplePercent takes (start [, end]), timestamps or timeintervals" + got)
        bounds = _bounds(kinds, fns, form)
        return T.DOUBLE, lambda rt: rt.history.window(key, *bounds(rt), rt.now)[1]
    if kinds:
        return c.error(node.pos, f"{node.name}() takes no arguments" + got)
    if node.name == "GetSamplePeriod":
        return T.INTERVAL, lambda rt: rt.history.period.total_seconds()
    if node.name == "Count":
        return T.DOUBLE, lambda rt: float(rt.history.count(key, rt.now))
    return T.TIMESTAMP, _history_begin(key, shown, node.pos)


def _window_form(kinds: list[T], allow_percent: bool) -> tuple[int, bool] | None:
    """(number of time arguments, whether a samplePercent follows) for a valid window call."""
    for times in (2, 1):
        head, tail = kinds[:times], kinds[times:]
        if len(head) == times and all(k in WHEN for k in head):
            if not tail:
                return times, False
            if allow_percent and tail == [T.DOUBLE]:
                return times, True
    return None


def _bounds(kinds: list[T], fns: list[Fn], form: tuple[int, bool]):  # -> Callable[[Runtime], (start, end)]
    def instant(kind: T, f: Fn) -> Fn:
        # A timeinterval counts back from now: GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute)
        # covers from 6 minutes ago to 1 minute ago.
        return (lambda rt: rt.now - f(rt)) if kind is T.INTERVAL else f  # type: ignore[operator]

    first = instant(kinds[0], fns[0])
    second = instant(kinds[1], fns[1]) if form[0] == 2 else (lambda rt: rt.now)

    def bounds(rt: Runtime) -> tuple[float, float]:
        a, b = first(rt), second(rt)
        return (a, b) if a <= b else (b, a)  # type: ignore[return-value,operator]
    return bounds


def _get_sample(key: str, shown: str, pos: n.Pos, kinds: list[T], fns: list[Fn], form: tuple[int, bool]) -> Fn:
    bounds = _bounds(kinds, fns, form)
    wanted = fns[-1] if form[1] else None

    def get(rt: Runtime) -> tuple[float, ...]:
        values, percent = rt.history.window(key, *bounds(rt), rt.now)
        if wanted is not None:
            need = wanted(rt)
            if percent < need:  # type: ignore[operator]
                # Batch fails the whole evaluation and leaves the pool alone (reference §B6).
                raise EvaluationFailure(
                    INSUFFICIENT_SAMPLES, INSUFFICIENT,
                    f"Insufficient data from data set: {shown} wanted {format_double(need)}%, "  # type: ignore[arg-type]
                    f"received {format_double(percent)}%", pos.line, pos.column)
        return values
    return get


def _history_begin(key: str, shown: str, pos: n.Pos) -> Fn:
    def begin(rt: Runtime) -> float:
        first = rt.history.begin(key, rt.now)
        if first is None:
            raise EvaluationFailure(INSUFFICIENT_SAMPLES, INSUFFICIENT, f"{shown} has no samples yet",
                                    pos.line, pos.column)
        return first
    return begin
