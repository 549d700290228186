"""What a run did, for its report (Nextflow's `-with-report` is the model): each task on its node's timeline with
its duration and result, the failures grouped by error, and what the nodes' busy time cost at the stack's prices;
and the summary a completion webhook receives (runner.webhook)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bigcompute.config import StackConfig
from bigcompute.runner.clients import Clients
from bigcompute.runner.jobs import job_info
from bigcompute.runner.plan import WorkloadPlan
from bigcompute.runner.results import FailureGroup, TaskRow
from bigcompute.runner.tasks import task_rows


@dataclass(frozen=True)
class NodeSpan:
    node: str
    tasks: tuple[TaskRow, ...]
    busy_seconds: float  # from its first task's start to its last task's end


@dataclass(frozen=True)
class RunReport:
    workload: str
    job: str
    state: str
    pool: str
    target: str
    stack: str
    created: datetime | None
    ended: datetime | None
    tasks: tuple[TaskRow, ...]
    nodes: tuple[NodeSpan, ...]
    failures: tuple[FailureGroup, ...]
    succeeded: int
    failed: int
    node_hours: float
    cost: float | None  # node_hours at the pool's dedicated price; None when the stack gives the pool none
    currency: str | None
    prices: str | None  # where the price comes from

    @property
    def start(self) -> datetime | None:
        return min((t.started for t in self.tasks if t.started), default=None)

    @property
    def end(self) -> datetime | None:
        return max((t.ended for t in self.tasks if t.ended), default=None)

    @property
    def span(self) -> float | None:
        """Seconds from the first task's start to the last task's end."""
        return (self.end - self.start).total_seconds() if self.start and self.end else None


def run_report(clients: Clients, wp: WorkloadPlan, job_id: str, stack: StackConfig) -> RunReport:
    job = job_info(clients.batch.get_job(job_id, select=["id", "state", "metadata", "creationTime", "executionInfo"]))
    found = task_rows(clients, wp, job_id, spec=job.spec)
    nodes = tuple(_spans(found.tasks))
    hours = sum(n.busy_seconds for n in nodes) / 3600
    pool = stack.pool(wp.loaded.workload.pool)
    prices = pool.pricing if pool is not None else None
    return RunReport(wp.name, job_id, job.state, wp.loaded.workload.pool, clients.target.kind, clients.target.stack,
                     job.creation_time, job.end_time, found.tasks, nodes, found.failures,
                     sum(t.result == "success" for t in found.tasks), sum(t.result == "failure" for t in found.tasks),
                     hours, hours * prices.dedicated_per_hour if prices else None,
                     prices.currency if prices else None, prices.provenance if prices else None)


def _spans(tasks: tuple[TaskRow, ...]) -> list[NodeSpan]:
    by_node: dict[str, list[TaskRow]] = {}
    for t in tasks:
        if t.node and t.started:
            by_node.setdefault(t.node, []).append(t)
    spans = []
    for node, mine in sorted(by_node.items()):
        mine.sort(key=lambda t: t.started)
        last = max((t.ended or t.started) for t in mine)
        spans.append(NodeSpan(node, tuple(mine), (last - mine[0].started).total_seconds()))
    return spans


def summary(report: RunReport) -> dict:
    """The run in a few fields, for a completion webhook."""
    return {"workload": report.workload, "job": report.job, "state": report.state, "target": report.target,
            "stack": report.stack, "tasks": len(report.tasks), "succeeded": report.succeeded,
            "failed": report.failed, "failures": [{"error": g.error, "tasks": list(g.tasks)} for g in report.failures],
            "started": report.start.isoformat() if report.start else None,
            "ended": report.end.isoformat() if report.end else None, "nodeHours": round(report.node_hours, 4),
            "cost": None if report.cost is None else {"amount": round(report.cost, 4), "currency": report.currency}}

