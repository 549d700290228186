"""Job schedules: add/get/list/update/replace, disable/enable/terminate/delete, and the jobs a schedule runs.

When a recurrence is due is the compute layer's question (compute/recurrence.py); this store keeps the
documents, checks every request against Batch's rules and creates a run's job (`<schedule>:job-<n>`).
"""

from __future__ import annotations

import math
from typing import Any, cast

from bigcompute.emulator.core.errors import (
    BatchError,
    exists,
    invalid_property,
    missing_property,
)
from bigcompute.emulator.core.formats import iso, parse_duration, parse_iso
from bigcompute.emulator.state import auto_pools
from bigcompute.emulator.state.common import Ctx, DocStore, new_doc, set_state
from bigcompute.emulator.state.db import dumps, loads
from bigcompute.emulator.state.jobs import JobStore
from bigcompute.emulator.state.models import JobDoc, JobScheduleDoc, JobScheduleState, JobState
from bigcompute.emulator.state.validate import check_id, check_runnable

S = JobScheduleState
_CREATE_KEYS = ("id", "displayName", "schedule", "jobSpecification", "metadata")
_UPDATE_KEYS = ("schedule", "jobSpecification", "metadata")
# "The minimum value is 1 minute. If you specify a lower value, the Batch service rejects the schedule with an
# error ... 400 (Bad Request)": startWindow and recurrenceInterval of BatchJobScheduleConfiguration (azure-batch
# 15.1.0 models, Job Schedule - Add in the Batch REST reference).
MIN_SCHEDULE_DURATION = 60.0
_DURATIONS = ("startWindow", "recurrenceInterval")
_TIMES = ("doNotRunUntil", "doNotRunAfter")
# Jobs that still count as the schedule's one active job: a new one is created only when none is left.
_BUSY_JOB = (JobState.ACTIVE, JobState.DISABLING, JobState.DISABLED, JobState.ENABLING, JobState.TERMINATING)


class ScheduleStore(DocStore[JobScheduleDoc]):
    # lastModified is "the last time at which the schedule level data ... changed"; the driver's own
    # bookkeeping (next run, recent job) saves with touched=False.
    table, kind, columns = "jobschedules", "JobSchedule", ("state",)
    wakes = False  # the schedules' own driver (compute/recurrence.py) acts on a change at its next pass

    def __init__(self, ctx: Ctx, jobs: JobStore) -> None:
        super().__init__(ctx)
        self.jobs = jobs

    # --- persistence -------------------------------------------------------------------------------
    def indexed(self, doc: JobScheduleDoc) -> tuple[Any, ...]:
        return (doc["state"],)

    def any_unsettled(self) -> bool:
        """Whether a schedule may need the driver: a cheap read, so an account without schedules costs nothing."""
        with self.ctx.db.lock:
            return self.ctx.db.conn.execute(
                "SELECT 1 FROM jobschedules WHERE state != 'completed' LIMIT 1").fetchone() is not None

    def unsettled(self) -> list[JobScheduleDoc]:
        rows = self.ctx.db.conn.execute("SELECT doc FROM jobschedules WHERE state != 'completed'").fetchall()
        return [cast(JobScheduleDoc, loads(text)) for (text,) in rows]

    def purge(self, schedule_id: str) -> None:
        doc = self.load(schedule_id)
        if doc["state"] != S.COMPLETED:  # a completed schedule's pool went when it completed
            self._end_auto_pool(doc)
        self.ctx.db.conn.execute("DELETE FROM jobschedules WHERE id=?", (schedule_id,))

    def jobs_of(self, schedule_id: str) -> list[JobDoc]:
        """The jobs the schedule created (`<id>:job-<n>`) that still exist, oldest first."""
        prefix = f"{schedule_id}:".lower()
        rows = self.ctx.db.conn.execute("SELECT doc FROM jobs WHERE lower(substr(id, 1, ?)) = ? ORDER BY rowid",
                                        (len(prefix), prefix)).fetchall()
        return [cast(JobDoc, loads(text)) for (text,) in rows]

    def list_jobs(self, schedule_id: str) -> list[JobDoc]:
        with self.ctx.db.lock:
            self.load(schedule_id)
            return self.jobs_of(schedule_id)

    def busy_job(self, doc: JobScheduleDoc) -> JobDoc | None:
        """The schedule's job still running (a schedule has at most one active job at a time)."""
        return next((j for j in self.jobs_of(doc["id"]) if j["state"] in _BUSY_JOB), None)

    # --- add / update ------------------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> JobScheduleDoc:
        schedule_id = check_id(spec.get("id"))
        if "schedule" not in spec:
            raise missing_property("schedule")
        _check_spec(spec)
        now = self.ctx.clock()
        doc = cast(JobScheduleDoc, new_doc({k: spec[k] for k in _CREATE_KEYS if k in spec},
                                           f"{self.ctx.base_url}/jobschedules/{schedule_id}", now, S.ACTIVE))
        doc["schedule"] = doc.get("schedule") or {}
        doc["_runs"] = 0
        doc["executionInfo"] = {}
        self._plan(doc, now)
        with self.ctx.db.tx() as c:
            if c.execute("SELECT 1 FROM jobschedules WHERE id=?", (schedule_id,)).fetchone():
                raise exists("JobSchedule")
            c.execute("INSERT INTO jobschedules (id, state, doc) VALUES (?, ?, ?)", (schedule_id, doc["state"], dumps(doc)))
        return doc

    def update(self, schedule_id: str, body: dict[str, Any], if_match: str | None, *, replace: bool) -> JobScheduleDoc:
        """PATCH changes what the body names; PUT replaces every updatable property (one left out is reset:
        no schedule means run once, now). Jobs already created keep the specification they started with."""
        if replace and "jobSpecification" not in body:
            raise missing_property("jobSpecification")
        _check_spec(body)

        def change(doc: JobScheduleDoc) -> None:
            fields = cast(dict[str, Any], doc)
            for key in _UPDATE_KEYS:
                if key in body:
                    fields[key] = body[key] or ({} if key == "schedule" else body[key])
                elif replace:
                    fields.pop(key, None)
            doc.setdefault("schedule", {})
            if replace or "schedule" in body:
                self._plan(doc, self.ctx.clock())

        return self._mutate(schedule_id, change, if_match=if_match)

    def _plan(self, doc: JobScheduleDoc, now: float) -> None:
        """When the next job is due: the first recurrence not before doNotRunUntil, or the next one after the
        last run; none past doNotRunAfter, and none after the one run of a schedule that does not recur."""
        sched = doc["schedule"]
        until = _time(sched, "doNotRunUntil")
        start = max(now, until) if until is not None else now
        interval = self.scaled(sched, "recurrenceInterval")
        last = doc.get("_last")
        if last is not None:
            start = max(start, last + interval) if interval else math.inf
        self.set_due(doc, None if start == math.inf else start)

    @staticmethod
    def deadline(doc: JobScheduleDoc) -> float | None:
        """doNotRunAfter on the clock: no job is created after it."""
        return _time(doc["schedule"], "doNotRunAfter")

    def set_due(self, doc: JobScheduleDoc, due: float | None) -> None:
        after = self.deadline(doc)
        if due is not None and after is not None and due > after:
            due = None
        doc["_due"] = due
        info = doc["executionInfo"]
        if due is None:
            info.pop("nextRunTime", None)
        else:
            info["nextRunTime"] = iso(due)

    def scaled(self, sched: dict[str, Any], key: str) -> float | None:
        """A duration of the schedule in seconds of the emulator's clock (divided by --time-scale)."""
        seconds = parse_duration(sched.get(key), f"schedule.{key}")
        return None if seconds is None else seconds / self.ctx.time_scale

    # --- runs --------------------------------------------------------------------------------------
    def run(self, doc: JobScheduleDoc, due: float) -> JobDoc:
        """Create the schedule's next job from its job specification (inside the caller's transaction)."""
        n = doc.get("_runs", 0) + 1
        job_id = f"{doc['id']}:job-{n}"
        job = self.jobs.insert(job_id, {**doc["jobSpecification"], "id": job_id}, shared_pool=doc.get("_autoPool"))
        if self._auto(doc).get("poolLifetimeOption") == "jobschedule" and "poolId" in job["executionInfo"]:
            doc["_autoPool"] = job["executionInfo"]["poolId"]  # created with the first job, shared by the next
        doc["_runs"] = n
        doc["_last"] = due
        doc["executionInfo"]["recentJob"] = {"id": job_id, "url": job["url"]}
        return job

    def finish(self, doc: JobScheduleDoc, state: JobScheduleState = S.COMPLETED) -> None:
        set_state(doc, state, self.ctx.clock())
        if state == S.COMPLETED:
            self.set_due(doc, None)
            doc["executionInfo"]["endTime"] = iso(self.ctx.clock())
            self._end_auto_pool(doc)
        self.save(doc, touched=False)

    @staticmethod
    def _auto(doc: JobScheduleDoc) -> dict[str, Any]:
        return auto_pools.spec_of((doc.get("jobSpecification") or {}).get("poolInfo")) or {}

    def _end_auto_pool(self, doc: JobScheduleDoc) -> None:
        """A jobschedule-lifetime auto pool goes with its schedule, unless keepAlive."""
        self.jobs.auto.lifetime_ended(self._auto(doc), doc.get("_autoPool"), "jobschedule")

    # --- state changes the user asks for ---------------------------------------------------------------
    def disable(self, schedule_id: str) -> None:
        self._mutate(schedule_id, lambda doc: self._move(doc, S.ACTIVE, S.DISABLED))

    def enable(self, schedule_id: str) -> None:
        self._mutate(schedule_id, lambda doc: self._move(doc, S.DISABLED, S.ACTIVE))

    def terminate(self, schedule_id: str) -> None:
        def change(doc: JobScheduleDoc) -> bool:
            if doc["state"] != S.TERMINATING:
                self.check_changeable(doc)
            return self._end(doc, S.TERMINATING)

        self._mutate(schedule_id, change, checked=False)

    def delete(self, schedule_id: str) -> None:
        self._mutate(schedule_id, lambda doc: self._end(doc, S.DELETING), checked=False)

    def _move(self, doc: JobScheduleDoc, old: JobScheduleState, new: JobScheduleState) -> bool:
        """Disable or enable: a schedule in the other state stays as it is."""
        if doc["state"] != old:
            return False
        set_state(doc, new, self.ctx.clock())
        return True

    def _end(self, doc: JobScheduleDoc, state: JobScheduleState) -> bool:
        """Terminate or delete (a schedule already on its way there stays as it is): no job is created from now on."""
        if doc["state"] == state:
            return False
        set_state(doc, state, self.ctx.clock())
        self.set_due(doc, None)
        return True

    def check_changeable(self, doc: JobScheduleDoc) -> None:
        state = doc["state"]
        if state == S.DELETING:
            raise BatchError(409, "JobScheduleBeingDeleted", "The specified job schedule has been marked for deletion "
                             "and is being reclaimed.")
        if state == S.TERMINATING:
            raise BatchError(409, "JobScheduleBeingTerminated", "The specified job schedule is being terminated.")
        if state == S.COMPLETED:
            raise BatchError(409, "JobScheduleCompleted", "The specified job schedule is already in a completed state.")


def _time(sched: dict[str, Any], key: str) -> float | None:
    value = sched.get(key)
    if value is None:
        return None
    try:
        return parse_iso(value)
    except (TypeError, ValueError) as exc:
        raise invalid_property(f"schedule.{key}", f"The value for schedule.{key} is not a valid date-time.",
                               value) from exc


def _check_spec(body: dict[str, Any]) -> None:
    """What Batch refuses in a job schedule's `schedule` and `jobSpecification`, before anything is stored."""
    sched = body.get("schedule")
    if sched is not None:
        if not isinstance(sched, dict):
            raise invalid_property("schedule", "schedule must be an object.")
        for key in _TIMES:
            _time(sched, key)
        for key in _DURATIONS:
            seconds = parse_duration(sched.get(key), f"schedule.{key}")
            if seconds is not None and seconds < MIN_SCHEDULE_DURATION:
                raise invalid_property(f"schedule.{key}", f"The value for schedule.{key} must be at least 1 minute.",
                                       sched[key])
    if "jobSpecification" not in body:
        return
    spec = body["jobSpecification"]
    if not isinstance(spec, dict):
        raise invalid_property("jobSpecification", "jobSpecification must be an object.")
    auto_pools.check_pool_info(spec.get("poolInfo") or {}, "jobSpecification.poolInfo", in_schedule=True)
    for key in ("jobManagerTask", "jobPreparationTask", "jobReleaseTask"):
        if spec.get(key):
            check_runnable(spec[key], f"jobSpecification.{key}.")
