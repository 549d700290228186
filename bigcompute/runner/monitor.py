"""Watch a job to the end at constant cost per poll: one job GET and one task-counts GET, whatever the
job's size. Only at the end are the failed tasks listed, each with its exit code and stderr tail."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from azure.batch import BatchClient
from azure.batch import models as batch
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient

from bigcompute.runner.jobs import wire
from bigcompute.runner.killpoint import kill_point

STDERR_TAIL = 2048
# Storage refused the node's identity: BlobAccessDenied for a resource file, FileUploadAccessDenied for an output
# (Batch's task failure codes, Microsoft.Azure.Batch TaskFailureInformationCodes). Right after `pulumi up` the
# pool identity's new role assignments may not have reached storage yet: "Role assignment changes can take up to
# 10 minutes" (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected).
ACCESS_DENIED = re.compile(r"AccessDenied$")
ACCESS_HINT = ("storage refused the pool identity: it lacks a data role on that container, or its role assignment "
               "is still propagating (up to 10 minutes after `pulumi up`); `bigcompute doctor --stack STACK` checks "
               "the roles")
TASK_FAILED = "TaskFailed"  # the terminateReason Batch gives a job ended by a task's exit option
ENDED = "TaskEnded"  # the failureInfo code of a task stopped because its job ended


@dataclass(frozen=True)
class Progress:
    active: int
    running: int
    succeeded: int
    failed: int
    state: str
    terminate_reason: str | None = None  # why the job ended: AllTasksComplete, TaskFailed (a failed task ended it)…

    @property
    def ended_by_failure(self) -> bool:
        return self.terminate_reason == TASK_FAILED

    @property
    def completed(self) -> int:
        return self.succeeded + self.failed

    @property
    def total(self) -> int:
        return self.active + self.running + self.completed


@dataclass(frozen=True)
class FailedTask:
    id: str
    exit_code: int | None
    failure: str
    stderr_tail: str
    ended: bool = False  # stopped because the job ended, not failed by itself


def poll(client: BatchClient, job_id: str) -> Progress:
    job = client.get_job(job_id, select=["id", "state", "executionInfo"])
    counts = client.get_job_task_counts(job_id).task_counts
    kill_point("monitoring")
    return Progress(counts.active, counts.running, counts.succeeded, counts.failed, wire(job.state),
                    terminate_reason(job))


class Completion:
    """Decides when a watched job is over.

    Batch completes the job (terminatejob) shortly after its last task. If it stays active with every task
    done for a few polls, the outcome is final all the same. And when tasks failed, nothing runs and the
    tasks still active all wait on dependencies (a merge after a failed task), they never will run:
    the job is over too, and `blocked` names them. Only that last check lists tasks, and only active ones.
    """

    def __init__(self, total: int, blocked_check: Callable[[], list[str]] | None = None, settle_polls: int = 5):
        self.total = total
        self.blocked_check = blocked_check
        self.settle_polls = settle_polls
        self.settled = 0
        self.stalled = 0
        self.blocked: list[str] = []

    def done(self, p: Progress) -> bool:
        if p.state in ("completed", "disabled"):  # disabled: a task's exit option (jobAction) stopped the job,
            return True  # nothing runs until someone enables it, so waiting would never end
        if p.completed >= self.total and p.active == p.running == 0:
            self.settled += 1
            return self.settled > self.settle_polls
        self.settled = 0
        if p.failed and p.active and not p.running and self.blocked_check:
            self.stalled += 1
            if self.stalled > self.settle_polls:
                self.stalled = 0
                self.blocked = self.blocked_check()
                return bool(self.blocked)
        else:
            self.stalled = 0
        return False


def blocked_tasks(client: BatchClient, job_id: str) -> list[str]:
    """The active tasks, when every one of them waits on dependencies (so none can start); else []."""
    active = list(client.list_tasks(job_id, filter="state eq 'active'", select=["id", "dependsOn"],
                                    max_results=1000))
    return [t.id for t in active] if active and all(t.depends_on for t in active) else []


def watch(client: BatchClient, job_id: str, total: int, interval: float = 2.0,
          on_poll: Callable[[Progress], None] | None = None, timeout: float | None = None) -> Progress:
    """Poll until the job is over (see Completion) or the timeout passes."""
    deadline = time.monotonic() + timeout if timeout else None
    completion = Completion(total, lambda: blocked_tasks(client, job_id))
    while True:
        progress = poll(client, job_id)
        if on_poll:
            on_poll(progress)
        if completion.done(progress):
            return progress
        if deadline and time.monotonic() > deadline:
            return progress
        time.sleep(interval)


def _failure_code(task: batch.BatchTask) -> str:
    info = task.execution_info
    return (info.failure_info.code or "") if info and info.failure_info else ""


class AccessRetry:
    """Reactivates, once each, the tasks storage refused (ACCESS_DENIED): a first run right after `pulumi up`
    may meet role assignments that have not propagated yet. Lists failed tasks only when the failed count
    changed. A job Batch already completed cannot be reactivated: those tasks stay failed, and the report says why."""

    def __init__(self, client: BatchClient, job_id: str) -> None:
        self.client, self.job_id = client, job_id
        self.failed_seen = 0
        self.retried: set[str] = set()

    def check(self, progress: Progress) -> list[str]:
        """What was retried (or could not be), one sentence per task."""
        if progress.failed == self.failed_seen:
            return []
        self.failed_seen = progress.failed
        said = []
        for task in self.client.list_tasks(self.job_id, filter="executionInfo/result eq 'failure'",
                                           select=["id", "executionInfo"], max_results=1000):
            code = _failure_code(task)
            if task.id in self.retried or not ACCESS_DENIED.search(code):
                continue
            self.retried.add(task.id)
            try:
                self.client.reactivate_task(self.job_id, task.id)
            except HttpResponseError as e:
                said.append(f"task {task.id}: {code}, not retried ({e.error.code if e.error else e.status_code}): "
                            f"{ACCESS_HINT}")
            else:
                said.append(f"task {task.id}: {code}; retrying it once, in case the pool identity's role assignment "
                            "was still propagating")
        return said


def failed_tasks(client: BatchClient, job_id: str, outputs: ContainerClient | None,
                 limit: int = 20) -> list[FailedTask]:
    found = client.list_tasks(job_id, filter="executionInfo/result eq 'failure'",
                              select=["id", "executionInfo"], max_results=limit)
    out = []
    for task in found:
        info = task.execution_info
        failure = info.failure_info.message if info and info.failure_info else "failed"
        if ACCESS_DENIED.search(_failure_code(task)):
            failure = f"{failure or _failure_code(task)}: {ACCESS_HINT}"
        ended = bool(info and info.failure_info and info.failure_info.code == ENDED)
        out.append(FailedTask(task.id, info.exit_code if info else None, failure or "failed",
                              "" if ended else stderr_tail(client, job_id, task.id, outputs), ended))
        if len(out) >= limit:
            break
    return out


def stderr_tail(client: BatchClient, job_id: str, task_id: str, outputs: ContainerClient | None) -> str:
    """The end of a task's stderr: from the node while it has it, else from the uploaded log blob."""
    try:
        size = client.get_task_file_properties(job_id, task_id, "stderr.txt").content_length or 0
        start = max(0, int(size) - STDERR_TAIL)
        data = b"".join(client.download_task_file(job_id, task_id, "stderr.txt", ocp_range=f"bytes={start}-"))
        return data.decode("utf-8", "replace")
    except HttpResponseError:
        pass
    if outputs is not None:
        try:
            blob = outputs.get_blob_client(f"{job_id}/{task_id}/logs/stderr.txt")
            size = blob.get_blob_properties().size
            start = max(0, size - STDERR_TAIL)
            return blob.download_blob(offset=start).readall().decode("utf-8", "replace")
        except HttpResponseError:
            pass
    return ""


def terminate_reason(job: batch.BatchJob) -> str | None:
    return job.execution_info.termination_reason if job.execution_info else None
