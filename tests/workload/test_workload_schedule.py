"""`schedule:` in a workload: the model it builds, and every refusal located at its file, line and field, before
anything is created (Batch's one-minute minimum, date-times with their offset, combinations a schedule cannot
express)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bigcompute.workload import WorkloadError, load_workload

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
TASKS = "tasks:\n  - {id: a, command: x}\n"


def errors(write, text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(WorkloadError) as info:
        load_workload(write(text))
    return [(d.line, d.column, d.code, d.message) for d in info.value.diagnostics]


def test_a_full_schedule_loads(write) -> None:
    wl = load_workload(write(HEAD + "schedule:\n  interval: PT1H\n  startWindow: PT5M\n"
                             "  doNotRunUntil: 2027-01-04T02:00:00Z\n  doNotRunAfter: 2027-02-01T00:00:00+01:00\n"
                             + TASKS)).workload
    s = wl.schedule
    assert (s.interval, s.start_window) == (timedelta(hours=1), timedelta(minutes=5))
    assert s.not_before == datetime(2027, 1, 4, 2, tzinfo=UTC)
    assert s.not_after == datetime(2027, 1, 31, 23, tzinfo=UTC)
    assert load_workload(write(HEAD + TASKS, "plain.yaml")).workload.schedule is None


CASES = {
    "interval under a minute": ("schedule:\n  interval: PT59S\n", (6, 13, "schedule", "interval must be at least PT1M")),
    "window under a minute": ("schedule:\n  startWindow: PT30S\n",
                              (6, 16, "schedule", "startWindow must be at least PT1M")),
    "months": ("schedule:\n  interval: P1M\n", (6, 13, "schema-pattern", "ISO 8601 duration")),
    "no offset": ("schedule:\n  doNotRunUntil: 2027-01-04T02:00:00\n",
                  (6, 18, "schedule", "RFC 3339 date-time with its offset")),
    "not a date": ("schedule:\n  doNotRunAfter: tomorrow\n", (6, 18, "schedule", "RFC 3339 date-time")),
    "after before until": ("schedule:\n  doNotRunUntil: 2027-01-04T02:00:00Z\n  doNotRunAfter: 2027-01-01T00:00:00Z\n",
                           (7, 18, "schedule", "doNotRunAfter must be later than doNotRunUntil")),
    "empty": ("schedule: {}\n", (5, 11, "schema-minProperties", "")),
    "unknown key": ("schedule:\n  every: PT1H\n", (6, 3, "unknown-key", "unknown key 'every'")),
    "with download": ("schedule:\n  interval: PT1H\ndownload: ['*/out.txt']\n",
                      (7, 11, "schedule", "`download` cannot be used with `schedule`")),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_refusals_are_located(write, case) -> None:
    text, (line, column, code, message) = CASES[case]
    found = errors(write, HEAD + text + TASKS)
    assert any((d[0], d[2]) == (line, code) and message in d[3] for d in found), found
    if code == "schedule":
        assert any(d[1] == column for d in found if d[2] == code), found


def test_foreach_over_blobs_is_refused_with_a_schedule(write) -> None:
    found = errors(write, HEAD + "schedule:\n  interval: PT1H\ntasks:\n  - id: t-{stem}\n    command: x {file}\n"
                          "    foreach: {blobs: data/}\n")
    assert [(d[0], d[2]) for d in found if d[2] == "schedule"] == [(10, "schedule")]
    assert "every run would process the same files" in found[0][3]
