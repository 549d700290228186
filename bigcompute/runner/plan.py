"""What `apply` would do, found without writing anything: per workload, its job id, whether the job is
new, unchanged, half-submitted or replaces an older one, its task count and the inputs to upload; and the
jobs `--prune` would remove."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from azure.batch import BatchClient

from bigcompute.document import Diagnostic, load_document
from bigcompute.runner.clients import Clients
from bigcompute.runner.errors import InvalidInput
from bigcompute.runner.jobs import JobInfo, attempt_id, job_info, repository_identity
from bigcompute.runner.prune import Removal, Scope, prune_candidates
from bigcompute.runner.reuse import Reuse, plan_reuse, recorded
from bigcompute.runner.schedules import list_schedules, schedule_refusal
from bigcompute.runner.storage import (
    StorageRefusal,
    check_destinations,
    check_reach,
    container_client,
    listed_problems,
    with_listings,
)
from bigcompute.runner.sync import BlobInputRefusal, SyncPlan, plan_sync
from bigcompute.workload import DEFAULT_MAX_TASKS, LoadedWorkload, Workload, count_tasks
from bigcompute.workload.wire import spec_hash

ACTIVE_STATES = {"active", "disabling", "disabled", "enabling", "terminating"}


@dataclass(frozen=True)
class WorkloadPlan:
    loaded: LoadedWorkload
    job_id: str
    spec: str
    status: str  # new | unchanged | resume | changed
    supersedes: tuple[str, ...]
    task_count: int
    sync: SyncPlan
    reuse: Reuse = Reuse()  # tasks not run again: their outputs come from an earlier job's succeeded task
    attempt: int = 1

    @property
    def name(self) -> str:
        return self.loaded.workload.name

    @property
    def runs(self) -> int:
        """The tasks the job holds: all but the reused ones."""
        return self.task_count - len(self.reuse)


@dataclass(frozen=True)
class Plan:
    workloads: tuple[WorkloadPlan, ...]
    jobs: tuple[JobInfo, ...]
    active_jobs: int
    quota: int
    scope: Scope = field(default_factory=lambda: Scope("", ""))
    prune: Removal = Removal()

    def jobs_of(self, workload: str) -> list[JobInfo]:
        """The workload's jobs from this repository and stack, plus those that predate that record."""
        return [j for j in self.jobs if j.workload == workload and (not j.scoped or self.scope.owns(j))]

    @property
    def new_jobs(self) -> int:
        return sum(w.status in ("new", "changed") for w in self.workloads)

    @property
    def headroom(self) -> int:
        return self.quota - self.active_jobs


def list_jobs(client: BatchClient) -> list[JobInfo]:
    """The account's jobs and job schedules (a scheduled workload's "job" is its schedule)."""
    return [job_info(j) for j in client.list_jobs(select=["id", "state", "metadata", "creationTime",
                                                          "executionInfo"], max_results=1000)] + list_schedules(client)


def make_plan(clients: Clients, loaded: list[LoadedWorkload], quota: int, whole_folder: bool = False,
              max_tasks: int = DEFAULT_MAX_TASKS) -> Plan:
    """`whole_folder`: `loaded` is every workload of the workloads folder, so jobs of workloads missing from it
    belong to removed workloads; `max_tasks`: the most tasks a workload may expand to (blob listings too)."""
    jobs = list_jobs(clients.batch)
    # A job being deleted is gone for the plan: not the workload's job, not superseded, nothing reused from it
    # (apply waits for the deletion to finish when the new job takes the same id).
    by_id = {j.id: j for j in jobs if j.state != "deleting"}
    inputs = clients.container("inputs")
    scope = Scope(repository_identity(Path.cwd()), clients.target.stack, whole_folder)
    plans, current, empty = [], {}, []
    for lw in loaded:
        if clients.target.kind == "local":
            from bigcompute.local.fit import local_refusals  # the local target's limits: this machine's

            refused = local_refusals(lw)
            if refused:
                empty += refused
                continue
        refusal = schedule_refusal(clients, lw.workload)
        if refusal:
            empty.append(_at(lw.workload, ("schedule",), refusal, "schedule"))
            continue
        try:
            lw, sync = _storage(clients, lw, inputs, max_tasks)
        except _Refused as e:
            empty += e.diagnostics
            continue
        spec = spec_hash(lw.workload, sync.digests, sync.blob_versions)
        repository = repository_identity(lw.workload.folder)
        mine = [j for j in by_id.values() if j.workload == lw.workload.name and (not j.scoped or
                                                                                scope.owns(j, repository))]
        existing = _latest_attempt(mine, lw.workload.name, spec, by_id)
        job_id = existing.id if existing else attempt_id(f"{lw.workload.name}-{spec[:8]}", 1)
        current[lw.workload.name] = (job_id, repository)
        older = tuple(j.id for j in mine if j.id != job_id)
        if existing is None:
            status = "changed" if older else "new"
            # each run of a schedule runs every task: nothing is reused from earlier jobs
            reuse = Reuse() if lw.workload.schedule else plan_reuse(clients, lw, job_id, spec, sync,
                                                                     [j for j in mine if j.id != job_id])
        else:
            # a job that ended before it was marked submitted (a task failed while tasks were being added, and
            # the job's merge could never run) is over all the same: `retry` starts it again
            status = "unchanged" if existing.submitted or existing.finished else "resume"
            reuse = recorded(inputs, job_id)
        plans.append(WorkloadPlan(lw, job_id, spec, status, older, count_tasks(lw.workload, lw.files), sync, reuse,
                                  existing.attempt if existing else 1))
    if empty:  # bad input found only now, still before any side effect: every one of them, exit 2
        raise InvalidInput(empty)
    active = sum(j.state in ACTIVE_STATES for j in jobs)
    return Plan(tuple(plans), tuple(jobs), active, quota, scope, prune_candidates(jobs, current, scope))


def _latest_attempt(mine: list[JobInfo], name: str, spec: str, by_id: dict[str, JobInfo]) -> JobInfo | None:
    """The job of the spec's latest attempt (`retry` adds attempts); the first attempt's id predates the metadata."""
    first = by_id.get(f"{name}-{spec[:8]}")
    attempts = [j for j in mine if j.spec == spec] + ([first] if first else [])
    return max(attempts, key=lambda j: j.attempt) if attempts else None


class _Refused(Exception):
    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics


def _storage(clients: Clients, lw: LoadedWorkload, inputs, max_tasks: int) -> tuple[LoadedWorkload, SyncPlan]:
    """What the workload reads from storage, met with the target: containers it can reach, blob inputs and
    `foreach: {blobs: …}` listed (and the tasks those expand to checked). Refusals are located: `_Refused`."""
    wl = lw.workload
    refusals = check_reach(wl, clients)
    refusals = refusals or check_destinations(wl, clients)
    if refusals:
        raise _Refused([_at(wl, r.at, str(r), "storage") for r in refusals])
    try:
        lw = with_listings(lw, clients, inputs, max_tasks)
        sync = plan_sync(lw.workload, lw.files, inputs,
                         container_for=lambda ref: container_client(clients, ref, inputs))
    except StorageRefusal as e:
        raise _Refused([_at(wl, e.at, str(e), "storage")]) from None
    except BlobInputRefusal as e:
        raise _Refused([_located(wl, e)]) from None
    problems = listed_problems(lw, max_tasks)
    if problems:
        raise _Refused(problems)
    return lw, sync


def _at(workload: Workload, at: tuple, message: str, code: str) -> Diagnostic:
    return load_document(workload.path).diagnostic(at, message, code=code)


def _located(workload: Workload, e: BlobInputRefusal) -> Diagnostic:
    """The blob input's `inputs:` entry, by file and line (the file was loaded and checked moments ago)."""
    index = [i for i, entry in enumerate(workload.raw.get("inputs", []))
             if isinstance(entry, dict) and "blob" in entry][e.index]
    return _at(workload, ("inputs", index, e.field), str(e), "input")
