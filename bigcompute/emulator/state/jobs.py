"""Jobs: add/get/list/patch, terminate/delete/disable/enable (transitional states settle in the scheduler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from bigcompute.emulator.core.errors import (
    BatchError,
    exists,
    invalid_property,
    not_found,
)
from bigcompute.emulator.core.formats import UNBOUNDED, iso, parse_duration
from bigcompute.emulator.state import auto_pools
from bigcompute.emulator.state.auto_pools import AutoPools
from bigcompute.emulator.state.common import Ctx, DocStore, new_doc, set_state
from bigcompute.emulator.state.db import dumps, loads
from bigcompute.emulator.state.models import JobDoc, JobState, check_job_transition
from bigcompute.emulator.state.validate import check_id, check_job_manager, check_runnable

_CREATE_KEYS = (
    "id", "displayName", "priority", "maxParallelTasks", "allowTaskPreemption", "usesTaskDependencies",
    "constraints", "poolInfo", "commonEnvironmentSettings", "onAllTasksComplete", "onTaskFailure", "metadata",
    "jobPreparationTask", "jobReleaseTask", "networkConfiguration", "jobManagerTask",
)
_PATCH_KEYS = ("priority", "allowTaskPreemption", "maxParallelTasks", "constraints", "poolInfo",
               "onAllTasksComplete", "metadata", "networkConfiguration")


def pool_of(doc: JobDoc) -> str | None:
    """The pool the job runs on: its poolInfo's, or the auto pool created for it (executionInfo.poolId)."""
    return (doc.get("poolInfo") or {}).get("poolId") or (doc.get("executionInfo") or {}).get("poolId")


class JobStore(DocStore[JobDoc]):
    table, kind, columns = "jobs", "Job", ("state", "pool_id", "priority")

    def __init__(self, ctx: Ctx, auto: AutoPools) -> None:
        super().__init__(ctx)
        self.auto = auto
        # Called inside the transaction that adds a job (the task store adds its job manager task then).
        self.on_insert: Callable[[JobDoc], None] = lambda doc: None

    def indexed(self, doc: JobDoc) -> tuple[Any, ...]:
        return doc["state"], pool_of(doc), doc.get("priority", 0)

    def view(self, job_id: str) -> JobDoc:
        """The job, read-only (a shared parsed doc: see ViewCache); `load` gives a copy to change."""
        row = self.ctx.db.conn.execute("SELECT doc FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise not_found("Job")
        return cast(JobDoc, self.ctx.db.view(row[0]))

    def active_views(self, pool_id: str) -> list[JobDoc]:
        """The pool's active jobs, highest priority first, then oldest: read-only shared docs (dispatch)."""
        view = self.ctx.db.view
        rows = self.ctx.db.conn.execute("SELECT doc FROM jobs WHERE pool_id=? COLLATE NOCASE AND state='active' "
                                        "ORDER BY priority DESC, rowid", (pool_id,)).fetchall()
        return [cast(JobDoc, view(text)) for (text,) in rows]

    def unsettled(self) -> list[JobDoc]:
        """Jobs the settler may have to move on: every state but completed and disabled."""
        rows = self.ctx.db.conn.execute("SELECT doc FROM jobs WHERE state NOT IN ('completed', 'disabled')")
        return [cast(JobDoc, loads(text)) for (text,) in rows.fetchall()]

    def forget_node(self, pool_id: str, node_id: str) -> None:
        """A reimaged node: the pool's jobs run their preparation task on it again (and may send it tasks)."""
        rows = self.ctx.db.conn.execute("SELECT doc FROM jobs WHERE pool_id=? COLLATE NOCASE", (pool_id,)).fetchall()
        for (text,) in rows:
            job = cast(JobDoc, loads(text))
            if node_id in job.get("_prep", {}):
                job["_prep"].pop(node_id)
                job.get("_prepInfo", {}).pop(node_id, None)
                job["_prepFailed"] = [n for n in job.get("_prepFailed", []) if n != node_id]
                self.save(job, touched=False)

    def purge(self, job_id: str) -> None:
        """The end of a deletion: the job's row and its tasks' rows go, and its auto pool unless a completed job's
        went already."""
        doc = self.load(job_id)
        if doc.get("previousState") != JobState.COMPLETED:
            self._end_auto_pool(doc)
        self.ctx.db.conn.execute("DELETE FROM tasks WHERE job_id=?", (job_id,))
        self.ctx.db.conn.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def ensure(self, job_id: str) -> None:
        """JobNotFound unless the job exists."""
        if self.ctx.db.conn.execute("SELECT 1 FROM jobs WHERE id=?", (job_id,)).fetchone() is None:
            raise not_found("Job")

    def transition(self, doc: JobDoc, new: JobState) -> None:
        check_job_transition(doc["state"], new)
        set_state(doc, new, self.ctx.clock())
        doc.pop("_until", None)  # a new transitional state runs on its own clock (compute/transitions.py)

    def create(self, spec: dict[str, Any]) -> JobDoc:
        return self.insert(check_id(spec.get("id")), spec)

    def insert(self, job_id: str, spec: dict[str, Any], shared_pool: str | None = None) -> JobDoc:
        """A new job under `job_id`: a checked user id, or `<schedule>:job-<n>` when a job schedule runs.
        `shared_pool`: the schedule's auto pool (lifetime jobschedule) the job runs on instead of a new one."""
        pool_info = spec.get("poolInfo") or {}
        auto_pools.check_pool_info(pool_info, "poolInfo", in_schedule=":" in job_id)
        if spec.get("jobManagerTask"):
            check_job_manager(spec["jobManagerTask"], spec)
        for key in ("jobPreparationTask", "jobReleaseTask"):
            if spec.get(key):
                check_runnable(spec[key], f"{key}.")
        if spec.get("jobReleaseTask") and not spec.get("jobPreparationTask"):
            raise invalid_property("jobReleaseTask", "A job release task requires a job preparation task.")
        now = self.ctx.clock()
        doc = cast(JobDoc, new_doc({k: spec[k] for k in _CREATE_KEYS if k in spec}, f"{self.ctx.base_url}/jobs/{job_id}",
                                    now, JobState.ACTIVE))
        self._normalize(doc)
        doc["executionInfo"] = {"startTime": iso(now)}
        with self.ctx.db.tx() as c:
            if c.execute("SELECT 1 FROM jobs WHERE id=?", (job_id,)).fetchone():
                raise exists("Job")
            self._assign_pool(doc, pool_info, shared_pool)
            c.execute("INSERT INTO jobs (id, state, pool_id, priority, doc) VALUES (?, ?, ?, ?, ?)",
                      (job_id, doc["state"], pool_of(doc), doc["priority"], dumps(doc)))
            if doc["state"] == JobState.ACTIVE:
                self.on_insert(doc)
        return doc

    def _assign_pool(self, doc: JobDoc, pool_info: dict[str, Any], shared_pool: str | None) -> None:
        """executionInfo.poolId: the pool named, the schedule's auto pool, or a new auto pool. When the auto pool
        cannot be created the job is completed with the pool's error as its schedulingError (BatchPoolInfo)."""
        auto = auto_pools.spec_of(pool_info)
        try:
            pool_id = pool_info.get("poolId") or shared_pool or self.auto.create(cast(dict[str, Any], auto))
        except BatchError as err:
            now = self.ctx.clock()
            set_state(doc, JobState.COMPLETED, now)
            doc["executionInfo"].update(endTime=iso(now), schedulingError=auto_pools.scheduling_error(err))
            return
        doc["executionInfo"]["poolId"] = pool_id

    @staticmethod
    def _normalize(doc: JobDoc) -> None:
        doc.setdefault("priority", 0)
        doc.setdefault("maxParallelTasks", -1)
        doc.setdefault("allowTaskPreemption", False)
        doc.setdefault("usesTaskDependencies", False)
        doc.setdefault("onAllTasksComplete", "noaction")
        doc.setdefault("onTaskFailure", "noaction")
        constraints = doc.setdefault("constraints", {})
        constraints.setdefault("maxWallClockTime", UNBOUNDED)
        constraints.setdefault("maxTaskRetryCount", 0)
        parse_duration(constraints["maxWallClockTime"], "constraints.maxWallClockTime")
        if not isinstance(doc["priority"], int) or not -1000 <= doc["priority"] <= 1000:
            raise invalid_property("priority", "priority must be between -1000 and 1000.", doc["priority"])

    def patch(self, job_id: str, body: dict[str, Any], if_match: str | None) -> JobDoc:
        def change(doc: JobDoc) -> None:
            if "poolInfo" in body:
                auto_pools.check_pool_info(body["poolInfo"] or {}, "poolInfo", in_schedule=":" in job_id)
                auto_pools.check_update(doc.get("poolInfo"), body["poolInfo"])
            fields = cast(dict[str, Any], doc)  # the keys below are names from a list, not literals
            for key in _PATCH_KEYS:
                if key in body:
                    fields[key] = body[key] if key != "constraints" else {**doc.get("constraints", {}), **body[key]}
            self._normalize(doc)

        return self._mutate(job_id, change, if_match=if_match)  # switching to terminatejob may complete the job now

    def replace(self, job_id: str, body: dict[str, Any], if_match: str | None) -> JobDoc:
        """PUT: every updatable property is replaced; one left out goes back to its default."""
        auto_pools.check_pool_info(body.get("poolInfo") or {}, "poolInfo", in_schedule=":" in job_id)

        def change(doc: JobDoc) -> None:
            auto_pools.check_update(doc.get("poolInfo"), body["poolInfo"])
            if doc.get("onAllTasksComplete") == "terminatejob" and body.get("onAllTasksComplete", "noaction") \
                    == "noaction":
                raise invalid_property("onAllTasksComplete", "A job's completion behavior cannot be changed from "
                                       "terminatejob to noaction.", body.get("onAllTasksComplete", "noaction"))
            fields = cast(dict[str, Any], doc)
            for key in _PATCH_KEYS:
                if key in body:
                    fields[key] = body[key]
                else:  # poolInfo is required above
                    fields.pop(key, None)
            self._normalize(doc)

        return self._mutate(job_id, change, if_match=if_match)

    def request_terminate(self, job_id: str, reason: str | None) -> JobDoc:
        def change(doc: JobDoc) -> None:
            if doc["state"] == JobState.TERMINATING:
                raise BatchError(409, "JobBeingTerminated", "The specified job is being terminated.")
            if doc["state"] == JobState.COMPLETED:
                raise BatchError(409, "JobCompleted", "The specified job is already in a completed state.")
            self.transition(doc, JobState.TERMINATING)
            doc["executionInfo"]["terminateReason"] = reason or "UserTerminate"

        return self._mutate(job_id, change)

    def request_delete(self, job_id: str) -> None:
        def change(doc: JobDoc) -> bool:
            if doc["state"] == JobState.DELETING:
                return False
            self.transition(doc, JobState.DELETING)
            return True

        self._mutate(job_id, change, checked=False)

    def request_disable(self, job_id: str, disable_tasks: str) -> None:
        if disable_tasks not in ("requeue", "terminate", "wait"):
            raise invalid_property("disableTasks", "disableTasks must be requeue, terminate or wait.", disable_tasks)

        def change(doc: JobDoc) -> bool:
            if doc["state"] in (JobState.DISABLING, JobState.DISABLED):
                return False  # "any state other than active, disabling, or disabled" fails (Job - Disable)
            self.transition(doc, JobState.DISABLING)
            doc["_disableTasks"] = disable_tasks
            return True

        self._mutate(job_id, change)

    def request_enable(self, job_id: str) -> None:
        self._mutate(job_id, lambda doc: self.transition(doc, JobState.ENABLING))

    def check_changeable(self, doc: JobDoc) -> None:
        if doc["state"] == JobState.DELETING:
            raise BatchError(409, "JobBeingDeleted", "The specified job has been marked for deletion and is being "
                             "garbage collected.")

    def ensure_accepts_tasks(self, doc: JobDoc) -> None:
        self.check_changeable(doc)
        if doc["state"] in (JobState.COMPLETED, JobState.TERMINATING):
            raise BatchError(409, "JobCompleted", "The specified job is already in a completed state.")

    def complete(self, doc: JobDoc, reason: str | None = None) -> None:
        """Move an active/terminating job to completed (the scheduler has stopped its tasks)."""
        now = self.ctx.clock()
        if doc["state"] != JobState.TERMINATING:
            self.transition(doc, JobState.TERMINATING)
        self.transition(doc, JobState.COMPLETED)
        info = doc["executionInfo"]
        info["endTime"] = iso(now)
        if reason and not info.get("terminateReason"):
            info["terminateReason"] = reason
        self.save(doc)
        self._end_auto_pool(doc)

    def _end_auto_pool(self, doc: JobDoc) -> None:
        """A job-lifetime auto pool goes with its job (when it completes or is deleted), unless keepAlive."""
        self.auto.lifetime_ended(auto_pools.spec_of(doc.get("poolInfo")), doc["executionInfo"].get("poolId"), "job")
