"""`apply` for one workload, step by step as the architecture describes: sync inputs, create the job,
add its tasks, mark it submitted. Every step is idempotent, so a killed apply re-run converges."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from azure.batch import models as batch
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from bigcompute.runner import specs
from bigcompute.runner.clients import Clients
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import job_info, job_model, metadata
from bigcompute.runner.killpoint import kill_point
from bigcompute.runner.lease import workload_lease
from bigcompute.runner.monitor import TASK_FAILED, terminate_reason
from bigcompute.runner.plan import WorkloadPlan
from bigcompute.runner.prune import wait_deleted
from bigcompute.runner.reuse import copy_outputs, record
from bigcompute.runner.schedules import ensure_schedule
from bigcompute.runner.submit import SubmitReport, add_tasks, existing_tasks
from bigcompute.runner.sync import upload_missing
from bigcompute.workload import iter_tasks
from bigcompute.workload.deps import DependencyCollector
from bigcompute.workload.expand import merge_task
from bigcompute.workload.wire import StorageContext, task_body


@dataclass
class Hooks:
    """How `apply` tells its caller what it is doing; the CLI renders these, tests record them."""

    step: Callable[[str], None] = lambda message: None
    uploaded: Callable[[int], None] = lambda nbytes: None
    added: Callable[[int], None] = lambda n: None


def apply_workload(clients: Clients, plan: WorkloadPlan, hooks: Hooks | None = None) -> SubmitReport:
    hooks = hooks or Hooks()
    wl = plan.loaded.workload
    with workload_lease(clients.container("inputs"), wl.name) as lease:  # lease.check(): still ours?
        if plan.sync.pending:
            copies = f", copying {len(plan.sync.copies)} stored ones" if plan.sync.copies else ""
            hooks.step(f"uploading {len(plan.sync.missing)} input files ({plan.sync.missing_bytes:,} bytes){copies}")
            lease.check("uploading inputs")
            upload_missing(wl, plan.sync, clients.container("inputs"), on_upload=lambda f: hooks.uploaded(f.size))
            kill_point("uploaded")
        lease.check("creating the job")
        specs.record(clients.container("inputs"), wl, plan.spec, plan.sync.digests)  # what a later plan compares
        if wl.schedule is not None:
            return ensure_schedule(clients, plan, storage_context(clients), hooks)
        existed = ensure_job(clients, plan, hooks)
        kill_point("job-created")
        if existed is not None and (existed.submitted or existed.finished):
            return SubmitReport(existing=plan.runs)
        if plan.reuse:
            lease.check("copying the outputs of reused tasks")
            hooks.step(f"reusing {len(plan.reuse):,} unchanged tasks that succeeded before: copying their outputs")
            copy_outputs(clients.container("outputs"), plan.job_id, plan.reuse)
        hooks.step(f"adding {plan.runs:,} tasks to job {plan.job_id}")
        try:
            report = submit_tasks(clients, plan, known=existing_tasks(clients.batch, plan.job_id) if existed else {},
                                  on_added=hooks.added, check=lambda: lease.check("adding the next tasks"))
            lease.check("marking the job submitted")
            mark_submitted(clients, plan)
        except (DeployError, HttpResponseError):
            if not _ended(clients, plan):
                raise
            hooks.step(f"a task failed while the tasks were being added, so Batch ended job {plan.job_id} (its "
                       "merge could never run); the tasks not yet added never will be")
            return SubmitReport()
        kill_point("submitted")
        return report


def _ended(clients: Clients, plan: WorkloadPlan) -> bool:
    """Whether a task that failed while the others were still being added ended the job (a job with a merge, see
    jobs.failure_mode): the refused collection is then the job's outcome, not an error of apply's."""
    job = clients.batch.get_job(plan.job_id, select=["id", "state", "executionInfo"])
    return job_info(job).state in ("terminating", "completed") and terminate_reason(job) == TASK_FAILED


def ensure_job(clients: Clients, plan: WorkloadPlan, hooks: Hooks, retry: bool = True):
    """The job's info if it already existed, else None after creating it (once a deletion of the job that held
    its id has finished)."""
    existing = _existing(clients, plan, hooks)
    if existing is not None:
        return existing
    wl = plan.loaded.workload
    pool_id = clients.target.pool_id(wl.pool)
    hooks.step(f"creating job {plan.job_id} on pool {pool_id}")
    record(clients.container("inputs"), plan.job_id, plan.reuse)  # first: a resumed apply reuses the same tasks
    try:
        clients.batch.create_job(job_model(wl, plan.job_id, pool_id, plan.spec, clients.target.stack,
                                           stage=plan.sync.stage, ctx=storage_context(clients),
                                           attempt=plan.attempt))
        return None
    except ResourceExistsError:
        # A retried create whose first attempt got through, a racing apply, or a deletion that began meanwhile
        # (waited for, then the job is created once more).
        existing = _existing(clients, plan, hooks)
        if existing is None and retry:
            return ensure_job(clients, plan, hooks, retry=False)
        if existing is None:
            raise
        return existing


def _existing(clients: Clients, plan: WorkloadPlan, hooks: Hooks):
    """The job's info, or None when there is none, after waiting out a deletion of the job holding its id (the
    same workload and spec deleted moments ago: Batch keeps the id until the old job's tasks are gone)."""
    try:
        info = _checked(job_info(clients.batch.get_job(plan.job_id)), plan)
    except ResourceNotFoundError:
        return None
    if info.state != "deleting":
        return info
    hooks.step(f"job {plan.job_id} is being deleted: waiting until Batch has removed it, to create it again")
    wait_deleted(clients.batch, plan.job_id)
    return None


def _checked(info, plan: WorkloadPlan):
    if info.workload != plan.name or info.spec != plan.spec:
        raise DeployError(f"job {plan.job_id} exists but was not created by bigcompute for this workload "
                          "spec; delete it or rename the workload")
    return info


def submit_tasks(clients: Clients, plan: WorkloadPlan, known: dict[str, int],
                 on_added: Callable[[int], None], check: Callable[[], None] = lambda: None) -> SubmitReport:
    wl, files = plan.loaded.workload, plan.loaded.files
    ctx, stage = storage_context(clients), plan.sync.stage
    deps = DependencyCollector()
    merging = wl.merge is not None  # only a merge depends on every task: without one, keep no ids (10^6 of them
    # that are not plain integers are ~60 MB)

    def bodies() -> Iterator[dict]:
        for task in iter_tasks(wl, files):
            if task.is_merge or task.id in plan.reuse.tasks:
                continue
            if merging:
                deps.add(task.id)
            check()
            kill_point("adding-tasks")
            yield task_body(task, wl, plan.job_id, ctx, plan.sync.digests, stage=stage)

    report = add_tasks(clients.batch, plan.job_id, bodies(), known, on_progress=on_added)
    merge = merge_task(wl, files)
    if merge is not None:  # added last: it depends on every other task, so they must all exist
        check()
        merge_report = add_tasks(clients.batch, plan.job_id,
                                 [task_body(merge, wl, plan.job_id, ctx, plan.sync.digests, deps.dependencies(),
                                            stage)],
                                 known, on_progress=on_added)
        report.count(added=merge_report.added, existing=merge_report.existing)
    return report


def storage_context(clients: Clients) -> StorageContext:
    target = clients.target
    return StorageContext(target.inputs_url, target.outputs_url, target.identity_resource_id)


def mark_submitted(clients: Clients, plan: WorkloadPlan) -> None:
    # From here on Batch ends the job when its last task completes, releasing its active-job quota slot.
    clients.batch.update_job(plan.job_id, batch.BatchJobUpdateOptions(
        all_tasks_complete_mode="terminatejob",
        metadata=metadata(plan.loaded.workload, plan.spec, submitted=True, stack=clients.target.stack,
                          attempt=plan.attempt)))
