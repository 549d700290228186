"""Wire formats Batch uses: RFC 3339 body times, RFC 1123 header times, ISO 8601 durations, ETags."""

from __future__ import annotations

import functools
import itertools
import math
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

from bigcompute.emulator.core.errors import invalid_property

UNBOUNDED = "P10675199DT2H48M5.4775807S"  # what the service sends for "no limit"

_DURATION = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)
_etag_counter = itertools.count()


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, reused within that second


def iso(ts: float) -> str:
    """RFC 3339 with microseconds and Z, as `datetime.fromtimestamp(ts, UTC).strftime(...%fZ)` gives it;
    called several times per task, so the date part is formatted once per second."""
    global _second
    whole = math.floor(ts)
    micros = round((ts - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    sec, prefix = _second
    if sec != whole:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, prefix)
    return f"{prefix}.{micros:06d}Z"


def rfc1123(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def parse_rfc1123(value: str) -> float | None:
    try:
        return datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def parse_duration(value: str | None, prop: str) -> float | None:
    """Seconds, or None for absent/unbounded. `P` alone (the SDK's timedelta(0)) is zero."""
    if value is None or value == UNBOUNDED:
        return None
    seconds = _seconds(value)
    if seconds is None:
        raise invalid_property(prop, f"The value for {prop} is not a valid ISO 8601 duration.", value)
    return seconds


@functools.lru_cache(maxsize=256)  # a handful of distinct values (P7D...) are parsed for every task
def _seconds(value: str) -> float | None:
    m = _DURATION.fullmatch(value)
    if not m:
        return None
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]).total_seconds()


def new_etag() -> str:
    # Monotonic and unique within a process, shaped like Batch's (0x8D...).
    return "0x8D" + format(time.time_ns() // 100 + next(_etag_counter), "X")[-13:]


def parse_iso(value: str) -> float:
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
