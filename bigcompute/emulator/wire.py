"""Wire formats Batch uses: RFC 3339 body times, RFC 1123 header times, ISO 8601 durations, ETags."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

from bigcompute.emulator.errors import invalid_property

UNBOUNDED = "P10675199DT2H48M5.4775807S"  # what the service sends for "no limit"

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_etag_counter = itertools.count()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    m = _DURATION.match(value)
    if not m:
        raise invalid_property(prop, f"The value for {prop} is not a valid ISO 8601 duration.", value)
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
