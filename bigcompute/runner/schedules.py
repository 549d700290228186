"""Scheduled workloads (`schedule:`): a Batch job schedule instead of one job, its runs, and removing it.

Batch creates each run's job empty. `apply` therefore stores the workload's tasks, expanded once (Batch's JSON,
one per line, the job id left as JOB_MARK), beside its inputs, with `addtasks.py`; the job specification carries
a job manager task that downloads both and adds the tasks as the pool's user-assigned managed identity (its
client id in AZURE_CLIENT_ID; the stack grants it Azure Batch Job Submitter on the account, components/identity.py),
the same way on Azure and on the local target, then the job ends with its last task (onAllTasksComplete
terminatejob; the manager does not end it: killJobOnCompletion false). The schedule's id is the job id the
workload's spec would have, and it carries the same metadata as a job, so plan, prune and delete treat it as
the workload's job; the run jobs carry none of it (`list_jobs_from_schedule` finds them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from azure.batch import BatchClient
from azure.batch import models as batch
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from bigcompute.runner.clients import Clients
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import WORKLOAD, JobInfo, job_info, job_model, metadata, wire
from bigcompute.runner.submit import SubmitReport
from bigcompute.workload import Workload, iter_tasks
from bigcompute.workload.deps import DependencyCollector
from bigcompute.workload.storage import JOB_MARK
from bigcompute.workload.wire import StorageContext, blob_url, shell_command, task_body

if TYPE_CHECKING:
    from bigcompute.runner.apply import Hooks
    from bigcompute.runner.plan import WorkloadPlan

KIND = "schedule"  # JobInfo.kind of a job schedule
MANAGER_ID = "bigcompute-addtasks"  # the job manager task of every run
SCHEDULE = "bigcompute.schedule"  # metadata of a run's job: the schedule that created it
SCRIPT = Path(__file__).with_name("addtasks.py")
RUNS_SHOWN = 10  # `status` shows this many of the latest runs


def stored_name(workload: str, spec: str, name: str) -> str:
    """Beside .specs/ in the inputs container, apart from the content-addressed inputs under <workload>/."""
    return f".schedules/{workload}/{spec}/{name}"


def schedule_refusal(clients: Clients, wl: Workload) -> str | None:
    """Why the target cannot run the workload's schedule, or None. Task authentication tokens were retired on
    30 September 2024 (https://learn.microsoft.com/powershell/azure/upcoming-breaking-changes, Get-AzBatchJobSchedule),
    so a run's job manager authenticates as the pool's managed identity
    (https://learn.microsoft.com/azure/batch/managed-identity-pools): a pool without the stack's identity cannot
    run one. A pool that is not deployed is left to the submission's own refusal."""
    if wl.schedule is None or wl.pool not in clients.target.pool_ids:
        return None
    if pool_client_id(clients, wl.pool) is not None:
        return None
    stack = clients.target.stack
    # a data-plane pool cannot gain an identity: Azure's pool is updated through ARM, a local one is recreated
    fix = (f"deploy the stack again (`pulumi up --stack {stack}`), which assigns it" if clients.target.kind == "azure"
           else "its local pools predate pool identities: recreate the local target (`bigcompute local down --purge`, "
                "then `bigcompute local up`)")
    return (f"a scheduled workload's job manager adds the tasks as the pool's managed identity, and pool "
            f"'{wl.pool}' of stack '{stack}' (stacks/Pulumi.{stack}.yaml) does not carry the stack's identity "
            f"{clients.target.identity_resource_id or '(the stack outputs name none: identityResourceId)'}; {fix}")


def pool_client_id(clients: Clients, pool: str) -> str | None:
    """The client id of the stack's identity on the workload's pool, as Batch reports the pool's identities."""
    wanted = (clients.target.identity_resource_id or "").lower()
    identity = clients.batch.get_pool(clients.target.pool_id(pool), select=["id", "identity"]).identity
    for uai in (identity.user_assigned_identities or []) if identity and wanted else []:
        if uai.resource_id.lower() == wanted and uai.client_id:
            return uai.client_id
    return None


# --- apply ------------------------------------------------------------------------------------------------
def ensure_schedule(clients: Clients, plan: WorkloadPlan, ctx: StorageContext, hooks: Hooks) -> SubmitReport:
    """Create the workload's job schedule unless it exists (then check it is this spec's): idempotent."""
    if _existing(clients, plan) is not None:
        return SubmitReport(existing=plan.runs)
    wl = plan.loaded.workload
    inputs = clients.container("inputs")
    hooks.step(f"storing the {plan.runs:,} tasks every run adds")
    inputs.upload_blob(stored_name(wl.name, plan.spec, "tasks.jsonl"), _task_lines(plan, ctx), overwrite=True)
    inputs.upload_blob(stored_name(wl.name, plan.spec, SCRIPT.name), SCRIPT.read_bytes(), overwrite=True)
    pool_id = clients.target.pool_id(wl.pool)
    client_id = pool_client_id(clients, wl.pool)
    if client_id is None:  # checked by the plan; the pool changed since
        raise DeployError(schedule_refusal(clients, wl) or f"pool {pool_id} lost the stack's identity")
    hooks.step(f"creating job schedule {plan.job_id} on pool {pool_id}")
    try:
        clients.batch.create_job_schedule(batch.BatchJobScheduleCreateOptions(
            id=plan.job_id, display_name=(wl.description or wl.name)[:1024], schedule=configuration(wl),
            job_specification=job_specification(clients, plan, ctx, pool_id, client_id),
            metadata=metadata(wl, plan.spec, submitted=True, stack=clients.target.stack)))
    except ResourceExistsError:  # a retried create whose first attempt got through, or a racing apply
        _existing(clients, plan)
        return SubmitReport(existing=plan.runs)
    hooks.added(plan.runs)
    return SubmitReport(added=plan.runs)


def _existing(clients: Clients, plan: WorkloadPlan) -> JobInfo | None:
    try:
        info = job_info(clients.batch.get_job_schedule(plan.job_id))
    except ResourceNotFoundError:
        return None
    if info.workload != plan.name or info.spec != plan.spec:
        raise DeployError(f"job schedule {plan.job_id} exists but was not created by bigcompute for this workload "
                          "spec; delete it or rename the workload")
    if info.state == "deleting":
        raise DeployError(f"job schedule {plan.job_id} is being deleted; wait for the deletion, then apply again")
    return info


def configuration(wl: Workload) -> batch.BatchJobScheduleConfiguration:
    s = wl.schedule
    assert s is not None
    return batch.BatchJobScheduleConfiguration(do_not_run_until=s.not_before, do_not_run_after=s.not_after,
                                               start_window=s.start_window, recurrence_interval=s.interval)


def job_specification(clients: Clients, plan: WorkloadPlan, ctx: StorageContext, pool_id: str,
                      client_id: str) -> batch.BatchJobSpecification:
    """The job `apply` would create for the workload, as every run's job: ended by its last task, its tasks
    added by the job manager task as the pool identity `client_id`."""
    wl = plan.loaded.workload
    body = job_model(wl, plan.job_id, pool_id, plan.spec, clients.target.stack, stage=plan.sync.stage,
                     ctx=ctx).as_dict()
    body.pop("id")
    body["onAllTasksComplete"] = "terminatejob"  # the manager is a task: no run ends before it added the rest
    body["metadata"] = [{"name": SCHEDULE, "value": plan.job_id}, {"name": WORKLOAD, "value": wl.name}]
    body["jobManagerTask"] = manager_task(plan, ctx, client_id)
    return batch.BatchJobSpecification(body)


def manager_task(plan: WorkloadPlan, ctx: StorageContext, client_id: str) -> dict:
    identity = {"resourceId": ctx.identity_resource_id} if ctx.identity_resource_id else None

    def resource(name: str) -> dict:
        url = blob_url(ctx.inputs_url, stored_name(plan.name, plan.spec, name))
        return {k: v for k, v in {"httpUrl": url, "filePath": name, "identityReference": identity}.items() if v}

    return {"id": MANAGER_ID, "displayName": "adds the workload's tasks to this run's job",
            "commandLine": shell_command(f"python3 {SCRIPT.name} tasks.jsonl"),
            "resourceFiles": [resource("tasks.jsonl"), resource(SCRIPT.name)],
            # which of the pool's identities to ask IMDS for (the name azure-identity reads it from); not a secret
            "environmentSettings": [{"name": "AZURE_CLIENT_ID", "value": client_id}],
            "constraints": {"maxTaskRetryCount": 3},
            # Not the job's end (its tasks are), and no reason to keep a node to itself while adding them.
            "killJobOnCompletion": False, "runExclusive": False}


def _task_lines(plan: WorkloadPlan, ctx: StorageContext) -> Iterator[bytes]:
    """Every task as one JSON line, the job id left as JOB_MARK, the merge (depending on all others) last."""
    wl, files = plan.loaded.workload, plan.loaded.files
    deps = DependencyCollector()
    for task in iter_tasks(wl, files):
        if task.id.lower() == MANAGER_ID:
            raise DeployError(f"workload {wl.name}: task id {task.id} is the id of the job manager task that adds "
                              "a scheduled workload's tasks; rename the task")
        if not task.is_merge:
            deps.add(task.id)
        body = task_body(task, wl, JOB_MARK, ctx, plan.sync.digests,
                         deps.dependencies() if task.is_merge else None, plan.sync.stage)
        yield (json.dumps(body, separators=(",", ":")) + "\n").encode()


# --- plan, prune, delete ------------------------------------------------------------------------------------
def list_schedules(client: BatchClient) -> list[JobInfo]:
    return [replace(job_info(s), kind=KIND) for s in client.list_job_schedules(
        select=["id", "state", "metadata", "creationTime", "executionInfo"], max_results=1000)]


def delete_schedule(clients: Clients, schedule_id: str) -> Iterator[str]:
    """Batch deletes a schedule's jobs (and their tasks) with it."""
    try:
        clients.batch.begin_delete_job_schedule(schedule_id, polling_interval=1).result()
        yield f"deleted job schedule {schedule_id} and its runs"
    except ResourceNotFoundError:
        yield f"job schedule {schedule_id} was already gone"


# --- status -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunStatus:
    """One run (job) of a schedule; the counts are the workload's tasks, the manager apart."""

    job: str
    state: str
    active: int
    running: int
    succeeded: int
    failed: int
    started: datetime | None
    ended: datetime | None
    manager: str  # the job manager task: active, running, succeeded, failed


@dataclass(frozen=True)
class ScheduleRuns:
    state: str
    next_run: datetime | None
    runs: tuple[RunStatus, ...]  # the latest RUNS_SHOWN, oldest first


def schedule_runs(clients: Clients, schedule_id: str) -> ScheduleRuns:
    schedule = clients.batch.get_job_schedule(schedule_id, select=["id", "state", "executionInfo"])
    jobs = sorted(clients.batch.list_jobs_from_schedule(schedule_id, select=["id", "state", "creationTime",
                                                                            "executionInfo"]),
                  key=lambda j: j.creation_time)[-RUNS_SHOWN:]
    info = schedule.execution_info
    return ScheduleRuns(wire(schedule.state), info.next_run_time if info else None,
                        tuple(_run(clients.batch, j) for j in jobs))


def _run(client: BatchClient, job: batch.BatchJob) -> RunStatus:
    counts = client.get_job_task_counts(job.id).task_counts
    buckets = {"active": counts.active, "running": counts.running, "succeeded": counts.succeeded,
               "failed": counts.failed}
    try:
        task = client.get_task(job.id, MANAGER_ID, select=["state", "executionInfo"])
    except ResourceNotFoundError:
        manager = "missing"
    else:
        result = wire(task.execution_info.result) if task.execution_info and task.execution_info.result else ""
        manager = {"success": "succeeded", "failure": "failed"}.get(result) or \
            {"preparing": "running"}.get(wire(task.state), wire(task.state))
        if manager in buckets:
            buckets[manager] = max(0, buckets[manager] - 1)  # the task counts include the manager
    return RunStatus(job.id, wire(job.state), buckets["active"], buckets["running"], buckets["succeeded"],
                     buckets["failed"], job.creation_time, job.execution_info.end_time if job.execution_info else None,
                     manager)
