"""What Batch knows about a pool's recent past, for calibrating the autoscale simulator: each task's
creation, start and end (per job on the pool), each node's allocation and start-task end, and the last
autoscale run. Read-only; the same SDK calls on Azure and on the local target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TaskRecord:
    job_id: str
    task_id: str
    created: datetime
    started: datetime | None
    ended: datetime | None
    slots: int = 1


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    dedicated: bool
    allocated: datetime | None
    ready: datetime | None  # when its start task ended (None: no start task, or not ended yet)


@dataclass(frozen=True)
class PoolHistory:
    pool_id: str
    tasks: tuple[TaskRecord, ...]
    nodes: tuple[NodeRecord, ...]
    autoscale_run: dict[str, Any] | None  # the last AutoScaleRun: timestamp, results, error


def pool_history(batch: Any, pool_id: str, since: datetime | None = None) -> PoolHistory:
    """Tasks of the pool's jobs created at or after `since` (all without), its nodes and last autoscale run."""
    tasks = []
    for job in batch.list_jobs():
        on = (job.pool_info.pool_id if job.pool_info else None) or \
            (job.execution_info.pool_id if job.execution_info else None)
        if on != pool_id:
            continue
        for task in batch.list_tasks(job.id):
            if task.creation_time is None or (since is not None and task.creation_time < since):
                continue
            info = task.execution_info
            tasks.append(TaskRecord(job.id, task.id, task.creation_time, info.start_time if info else None,
                                    info.end_time if info else None, task.required_slots or 1))
    nodes = tuple(NodeRecord(n.id, bool(n.is_dedicated) if n.is_dedicated is not None else True,
                             n.allocation_time, n.start_task_info.end_time if n.start_task_info else None)
                  for n in batch.list_nodes(pool_id))
    run = batch.get_pool(pool_id).auto_scale_run
    autoscale = None if run is None else {
        "timestamp": run.timestamp.isoformat() if run.timestamp else None, "results": run.results,
        "error": run.error.as_dict() if run.error else None}
    return PoolHistory(pool_id, tuple(sorted(tasks, key=lambda r: r.created)), nodes, autoscale)
