"""Task arrivals for the simulator: CSV traces and compact synthetic specs.

CSV: a header naming `time`, `duration` and optionally `count` (default 1) and `slots` (task slots each
task takes, Batch's requiredSlots; default 1), then one row per arrival.
`time` is seconds from the start, an ISO 8601 duration (PT2H) or an ISO 8601 date-time (then offsets
count from `start`, or from the earliest row); `duration` is seconds or an ISO 8601 duration.

Specs, joined with `+` to overlay several:
    steady:rate=30/h,duration=PT10M,for=P1D[,start=PT0S]            evenly spaced
    bursty:size=200,every=PT2H,duration=PT10M,for=P1D[,start=PT0S]  `size` tasks at once, every `every`
    daily:peak=120/h,trough=10/h,peakHour=14,duration=PT10M,for=P7D  a cosine day/night cycle (UTC hours)
Each also takes `slots=N` (task slots each task takes; default 1).
Rates are N/s, N/m (or N/min), N/h or N/d. Generation is deterministic: no seed, same trace.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from bigcompute.autoscale.durations import parse_duration
from bigcompute.autoscale.values import to_seconds


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds from the simulation start
    count: int
    duration: float  # seconds each task runs
    slots: int = 1  # task slots each task takes (requiredSlots)


@dataclass(frozen=True)
class Trace:
    arrivals: tuple[Arrival, ...]
    start: datetime | None = None  # when the CSV gave absolute times

    @property
    def tasks(self) -> int:
        return sum(a.count for a in self.arrivals)

    @property
    def span(self) -> float:
        return self.arrivals[-1].at if self.arrivals else 0.0


class TraceError(ValueError):
    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")
        self.source, self.line, self.message = source, line, message


_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_rate(text: str) -> float:
    """`30/h` -> tasks per second."""
    count, _, unit = str(text).partition("/")
    try:
        value = float(count)
    except ValueError:
        value = -1.0
    if unit.strip() not in _UNITS or value < 0 or not math.isfinite(value):
        raise ValueError(f"{text!r} is not a rate such as 30/h, 2/m or 500/d")
    return value / _UNITS[unit.strip()]


def parse_spec(spec: str) -> Trace:
    arrivals: list[Arrival] = []
    for part in spec.split("+"):
        kind, _, body = part.strip().partition(":")
        params = _params(body, part)
        make = _GENERATORS.get(kind.strip())
        if make is None:
            raise TraceError("--arrivals", 0, f"unknown generator '{kind}'; expected one of {', '.join(_GENERATORS)}")
        try:
            slots = _count(params.pop("slots", "1"), "slots")
            arrivals += [replace(a, slots=slots) for a in make(params)] if slots > 1 else make(params)
        except (KeyError, ValueError) as e:
            missing = f"missing '{e.args[0]}'" if isinstance(e, KeyError) else str(e)
            raise TraceError("--arrivals", 0, f"{kind}: {missing}") from None
        unused = set(params) - _KEYS[kind.strip()] - {"slots"}
        if unused:
            raise TraceError("--arrivals", 0, f"{kind}: unknown parameter '{sorted(unused)[0]}'; expected "
                                              f"{', '.join(sorted(_KEYS[kind.strip()]))}")
    return Trace(tuple(sorted(arrivals, key=lambda a: a.at)))


def _params(body: str, part: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in body.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise TraceError("--arrivals", 0, f"'{item}' in '{part}' is not key=value")
        params[key.strip()] = value.strip()
    return params


def _seconds(p: Mapping[str, str], key: str, default: str | None = None) -> float:
    value = p.get(key, default)
    if value is None:
        raise KeyError(key)
    return parse_duration(value).total_seconds()


def _steady(p: Mapping[str, str]) -> list[Arrival]:
    rate, start, span, duration = parse_rate(p["rate"]), _seconds(p, "start", "PT0S"), _seconds(p, "for"), \
        _seconds(p, "duration")
    n = int(span * rate + 1e-9)
    return [Arrival(start + i / rate, 1, duration) for i in range(n)]


def _bursty(p: Mapping[str, str]) -> list[Arrival]:
    size, every = int(p["size"]), _seconds(p, "every")
    start, span, duration = _seconds(p, "start", "PT0S"), _seconds(p, "for"), _seconds(p, "duration")
    if size < 1 or every <= 0:
        raise ValueError("size must be at least 1 and every positive")
    return [Arrival(start + k * every, size, duration) for k in range(int(span / every - 1e-9) + 1)]


def _daily(p: Mapping[str, str]) -> list[Arrival]:
    peak, trough = parse_rate(p["peak"]), parse_rate(p.get("trough", "0/h"))
    hour, span, duration = float(p.get("peakHour", "14")), _seconds(p, "for"), _seconds(p, "duration")
    out, owed, step = [], 0.0, 60.0
    for minute in range(int(span / step)):
        t = minute * step
        phase = 2 * math.pi * ((t / 3600.0) % 24 - hour) / 24
        owed += (trough + (peak - trough) * (1 + math.cos(phase)) / 2) * step
        if owed >= 1:
            out.append(Arrival(t, int(owed), duration))
            owed -= int(owed)
    return out


_GENERATORS = {"steady": _steady, "bursty": _bursty, "daily": _daily}
_KEYS = {"steady": {"rate", "duration", "for", "start"}, "bursty": {"size", "every", "duration", "for", "start"},
         "daily": {"peak", "trough", "peakHour", "duration", "for"}}


def parse_csv(text: str, source: str = "trace.csv", start: datetime | None = None) -> Trace:
    rows = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not rows:
        raise TraceError(source, 0, "no header: expected a 'time,count,duration' line")
    header_line, header = rows[0][0], [h.strip().lower() for h in rows[0][1].split(",")]
    missing = {"time", "duration"} - set(header)
    if missing or set(header) - {"time", "count", "duration", "slots"}:
        raise TraceError(source, header_line, "header must name time, duration and optionally count and slots; "
                                              f"got {rows[0][1]!r}")
    parsed: list[tuple[int, float | datetime, int, float, int]] = []
    for number, line in rows[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        if len(cells) != len(header):
            raise TraceError(source, number, f"expected {len(header)} values, got {len(cells)}")
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        try:
            parsed.append((number, _when(row["time"]), _count(row.get("count", "1")), _length(row["duration"]),
                           _count(row.get("slots", "1"), "slots")))
        except ValueError as e:
            raise TraceError(source, number, str(e)) from None
    absolute = [w for _, w, _, _, _ in parsed if isinstance(w, datetime)]
    origin = start or (min(absolute, key=to_seconds) if absolute else None)
    arrivals = []
    for number, when, count, duration, slots in parsed:
        at = to_seconds(when) - to_seconds(origin) if isinstance(when, datetime) else when  # type: ignore[arg-type]
        if at < 0:
            raise TraceError(source, number, "arrival before the start of the simulation")
        arrivals.append(Arrival(at, count, duration, slots))
    return Trace(tuple(sorted(arrivals, key=lambda a: a.at)), origin)


def _when(text: str) -> float | datetime:
    if text.startswith("P"):
        return parse_duration(text).total_seconds()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"time {text!r} is not seconds, an ISO 8601 duration or an ISO 8601 date-time") from None


def _count(text: str, what: str = "count") -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{what} {text!r} is not a whole number of at least 1")
    return int(text)


def _length(text: str) -> float:
    try:
        value = parse_duration(text).total_seconds() if text.startswith("P") else float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"duration {text!r} is not seconds or an ISO 8601 duration")
    return value
