"""Built-in functions (reference §B5): their signatures and their arithmetic on plain floats."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from bigcompute.autoscale.values import T


class Domain(Exception):
    """A function cannot compute its value; the caller adds the location."""


def _nonempty(name: str, v: Sequence[float]) -> Sequence[float]:
    if not v:
        raise Domain(f"{name}() of an empty vector (are there samples in the window?)")
    return v


def _sum(v: Sequence[float]) -> float:
    try:
        return math.fsum(v)  # exact for the usual small counts
    except (OverflowError, ValueError):  # inf - inf, or an intermediate overflow: IEEE's answer
        return sum(v)


def _std(v: Sequence[float]) -> float:
    # The docs say "sample standard deviation": divide by n - 1. One value has no spread.
    v = _nonempty("std", v)
    if len(v) < 2:
        return 0.0
    mean = _sum(v) / len(v)
    return math.sqrt(_sum([(x - mean) * (x - mean) for x in v]) / (len(v) - 1))


def _log(fn: Callable[[float], float]) -> Callable[[float], float]:
    def log(x: float) -> float:
        # IEEE results, as .NET's Math.Log gives, instead of Python's ValueError.
        if x > 0:
            return fn(x)
        return -math.inf if x == 0 else math.nan
    return log


# doubleVecList -> double: the argument list is flattened into one vector first.
AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "avg": lambda v: _sum(_nonempty("avg", v)) / len(v),
    "len": lambda v: float(len(v)),
    "max": lambda v: max(_nonempty("max", v)),
    "min": lambda v: min(_nonempty("min", v)),
    "norm": lambda v: math.sqrt(_sum([x * x for x in v])),
    "range": lambda v: max(_nonempty("range", v)) - min(v),
    "std": _std,
    "sum": _sum,
}
# An empty list is allowed by the grammar of doubleVecList but can only fail for these.
NEEDS_VALUES = {"avg", "max", "min", "range", "std"}
LOGS: dict[str, Callable[[float], float]] = {"lg": _log(math.log2), "ln": _log(math.log), "log": _log(math.log10)}


def percentile(v: Sequence[float], p: float) -> float:
    # "The percentile element of v": an element, so nearest-rank rather than interpolation.
    v = sorted(_nonempty("percentile", v))
    if not 0 <= p <= 100:
        raise Domain(f"percentile() needs a percentage between 0 and 100, got {p:g}")
    rank = max(1, math.ceil(p / 100 * len(v)))
    return v[rank - 1]


def val(v: Sequence[float], i: float) -> float:
    index = int(i) if math.isfinite(i) else -1
    if not 0 <= index < len(v):
        raise Domain(f"val() index {i:g} is outside the vector of {len(v)} element(s)")
    return v[index]


# At most 7 fractional digits of a second (100 ns, .NET's tick): Batch cannot read time("...49.123456789Z"),
# the nanosecond form Java's Instant.toString() writes, and fails the formula (nextflow-io/nextflow#3866).
_W3C = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$")


def parse_time(text: str) -> float | None:
    """W3C-DTF or RFC 1123, the two formats time() accepts; None when neither matches."""
    text = text.strip()
    m = _W3C.match(text)
    if m:
        year, month, day, hour, minute, second, frac, zone = m.groups()
        try:
            moment = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                              int(second or 0), round(float(frac or 0) * 1e6), tzinfo=UTC)
        except ValueError:
            return None
        offset = 0
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        return moment.timestamp() - offset
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def signature_error(name: str, types: Sequence[T]) -> tuple[T, str | None, int | None]:
    """The result type of calling `name` with arguments of `types`, or an error message and the index of the
    argument it is about (None when the number of arguments is wrong)."""
    shown = ", ".join(str(t) for t in types)
    if name in AGGREGATES:
        bad = _first(types, lambda t: t not in (T.DOUBLE, T.VEC))
        if bad is not None:
            return T.ERROR, f"{name}() takes doubles and doubleVecs, not ({shown}): argument {bad + 1} is a " \
                            f"{types[bad]}", bad
        if not types and name in NEEDS_VALUES:
            return T.ERROR, f"{name}() needs at least one value", None
        return T.DOUBLE, None, None
    if name in LOGS:
        bad = _first(types, lambda t: t not in (T.DOUBLE, T.VEC))
        if not types or bad is not None:
            return T.ERROR, f"{name}() takes a double or a doubleVec list, not ({shown})", bad
        return (T.DOUBLE if list(types) == [T.DOUBLE] else T.VEC), None, None
    if name in ("percentile", "val"):
        if list(types) != [T.VEC, T.DOUBLE]:
            arg = "p" if name == "percentile" else "i"
            bad = None if len(types) != 2 else (0 if types[0] is not T.VEC else 1)
            return T.ERROR, f"{name}() takes (doubleVec v, double {arg}), not ({shown})", bad
        return T.DOUBLE, None, None
    if name == "rand":
        return (T.DOUBLE, None, None) if not types else (T.ERROR, "rand() takes no arguments", None)
    if name == "stop":
        return (T.NONE, None, None) if not types else (T.ERROR, "stop() takes no arguments", None)
    if name == "time":
        if list(types) in ([], [T.STRING]):
            return T.TIMESTAMP, None, None
        return T.ERROR, f"time() takes an optional date string, not ({shown})", 0 if len(types) == 1 else None
    raise KeyError(name)


def _first(types: Sequence[T], wrong: Callable[[T], bool]) -> int | None:
    return next((i for i, t in enumerate(types) if wrong(t)), None)


FUNCTIONS = (*AGGREGATES, *LOGS, "percentile", "rand", "stop", "time", "val")
