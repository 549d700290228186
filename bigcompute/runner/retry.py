"""`retry`: run a workload's failed tasks again, the way Batch allows it.

While the job is active, Batch reactivates a failed task in place (its retry count starts again). Batch refuses
that once the job has completed, is terminating or deleting (https://learn.microsoft.com/rest/api/batchservice/
task/reactivate): an ended job — every job without a merge once all its tasks completed, every job with one after
a failed task — is run again as the spec's next attempt, `<job>-r<N>`, a new job that reuses the outputs of every
task that succeeded (see reuse.py) and runs the others.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from azure.core.exceptions import HttpResponseError

from bigcompute.runner.clients import Clients
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import JobInfo, attempt_id, job_info
from bigcompute.runner.plan import WorkloadPlan
from bigcompute.runner.reuse import plan_reuse

ENDED = ("completed", "terminating", "deleting")


class NotRetryable(DeployError):
    """The request cannot be met as asked (exit 2): a task that did not fail, or --task on an ended job."""


@dataclass(frozen=True)
class RetryPlan:
    job: JobInfo  # the spec's latest job
    failed: list[str]  # its failed tasks
    reactivate: list[str]  # active job: the failed tasks to reactivate in place
    attempt: WorkloadPlan | None = None  # ended job: the next attempt, to apply


def failed_task_ids(clients: Clients, job_id: str) -> list[str]:
    tasks = clients.batch.list_tasks(job_id, filter="executionInfo/result eq 'failure'", select=["id"],
                                     max_results=1000)
    return [t.id for t in tasks]


def plan_retry(clients: Clients, wp: WorkloadPlan, earlier: list[JobInfo], only: tuple[str, ...] = ()) -> RetryPlan:
    """What `retry` will do; raises NotRetryable before any change when it cannot do what was asked."""
    if wp.loaded.workload.schedule is not None:
        raise NotRetryable(f"workload {wp.name} runs as a job schedule: its next run runs every task again")
    if wp.status in ("new", "changed"):
        raise DeployError(f"workload {wp.name} has no job for its current definition: run `bigcompute apply` (which "
                          "reuses the tasks of earlier jobs that did not change)")
    job = job_info(clients.batch.get_job(wp.job_id, select=["id", "state", "metadata", "creationTime",
                                                            "executionInfo"]))
    failed = failed_task_ids(clients, wp.job_id)
    unknown = [t for t in only if t not in failed]
    if unknown:
        raise NotRetryable(f"job {wp.job_id}: task(s) {', '.join(unknown)} did not fail; failed tasks: "
                           f"{', '.join(failed) or 'none'}")
    if job.state not in ENDED:
        return RetryPlan(job, failed, list(only or failed))
    if only:
        raise NotRetryable(f"job {wp.job_id} has ended ({job.state}): Batch reactivates tasks only in an active job, "
                           f"so --task cannot be met; `bigcompute retry {wp.name}` runs its next attempt, which reruns "
                           "every task that did not succeed and reuses the others")
    if not failed and wp.status == "unchanged":
        return RetryPlan(job, [], [])
    attempt = wp.attempt + 1
    job_id = attempt_id(f"{wp.name}-{wp.spec[:8]}", attempt)
    reuse = plan_reuse(clients, wp.loaded, job_id, wp.spec, wp.sync, earlier)
    return RetryPlan(job, failed, [], replace(wp, job_id=job_id, status="new", reuse=reuse, attempt=attempt))


def reactivate(clients: Clients, job_id: str, task_ids: list[str]) -> None:
    for task_id in task_ids:
        try:
            clients.batch.reactivate_task(job_id, task_id)
        except HttpResponseError as e:
            code = e.error.code if e.error else e.status_code
            raise DeployError(f"job {job_id}: Batch refused to reactivate task {task_id} ({code})") from None
