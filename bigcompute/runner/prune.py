"""What `apply --prune` and `delete` may remove, and removing it.

One Batch account is often shared by several people, repositories and stacks. Every job records the
repository and stack that created it, and only jobs naming this repository and stack are ever candidates:
the superseded jobs of the workloads being applied, and, when the whole workloads folder is applied, the
jobs of workloads that no longer exist. Jobs created before that record existed are never pruned
automatically; active jobs are terminated only when forced.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from azure.batch import BatchClient
from azure.core.exceptions import ResourceNotFoundError

from bigcompute.runner.clients import Clients
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import JobInfo, wire
from bigcompute.runner.schedules import KIND, delete_schedule

TERMINAL_STATES = {"completed", "deleting"}
DELETION_TIMEOUT = 3600.0  # seconds a job's deletion is waited for (Batch deletes its tasks first)


@dataclass(frozen=True)
class Scope:
    """Whose jobs a command may remove: this repository's, on this stack."""

    repository: str
    stack: str
    whole_folder: bool = False  # the whole workloads folder is applied, so a missing workload was removed

    def owns(self, job: JobInfo, repository: str | None = None) -> bool:
        return job.scoped and job.repository == (repository or self.repository) and job.stack == self.stack


@dataclass(frozen=True)
class Candidate:
    job: JobInfo
    reason: str

    @property
    def active(self) -> bool:
        return not self.job.finished


@dataclass(frozen=True)
class Removal:
    """The jobs a command would remove, and the older jobs it leaves because they do not say whose they are."""

    candidates: tuple[Candidate, ...] = ()
    unscoped: tuple[JobInfo, ...] = ()

    def doomed(self, force: bool) -> list[Candidate]:
        return [c for c in self.candidates if force or not c.active]

    def skipped(self, force: bool) -> list[Candidate]:
        return [] if force else [c for c in self.candidates if c.active]


def prune_candidates(jobs: Iterable[JobInfo], current: Mapping[str, tuple[str, str]], scope: Scope) -> Removal:
    """`current`: workload name → (its job id, its repository) for the workloads being applied."""
    found, unscoped = [], []
    for job in jobs:
        if not job.managed or job.state == "deleting":
            continue
        if job.workload in current:
            job_id, repository = current[job.workload]
            if job.id == job_id:
                continue
            if scope.owns(job, repository):
                found.append(Candidate(job, f"superseded by {job_id}"))
            elif not job.scoped:
                unscoped.append(job)
        elif scope.whole_folder and scope.owns(job):
            found.append(Candidate(job, f"workload {job.workload} no longer exists"))
    return Removal(tuple(found), tuple(unscoped))


def workload_jobs(jobs: Iterable[JobInfo], workload: str, scope: Scope) -> Removal:
    """For `delete WORKLOAD`: its jobs from this repository and stack, and, named apart, its jobs that predate
    the record (they can only be deleted this way, explicitly)."""
    mine = [j for j in jobs if j.workload == workload and j.state != "deleting"]
    return Removal(tuple(Candidate(j, f"job of workload {workload}") for j in mine if scope.owns(j)) +
                   tuple(Candidate(j, "created before jobs recorded their repository and stack")
                         for j in mine if not j.scoped))


def remove(clients: Clients, candidates: Iterable[Candidate], reason: str) -> Iterator[str]:
    for c in candidates:
        if c.job.kind == KIND:
            yield from delete_schedule(clients, c.job.id)
        else:
            yield from delete_job(clients, c.job.id, reason)


def delete_job(clients: Clients, job_id: str, reason: str) -> Iterator[str]:
    try:
        state = wire(clients.batch.get_job(job_id, select=["id", "state"]).state)
        if state == "deleting":  # another delete is under way: a second one is refused (409 JobBeingDeleted)
            yield f"job {job_id} is already being deleted: waiting until Batch has removed it"
            wait_deleted(clients.batch, job_id)
            yield f"deleted job {job_id}"
            return
        if state not in TERMINAL_STATES and state != "terminating":  # terminating: 409 JobBeingTerminated
            # Terminate first so running tasks stop and the job leaves the active-job quota at once.
            clients.batch.begin_terminate_job(job_id, options=_terminate_options(reason),
                                              polling_interval=1).result()
        clients.batch.begin_delete_job(job_id, polling_interval=1).result()
        yield f"deleted job {job_id}"
    except ResourceNotFoundError:
        yield f"job {job_id} was already gone"


def wait_deleted(client: BatchClient, job_id: str, timeout: float = DELETION_TIMEOUT) -> None:
    """Until the job being deleted is gone. Batch deletes a job's tasks first, so this takes from seconds to many
    minutes (a job of many tasks); until then its id is taken (adding a job with it: 409 JobExists)."""
    deadline, delay = time.monotonic() + timeout, 0.05
    while True:
        try:
            client.get_job(job_id, select=["id", "state"])
        except ResourceNotFoundError:
            return
        if time.monotonic() > deadline:
            raise DeployError(f"job {job_id} is still being deleted after {timeout / 60:.0f} minutes; run the "
                              "command again once Batch has removed it")
        time.sleep(delay)
        delay = min(2.0, delay * 2)


def _terminate_options(reason: str):
    # Not exported from azure.batch.models in 15.1, and terminate without a reason fails client-side.
    from azure.batch.models._models import BatchJobTerminateOptions

    return BatchJobTerminateOptions(termination_reason=reason[:64])
