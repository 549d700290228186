"""ISO 8601 durations (`PT5M`, `PT1H30M`, `P1D`), the way stack files and the CLI write times."""

from __future__ import annotations

import re
from datetime import timedelta

# Weeks, days, hours, minutes, seconds. Years and months have no fixed length, so they are refused.
_DURATION = re.compile(
    r"^P(?=\d|T\d)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
# The same language for JSON Schema `pattern` (ECMA 262 supports these lookaheads).
PATTERN = r"^P(?=\d|T\d)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT5M, PT1H30M or P1D")
    weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    total = value.total_seconds()
    days, rest = divmod(int(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    seconds_f = seconds + (total - int(total))
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M")) if v)
    if seconds_f:
        time += f"{seconds_f:g}S"
    text = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return text if text != "P" else "PT0S"
