"""`apply --prune`: delete the jobs bigcompute created for workloads that are gone or superseded.

Only jobs carrying bigcompute's metadata are ever touched; a job someone else created is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from azure.core.exceptions import ResourceNotFoundError

from bigcompute.runner.clients import Clients
from bigcompute.runner.jobs import wire
from bigcompute.runner.plan import Plan

TERMINAL_STATES = {"completed", "deleting"}


def prune_candidates(plan: Plan) -> list[str]:
    current = {w.job_id for w in plan.workloads}
    return [j.id for j in plan.jobs if j.managed and j.id not in current and j.state != "deleting"]


def prune_jobs(clients: Clients, plan: Plan) -> Iterator[str]:
    for job_id in prune_candidates(plan):
        yield from delete_job(clients, job_id, reason="pruned by bigcompute apply")


def delete_job(clients: Clients, job_id: str, reason: str) -> Iterator[str]:
    try:
        job = clients.batch.get_job(job_id, select=["id", "state"])
        if wire(job.state) not in TERMINAL_STATES:
            # Terminate first so running tasks stop and the job leaves the active-job quota at once.
            clients.batch.begin_terminate_job(job_id, options=_terminate_options(reason),
                                              polling_interval=1).result()
        clients.batch.begin_delete_job(job_id, polling_interval=1).result()
        yield f"deleted job {job_id}"
    except ResourceNotFoundError:
        yield f"job {job_id} was already gone"


def _terminate_options(reason: str):
    # Not exported from azure.batch.models in 15.1, and terminate without a reason fails client-side.
    from azure.batch.models._models import BatchJobTerminateOptions

    return BatchJobTerminateOptions(termination_reason=reason[:64])
