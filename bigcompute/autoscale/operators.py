"""The operator table of reference §B3: which operand types each operator takes, and its arithmetic.

Combinations the table does not list (double * doubleVec, timestamp - timeinterval, doubleVec
comparisons, ...) are type errors: the table is the only evidence of what Batch accepts.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from bigcompute.autoscale.functions import Domain
from bigcompute.autoscale.values import T

Op = Callable[[object, object], object]

D, V, S, TS, TI = T.DOUBLE, T.VEC, T.STRING, T.TIMESTAMP, T.INTERVAL


# .NET's DateTime and TimeSpan ranges: an operation leaving them fails the evaluation, as it would in
# the service, instead of producing a value nothing can print.
TIMESTAMP_RANGE = (-62135596800.0, 253402300799.999)  # 0001-01-01 .. 9999-12-31, epoch seconds
INTERVAL_LIMIT = 10675199 * 86400.0  # TimeSpan.MaxValue, about 29,000 years


def _timestamp(op: Callable[[float, float], float]) -> Op:
    def checked(a: float, b: float) -> float:
        x = op(a, b)
        if not TIMESTAMP_RANGE[0] <= x <= TIMESTAMP_RANGE[1]:
            raise Domain("the timestamp is outside the years 1 to 9999")
        return x
    return checked  # type: ignore[return-value]


def _interval(op: Callable[[float, float], float]) -> Op:
    def checked(a: float, b: float) -> float:
        x = op(a, b)
        if not -INTERVAL_LIMIT <= x <= INTERVAL_LIMIT:
            raise Domain("the timeinterval is out of range" if x == x else "the timeinterval is not a number")
        return x
    return checked  # type: ignore[return-value]


def _div(a: float, b: float) -> float:
    # IEEE division as in .NET: x/0 is +-Infinity, 0/0 is NaN; Python would raise.
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": _div}


def _compare(fn: Callable[[object, object], bool]) -> Op:
    return lambda a, b: 1.0 if fn(a, b) else 0.0


COMPARE: dict[str, Op] = {
    "<": _compare(operator.lt), "<=": _compare(operator.le), "==": _compare(operator.eq),
    ">=": _compare(operator.ge), ">": _compare(operator.gt), "!=": _compare(operator.ne)}


def _vec_scalar(fn: Callable[[float, float], float]) -> Op:
    return lambda v, x: tuple(fn(a, x) for a in v)  # type: ignore[attr-defined]


def _vec_vec(fn: Callable[[float, float], float]) -> Op:
    def op(v: tuple[float, ...], w: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != len(w):
            raise Domain(f"doubleVec operands have different lengths ({len(v)} and {len(w)})")
        return tuple(fn(a, b) for a, b in zip(v, w, strict=True))
    return op  # type: ignore[return-value]


BINARY: dict[tuple[str, T, T], tuple[T, Op]] = {}
for _op, _fn in ARITH.items():
    BINARY[_op, D, D] = (D, _fn)  # type: ignore[assignment]
    BINARY[_op, V, D] = (V, _vec_scalar(_fn))
    BINARY[_op, V, V] = (V, _vec_vec(_fn))
for _op, _fn in COMPARE.items():
    for _t in (D, S, TS, TI):
        BINARY[_op, _t, _t] = (D, _fn)
BINARY["*", D, TI] = (TI, _interval(operator.mul))
BINARY["*", TI, D] = (TI, _interval(operator.mul))
BINARY["/", TI, D] = (TI, _interval(_div))
BINARY["+", TI, TI] = (TI, _interval(operator.add))
BINARY["-", TI, TI] = (TI, _interval(operator.sub))
BINARY["+", TI, TS] = (TS, _timestamp(operator.add))
BINARY["+", TS, TI] = (TS, _timestamp(operator.add))
# Timestamps are float epoch seconds (precise to ~0.2 us today): round their difference to the microsecond
# so `time() - time("...")` prints what was meant rather than float noise.
BINARY["-", TS, TS] = (TI, lambda a, b: round(a - b, 6))  # type: ignore[operator]

LOGICAL = ("&&", "||")  # double && double -> double, short-circuit; handled by the compiler
UNARY: dict[tuple[str, T], T] = {("-", D): D, ("-", TI): TI, ("!", D): D}


def guarded_result(left: T, right: T, result: T) -> bool:
    """Whether the operation can fail at runtime (and so needs a location attached)."""
    return result in (TI, TS) or (left is V and right is V)


def binary_error(op: str, left: T, right: T) -> str:
    return f"'{op}' is not defined for {left} and {right}"
