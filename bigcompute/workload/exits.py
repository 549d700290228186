"""Exit conditions: what a task's exit code (or failure to start or upload) does to its job and its dependents,
rendered to Batch's `exitConditions`.

Batch's rules (https://learn.microsoft.com/rest/api/batchservice/task/add#exitoptions):
- `jobAction` is honoured only when the job's `onTaskFailure` is `performexitoptionsjobaction`, and a task
  carrying one on a `noaction` job is refused (400); its default is `none` for exit code 0 and `terminate`
  for every other exit condition.
- `dependencyAction` defaults to `satisfy` for exit code 0 and `block` otherwise.

So the job's mode follows the workload (`performs_job_actions`), and on a `performexitoptionsjobaction` job every
task's jobAction is written out: a task that says nothing must not end the job by Batch's default unless the
workload has a merge (which could never run after a failure: see runner.jobs.failure_mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JOB_ACTIONS = ("none", "disable", "terminate")
DEPENDENCY_ACTIONS = ("satisfy", "block")
PERFORM = "performexitoptionsjobaction"


@dataclass(frozen=True)
class ExitAction:
    job: str | None = None  # none | disable | terminate
    dependency: str | None = None  # satisfy | block


@dataclass(frozen=True)
class ExitConditions:
    codes: tuple[tuple[int, ExitAction], ...] = ()
    ranges: tuple[tuple[int, int, ExitAction], ...] = ()
    preprocessing: ExitAction | None = None
    upload: ExitAction | None = None
    default: ExitAction | None = None

    def actions(self) -> tuple[ExitAction, ...]:
        named = (self.preprocessing, self.upload, self.default)
        return (*(a for _, a in self.codes), *(a for _, _, a in self.ranges), *(a for a in named if a))

    @property
    def acts_on_job(self) -> bool:
        return any(a.job not in (None, "none") for a in self.actions())


def build_exit_conditions(data: Mapping[str, Any] | None) -> ExitConditions | None:
    if not data:
        return None
    action = lambda d: ExitAction(d.get("jobAction"), d.get("dependencyAction"))  # noqa: E731
    return ExitConditions(
        codes=tuple((e["code"], action(e)) for e in data.get("exitCodes", ())),
        ranges=tuple((e["start"], e["end"], action(e)) for e in data.get("exitCodeRanges", ())),
        preprocessing=action(data["preProcessingError"]) if "preProcessingError" in data else None,
        upload=action(data["fileUploadError"]) if "fileUploadError" in data else None,
        default=action(data["default"]) if "default" in data else None,
    )


def batch_exit_conditions(conditions: ExitConditions | None, perform: bool,
                          failure_action: str) -> dict[str, Any] | None:
    """Batch's `exitConditions` of a task. `perform`: the job is `performexitoptionsjobaction`; then each option
    gets a jobAction: the workload's, else none for exit code 0 and for an entry whose dependencyAction is satisfy
    (dependents are to run, so the job goes on), else `failure_action`."""
    if conditions is None:
        if not perform or failure_action == "terminate":  # Batch's own default says it: nothing to send
            return None
        conditions = ExitConditions()

    def options(a: ExitAction | None, success: bool = False) -> dict[str, str] | None:
        # an entry that lets dependents run (satisfy) means the job goes on: its jobAction defaults to none
        goes_on = success or (a is not None and a.dependency == "satisfy")
        job = (a.job if a else None) or (("none" if goes_on else failure_action) if perform else None)
        out = {k: v for k, v in (("jobAction", job), ("dependencyAction", a.dependency if a else None)) if v}
        return out or None

    body: dict[str, Any] = {
        "exitCodes": [{"code": c, "exitOptions": options(a, c == 0)} for c, a in conditions.codes] or None,
        "exitCodeRanges": [{"start": s, "end": e, "exitOptions": options(a, s == e == 0)}
                           for s, e, a in conditions.ranges] or None,
        "preProcessingError": options(conditions.preprocessing) if conditions.preprocessing else None,
        "fileUploadError": options(conditions.upload) if conditions.upload else None,
        "default": options(conditions.default),
    }
    return {k: v for k, v in body.items() if v is not None} or None
