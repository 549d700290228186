"""What a plan means, beyond its table: where it runs (target, stack, accounts), what changed in each changed
workload (fields and input files, against the spec record of the job it supersedes), what becomes of the
superseded jobs, and what the run should cost. Read-only, like the plan itself."""

from __future__ import annotations

from dataclasses import dataclass

from bigcompute.config import StackConfig
from bigcompute.runner import specs
from bigcompute.runner.clients import Clients
from bigcompute.runner.cost import CostEstimate, estimate, task_times
from bigcompute.runner.jobs import JobInfo
from bigcompute.runner.plan import Plan, WorkloadPlan

CHANGING = ("new", "changed", "resume")  # statuses that make `apply` create or add something


@dataclass(frozen=True)
class Header:
    target: str  # local | azure
    stack: str
    batch_account: str
    batch_endpoint: str
    storage_account: str

    def text(self) -> str:
        return (f"target {self.target}, stack {self.stack}, Batch account {self.batch_account} "
                f"({self.batch_endpoint}), storage account {self.storage_account}")


@dataclass(frozen=True)
class Superseded:
    job: str
    state: str
    fate: str  # what `apply` and `apply --prune` do to it


@dataclass(frozen=True)
class WorkloadExplanation:
    change: specs.SpecChange | None  # None: nothing superseded, or no spec record of the superseded job
    change_unknown: str | None  # why the change cannot be named
    superseded: tuple[Superseded, ...]
    cost: CostEstimate | None


@dataclass(frozen=True)
class Explanation:
    header: Header
    workloads: dict[str, WorkloadExplanation]
    has_changes: bool  # apply would create jobs or add tasks
    running: tuple[str, ...] = ()  # the workloads apply would run (new, changed, half-submitted)


def explain(clients: Clients, plan: Plan, stack: StackConfig) -> Explanation:
    target = clients.target
    header = Header(target.kind, target.stack, target.batch_account, target.batch_endpoint, target.storage_account)
    inputs = clients.container("inputs")
    found = {}
    for wp in plan.workloads:
        older = [j for j in plan.jobs_of(wp.name) if j.id != wp.job_id]
        change, unknown = _change(inputs, wp, older)
        found[wp.name] = WorkloadExplanation(change, unknown, _superseded(plan, wp),
                                             _cost(clients, plan, wp, stack) if wp.status in CHANGING else None)
    running = tuple(w.name for w in plan.workloads if w.status in CHANGING)
    return Explanation(header, found, bool(running), running)


def _cost(clients: Clients, plan: Plan, wp: WorkloadPlan, stack: StackConfig) -> CostEstimate | None:
    """What running it costs: from the task times of the workload's finished jobs when there are any."""
    pool = stack.pool(wp.loaded.workload.pool)
    if pool is None:
        return None
    history = [j for j in plan.jobs_of(wp.name) if j.finished]
    return estimate(wp.loaded.workload, wp.task_count, pool, task_times(clients.batch, history), clients.target.kind)


def _change(inputs, wp: WorkloadPlan, older: list[JobInfo]) -> tuple[specs.SpecChange | None, str | None]:
    if wp.status != "changed" or not older:
        return None, None
    latest = max(older, key=lambda j: str(j.creation_time or ""))
    record = specs.fetch(inputs, wp.name, latest.spec) if latest.spec else None
    if record is None:
        return None, f"{latest.id} has no spec record (created before jobs kept one)"
    return specs.compare(record, wp.loaded.workload, wp.sync.digests), None


def _superseded(plan: Plan, wp: WorkloadPlan) -> tuple[Superseded, ...]:
    candidates = {c.job.id: c for c in plan.prune.candidates}
    by_id = {j.id: j for j in plan.jobs}
    out = []
    for job_id in wp.supersedes:
        job = by_id[job_id]
        candidate = candidates.get(job_id)
        if candidate is None:
            fate = "kept: it does not record this repository and stack, so only `bigcompute delete` removes it"
        elif candidate.active:
            fate = "keeps running; `apply --prune --force` terminates and deletes it, `apply --prune` skips it"
        else:
            fate = "kept; `apply --prune` deletes it"
        out.append(Superseded(job_id, job.state, fate))
    return tuple(out)
