"""What `apply` would do, found without writing anything: per workload, its job id, whether the job is
new, unchanged, half-submitted or replaces an older one, its task count and the inputs to upload."""

from __future__ import annotations

from dataclasses import dataclass

from azure.batch import BatchClient

from bigcompute.runner.clients import Clients
from bigcompute.runner.jobs import JobInfo, job_info
from bigcompute.runner.sync import SyncPlan, plan_sync
from bigcompute.workload import LoadedWorkload, count_tasks
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

    @property
    def name(self) -> str:
        return self.loaded.workload.name


@dataclass(frozen=True)
class Plan:
    workloads: tuple[WorkloadPlan, ...]
    jobs: tuple[JobInfo, ...]
    active_jobs: int
    quota: int

    @property
    def new_jobs(self) -> int:
        return sum(w.status in ("new", "changed") for w in self.workloads)

    @property
    def headroom(self) -> int:
        return self.quota - self.active_jobs


def list_jobs(client: BatchClient) -> list[JobInfo]:
    return [job_info(j) for j in client.list_jobs(select=["id", "state", "metadata", "creationTime",
                                                          "executionInfo"], max_results=1000)]


def make_plan(clients: Clients, loaded: list[LoadedWorkload], quota: int) -> Plan:
    jobs = list_jobs(clients.batch)
    by_id = {j.id: j for j in jobs}
    inputs = clients.container("inputs")
    plans = []
    for lw in loaded:
        sync = plan_sync(lw.workload, lw.files, inputs)
        spec = spec_hash(lw.workload, sync.digests)
        job_id = f"{lw.workload.name}-{spec[:8]}"
        existing = by_id.get(job_id)
        older = tuple(j.id for j in jobs if j.workload == lw.workload.name and j.id != job_id)
        if existing is None:
            status = "changed" if older else "new"
        else:
            status = "unchanged" if existing.submitted else "resume"
        plans.append(WorkloadPlan(lw, job_id, spec, status, older, count_tasks(lw.workload, lw.files), sync))
    active = sum(j.state in ACTIVE_STATES for j in jobs)
    return Plan(tuple(plans), tuple(jobs), active, quota)
