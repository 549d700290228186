"""ISO 8601 durations as Batch uses them (`PT30M`, `P1DT2H`), without calendar months or years."""

from __future__ import annotations

from datetime import timedelta

import isodate


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    if not isinstance(text, str) or not text.startswith("P") or text in ("P", "PT"):
        raise DurationError(f"expected an ISO 8601 duration such as PT30M or P1DT2H; got {text!r}")
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError) as e:
        raise DurationError(f"expected an ISO 8601 duration such as PT30M or P1DT2H; got {text!r}") from e
    except OverflowError as e:  # e.g. P1000000000D: past what a timedelta holds (999,999,999 days)
        raise DurationError(f"duration {text!r} is too long") from e
    if not isinstance(value, timedelta):  # isodate returns Duration for years/months
        raise DurationError(f"durations in years or months are ambiguous; use days instead of {text!r}")
    if value < timedelta(0):
        raise DurationError(f"duration must not be negative; got {text!r}")
    return value


def format_duration(value: timedelta) -> str:
    return isodate.duration_isoformat(value)
