"""Read-only views: the job of each workload with its task counts, and the ops view of pools."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from azure.batch import models as batch
from azure.core.exceptions import ResourceNotFoundError

from bigcompute.config import AutoScale, FixedScale, StackConfig
from bigcompute.runner.clients import Clients
from bigcompute.runner.jobs import JobInfo, wire
from bigcompute.runner.plan import Plan
from bigcompute.runner.schedules import KIND, ScheduleRuns, schedule_runs


@dataclass(frozen=True)
class WorkloadStatus:
    workload: str
    job: str | None
    state: str
    active: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    started: datetime | None = None
    duration_s: float | None = None
    schedule: ScheduleRuns | None = None  # a scheduled workload: its runs and next run time


def workload_status(clients: Clients, plan: Plan) -> list[WorkloadStatus]:
    by_id = {j.id: j for j in plan.jobs}
    rows = []
    for wp in plan.workloads:
        job = by_id.get(wp.job_id) or _latest(plan.jobs_of(wp.name))
        if job is None:
            rows.append(WorkloadStatus(wp.name, None, "not applied"))
            continue
        if job.kind == KIND:
            rows.append(_schedule_row(clients, wp.name, job, job.id == wp.job_id))
            continue
        counts = clients.batch.get_job_task_counts(job.id).task_counts
        start, end = job.creation_time, job.end_time
        duration = ((end or datetime.now(tz=start.tzinfo)) - start).total_seconds() if start else None
        state = job.state if job.id == wp.job_id else f"{job.state} (outdated spec)"
        rows.append(WorkloadStatus(wp.name, job.id, state, counts.active, counts.running, counts.succeeded,
                                   counts.failed, start, duration))
    return rows


def _schedule_row(clients: Clients, workload: str, schedule: JobInfo, current: bool) -> WorkloadStatus:
    """A schedule's row: its state, and its runs' task counts summed (each run is listed apart)."""
    runs = schedule_runs(clients, schedule.id)
    total = lambda name: sum(getattr(r, name) for r in runs.runs)  # noqa: E731
    state = f"schedule {runs.state}" + ("" if current else " (outdated spec)")
    return WorkloadStatus(workload, schedule.id, state, total("active"), total("running"), total("succeeded"),
                          total("failed"), schedule.creation_time, None, runs)


def _latest(jobs: list[JobInfo]) -> JobInfo | None:
    mine = [j for j in jobs if j.creation_time]
    return max(mine, key=lambda j: j.creation_time) if mine else None


@dataclass(frozen=True)
class PoolStatus:
    name: str
    id: str
    vm_size: str | None
    dedicated: tuple[int, int]  # current, target
    spot: tuple[int, int]
    allocation_state: str
    node_states: dict[str, int]
    autoscale: str  # last evaluation's results or error, or "fixed"
    next_evaluation: datetime | None
    drift: tuple[str, ...]


def pool_status(clients: Clients, stack: StackConfig) -> list[PoolStatus]:
    counts = {c.pool_id: c for c in clients.batch.list_pool_node_counts()}
    rows = []
    for cfg in stack.pools:
        pool_id = clients.target.pool_ids.get(cfg.name, cfg.name)
        try:
            live = clients.batch.get_pool(pool_id)
        except ResourceNotFoundError:
            rows.append(PoolStatus(cfg.name, pool_id, None, (0, 0), (0, 0), "missing", {}, "-", None,
                                   ("pool is not deployed",)))
            continue
        rows.append(PoolStatus(
            cfg.name, pool_id, live.vm_size,
            (live.current_dedicated_nodes or 0, live.target_dedicated_nodes or 0),
            (live.current_low_priority_nodes or 0, live.target_low_priority_nodes or 0),
            wire(live.allocation_state), _node_states(counts.get(pool_id)), _autoscale(live), next_autoscale_run(live),
            tuple(drift(cfg, live, clients.target.kind))))
    return rows


def _node_states(c) -> dict[str, int]:
    if c is None:
        return {}
    totals: dict[str, int] = {}
    for part in (c.dedicated, c.low_priority):
        if part is None:
            continue
        for state, n in part.as_dict().items():
            if isinstance(n, int) and n and state != "total":
                totals[state] = totals.get(state, 0) + n
    return totals


def _autoscale(pool: batch.BatchPool) -> str:
    if not pool.enable_auto_scale:
        return "fixed"
    run = pool.auto_scale_run
    if run is None:
        return "not evaluated yet"
    if run.error:
        return f"error {run.error.code}: {run.error.message}"
    return run.results or ""


def next_autoscale_run(pool: batch.BatchPool) -> datetime | None:
    run = pool.auto_scale_run
    if not pool.enable_auto_scale or run is None or run.timestamp is None or pool.auto_scale_evaluation_interval is None:
        return None
    return run.timestamp + pool.auto_scale_evaluation_interval


def drift(cfg, live: batch.BatchPool, target_kind: str) -> list[str]:
    """Where the live pool differs from the stack file (the local target emulates sizes, so skip those)."""
    out = []
    if target_kind == "azure" and (live.vm_size or "").lower() != cfg.vm_size.lower():
        out.append(f"vmSize {live.vm_size} ≠ {cfg.vm_size}")
    if target_kind == "azure" and live.task_slots_per_node != cfg.task_slots_per_node:
        out.append(f"taskSlotsPerNode {live.task_slots_per_node} ≠ {cfg.task_slots_per_node}")
    if isinstance(cfg.scale, AutoScale):
        if not live.enable_auto_scale:
            out.append("autoscale in the stack, fixed size live")
        elif (live.auto_scale_formula or "").strip() != (cfg.formula() or "").strip():
            out.append("autoscale formula differs from the stack's")
    elif isinstance(cfg.scale, FixedScale):
        if live.enable_auto_scale:
            out.append("fixed size in the stack, autoscale live")
        elif target_kind == "azure" and (live.target_dedicated_nodes, live.target_low_priority_nodes) != (
                cfg.scale.dedicated, cfg.scale.spot):
            out.append(f"target nodes {live.target_dedicated_nodes}+{live.target_low_priority_nodes} spot ≠ "
                       f"{cfg.scale.dedicated}+{cfg.scale.spot} spot")
    return out
