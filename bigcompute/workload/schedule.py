"""`schedule:` in a workload: Batch's rules for a job schedule, checked before anything is created, and the model
built from it. What a schedule cannot express is refused here, located at the field that asks for it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bigcompute.document import Diagnostic, Document
from bigcompute.document.durations import DurationError, parse_duration
from bigcompute.workload.model import Schedule

# startWindow and recurrenceInterval: "The minimum value is 1 minute. If you specify a lower value, the Batch
# service rejects the schedule with an error" (BatchJobScheduleConfiguration; Job Schedule - Add, Batch REST API).
MIN_DURATION = timedelta(minutes=1)
DURATIONS = ("interval", "startWindow")
TIMES = ("doNotRunUntil", "doNotRunAfter")


def parse_time(text: Any) -> datetime:
    """An RFC 3339 date-time with its offset (Batch's doNotRunUntil/doNotRunAfter are absolute UTC times)."""
    try:
        value = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValueError(f"expected an RFC 3339 date-time with its offset, such as 2027-01-04T02:00:00Z; got {text!r}")
    return value


def check_schedule(doc: Document) -> list[Diagnostic]:
    sched = doc.data.get("schedule")
    if not isinstance(sched, Mapping):
        return []
    problems = [doc.diagnostic(("schedule", key), message, code="schedule") for key, message in _field_problems(sched)]
    times = {k: _time_or_none(sched.get(k)) for k in TIMES}
    if times["doNotRunUntil"] and times["doNotRunAfter"] and times["doNotRunAfter"] <= times["doNotRunUntil"]:
        problems.append(doc.diagnostic(("schedule", "doNotRunAfter"), "doNotRunAfter must be later than "
                                       "doNotRunUntil: no run could ever start", code="schedule"))
    return problems + _inexpressible(doc)


def _field_problems(sched: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key in DURATIONS:
        if key not in sched:
            continue
        try:
            value = parse_duration(sched[key])
        except DurationError as e:
            out.append((key, str(e)))
            continue
        if value < MIN_DURATION:
            out.append((key, f"{key} must be at least PT1M: Batch refuses a job schedule's recurrence interval or "
                             "start window under one minute"))
    for key in TIMES:
        if key in sched:
            try:
                parse_time(sched[key])
            except ValueError as e:
                out.append((key, str(e)))
    return out


def _time_or_none(text: Any) -> datetime | None:
    try:
        return parse_time(text)
    except ValueError:
        return None


def _inexpressible(doc: Document) -> list[Diagnostic]:
    """Fields whose meaning a schedule's runs cannot keep."""
    problems = []
    if "download" in doc.data:
        problems.append(doc.diagnostic(("download",), "`download` cannot be used with `schedule`: outputs are "
                                       "fetched when apply waits for the job, and no apply waits for a scheduled "
                                       "run; each run's outputs stay in the outputs container under `<schedule id>:job-<n>/`", code="schedule"))
    for i, group in enumerate(doc.data.get("tasks") or []):
        if isinstance(group, Mapping) and "blobs" in (group.get("foreach") or {}):
            problems.append(doc.diagnostic(("tasks", i, "foreach", "blobs"), "`foreach: {blobs: …}` cannot be used "
                                           "with `schedule`: the blobs are listed once, at apply, so every run would "
                                           "process the same files", code="schedule"))
    return problems


def build_schedule(sched: Mapping[str, Any]) -> Schedule:
    duration = lambda key: parse_duration(sched[key]) if key in sched else None  # noqa: E731
    time = lambda key: parse_time(sched[key]) if key in sched else None  # noqa: E731
    return Schedule(duration("interval"), duration("startWindow"), time("doNotRunUntil"), time("doNotRunAfter"))
