"""Task outcome rules: retries, exit conditions, dependency actions, job actions, requeue and terminate.

Every function runs inside the caller's transaction and takes the attempt number it acts for, so a late
result from a process that was already terminated or requeued is ignored instead of overwriting state.
"""

from __future__ import annotations

from typing import Any, cast

from bigcompute.emulator.compute.executor import ExecResult
from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.common import Ctx, set_state
from bigcompute.emulator.state.db import loads
from bigcompute.emulator.state.jobs import JobStore
from bigcompute.emulator.state.models import JobState, NodeDoc, TaskDoc, TaskState, check_task_transition
from bigcompute.emulator.state.tasks import TaskStore

EXIT_FAILURE = {
    "category": "usererror", "code": "FailureExitCode",
    "message": "The task exited with an exit code representing a failure",
    "details": [{"name": "Message", "value": "The task process exited with an unexpected exit code"},
                {"name": "AdditionalErrorCode", "value": "FailureExitCode"}],
}
ENDED_BY_USER = {"category": "usererror", "code": "TaskEnded", "message": "Task Was Ended by User Request"}


class Lifecycle:
    def __init__(self, ctx: Ctx, jobs: JobStore, tasks: TaskStore) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.tasks = tasks

    def move(self, doc: TaskDoc, new: TaskState) -> None:
        check_task_transition(doc["state"], new)
        set_state(doc, new, self.ctx.clock())

    def claim(self, job_id: str, doc: TaskDoc, pool_id: str, node: NodeDoc, task_rel: str,
              preparing: bool) -> tuple[int, str]:
        """Start an attempt on a node; returns its number and the task's stored text (see `finish`)."""
        now = iso(self.ctx.clock())
        self.move(doc, TaskState.PREPARING if preparing else TaskState.RUNNING)
        doc["_attempt"] = doc.get("_attempt", 0) + 1
        info = doc["executionInfo"]
        for key in ("endTime", "exitCode", "result", "failureInfo"):
            info.pop(key, None)
        info["startTime"] = now
        node_url = f"{self.ctx.base_url}/pools/{pool_id}/nodes/{node['id']}"
        doc["nodeInfo"] = {"affinityId": node["affinityId"], "nodeUrl": node_url, "poolId": pool_id,
                           "nodeId": node["id"], "taskRootDirectory": task_rel,
                           "taskRootDirectoryUrl": f"{node_url}/files/{task_rel}"}
        return doc["_attempt"], self.tasks.save(job_id, doc)

    def started(self, job_id: str, task_id: str, attempt: int) -> bool:
        """preparing -> running once the job preparation task is done on the node."""
        doc = self.tasks.load(job_id, task_id)
        if doc.get("_attempt") != attempt or doc["state"] != TaskState.PREPARING:
            return doc.get("_attempt") == attempt and doc["state"] == TaskState.RUNNING
        self.move(doc, TaskState.RUNNING)
        self.tasks.save(job_id, doc)
        return True

    def finish(self, job_id: str, task_id: str, attempt: int, result: ExecResult,
               claimed: tuple[str, TaskDoc] | None = None) -> TaskDoc | None:
        """Record an attempt's result; returns the task doc if it reached `completed`. `claimed` is the text
        stored at claim time and the caller's own doc for it: while the row still holds that text (nothing
        changed the task meanwhile) the doc is used as it is instead of parsing the row again."""
        text = self.tasks.text(job_id, task_id)
        if text is None:
            return None  # deleted meanwhile
        doc = claimed[1] if claimed is not None and text == claimed[0] else cast(TaskDoc, loads(text))
        if doc.get("_attempt") != attempt or doc["state"] not in (TaskState.RUNNING, TaskState.PREPARING):
            return None
        job = self.jobs.view(job_id)  # read-only; a private copy is loaded below before any change
        info = doc["executionInfo"]
        code = result.exit_code
        failed = result.phase != "exit" or code != 0
        max_retry = doc["constraints"].get("maxTaskRetryCount", 0)
        if result.phase == "exit" and code != 0 and (max_retry == -1 or info["retryCount"] < max_retry):
            # Only nonzero exit codes are retried; Batch keeps the task queued for its next try.
            info["retryCount"] += 1
            info["lastRetryTime"] = iso(self.ctx.clock())
            self.move(doc, TaskState.ACTIVE)
            self.tasks.save(job_id, doc)
            return None
        info["endTime"] = iso(self.ctx.clock())
        if code is not None:
            info["exitCode"] = code
        info["result"] = "failure" if failed else "success"
        if failed:
            info["failureInfo"] = result.failure or EXIT_FAILURE
        self.move(doc, TaskState.COMPLETED)
        options = exit_options(doc.get("exitConditions") or {}, result)
        dep_action = options.get("dependencyAction") or ("block" if failed else "satisfy")
        doc["_depOk"] = dep_action == "satisfy"
        self.tasks.save(job_id, doc)
        if doc["_depOk"] and job.get("usesTaskDependencies"):
            self.tasks.release_waiting(job_id)
        if doc.get("_killJob") and job["state"] == JobState.ACTIVE:
            # killJobOnCompletion: "when the Job Manager Task completes, the Batch service marks the Job as
            # complete" (terminateReason JMComplete); the settler ends the job's other tasks.
            job = self.jobs.load(job_id)
            self.jobs.transition(job, JobState.TERMINATING)
            job["executionInfo"]["terminateReason"] = "JMComplete"
            self.jobs.save(job)
            return doc
        if job.get("onTaskFailure") == "performexitoptionsjobaction" and job["state"] == JobState.ACTIVE:
            action = options.get("jobAction") or ("terminate" if failed else "none")
            if action in ("terminate", "disable"):
                job = self.jobs.load(job_id)
            if action == "terminate":
                self.jobs.transition(job, JobState.TERMINATING)
                job["executionInfo"]["terminateReason"] = "TaskFailed"
                self.jobs.save(job)
            elif action == "disable":
                self.jobs.transition(job, JobState.DISABLING)
                job["_disableTasks"] = "requeue"
                self.jobs.save(job)
        return doc

    def requeue(self, job_id: str, task_id: str) -> None:
        """Node removed, job disabled or service restarted: back to active, counted in requeueCount."""
        doc = self.tasks.load(job_id, task_id)
        if doc["state"] not in (TaskState.RUNNING, TaskState.PREPARING):
            return
        doc["_attempt"] = doc.get("_attempt", 0) + 1
        info = doc["executionInfo"]
        info["requeueCount"] = info.get("requeueCount", 0) + 1
        info["lastRequeueTime"] = iso(self.ctx.clock())
        self.move(doc, TaskState.ACTIVE)
        self.tasks.save(job_id, doc)

    def end(self, job_id: str, task_id: str, exit_code: int | None = None) -> TaskDoc | None:
        """Terminate: a task that has not completed completes now, as a failure ended by request."""
        doc = self.tasks.load(job_id, task_id)
        if doc["state"] == TaskState.COMPLETED:
            return None
        doc["_attempt"] = doc.get("_attempt", 0) + 1
        info = doc["executionInfo"]
        was_running = doc["state"] in (TaskState.RUNNING, TaskState.PREPARING)
        info["endTime"] = iso(self.ctx.clock())
        if was_running and exit_code is not None:
            info["exitCode"] = exit_code
        info["result"] = "failure"
        info["failureInfo"] = dict(ENDED_BY_USER)
        self.move(doc, TaskState.COMPLETED)
        doc["_depOk"] = False
        self.tasks.save(job_id, doc)
        return doc

    def reactivate(self, job_id: str, task_id: str) -> None:
        # "it will fail if the Job has completed (or is terminating or deleting)":
        # https://learn.microsoft.com/rest/api/batchservice/task/reactivate
        self.jobs.ensure_accepts_tasks(self.jobs.load(job_id))
        doc = self.tasks.load(job_id, task_id)
        if doc["state"] != TaskState.COMPLETED or doc["executionInfo"].get("result") != "failure":
            raise BatchError(409, "TaskSucceeded" if doc["state"] == TaskState.COMPLETED else "TaskNotCompleted",
                             "Only a task that completed with a failure can be reactivated.")
        doc["executionInfo"] = {"retryCount": 0, "requeueCount": doc["executionInfo"].get("requeueCount", 0)}
        doc.pop("nodeInfo", None)
        doc["_depOk"] = False
        self.move(doc, TaskState.ACTIVE)
        if doc.get("dependsOn"):
            doc["_waiting"] = not self.tasks.deps_satisfied(job_id, doc["dependsOn"])
        self.tasks.save(job_id, doc)


def exit_options(conditions: dict[str, Any], result: ExecResult) -> dict[str, Any]:
    if result.phase == "preprocessing":
        return conditions.get("preProcessingError") or conditions.get("default") or {}
    if result.phase == "fileupload":
        return conditions.get("fileUploadError") or conditions.get("default") or {}
    code = result.exit_code
    for entry in conditions.get("exitCodes") or []:
        if entry.get("code") == code:
            return entry.get("exitOptions") or {}
    for entry in conditions.get("exitCodeRanges") or []:
        if code is not None and entry.get("start", 0) <= code <= entry.get("end", -1):
            return entry.get("exitOptions") or {}
    return (conditions.get("default") or {}) if code != 0 else {}
