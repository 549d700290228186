"""Runtime values and how Batch prints them in AutoScaleRun.results.

Every type is checked before evaluation, so values stay plain Python objects: double -> float,
doubleVec -> tuple[float, ...], string -> str, timestamp -> float seconds since the Unix epoch (UTC),
timeinterval -> float seconds, node deallocation option -> str. The static type says how to print them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import Enum


class T(Enum):
    DOUBLE = "double"
    VEC = "doubleVec"
    STRING = "string"
    TIMESTAMP = "timestamp"
    INTERVAL = "timeinterval"
    DEALLOC = "node deallocation option"
    NONE = "no value"  # stop()
    ERROR = "error"  # an already-reported problem; silences follow-on errors

    def __str__(self) -> str:
        return self.value


DEALLOCATION_OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")


def format_double(x: float) -> str:
    # Observed results print 96.6667, 0.5 and 100 (reference §B8): %g with 6 significant digits.
    # Integral values print in full rather than in exponent form; non-finite ones as .NET does.
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}".replace("e", "E")


def format_timestamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_interval(seconds: float) -> str:
    # .NET TimeSpan's constant format, [-][d.]hh:mm:ss[.fffffff]: the service is a .NET one.
    sign = "-" if seconds < 0 else ""
    ticks = round(abs(seconds) * 10_000_000)
    whole, frac = divmod(ticks, 10_000_000)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{secs:02d}"
    return text + (f".{frac:07d}" if frac else "")


def format_value(value: object, kind: T) -> str:
    if kind is T.DOUBLE:
        return format_double(value)  # type: ignore[arg-type]
    if kind is T.VEC:
        return "[" + ",".join(format_double(x) for x in value) + "]"  # type: ignore[attr-defined]
    if kind is T.TIMESTAMP:
        return format_timestamp(value)  # type: ignore[arg-type]
    if kind is T.INTERVAL:
        return format_interval(value)  # type: ignore[arg-type]
    return str(value)


def to_seconds(moment: datetime) -> float:
    """Naive datetimes are taken as UTC, as Batch's clock is."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
