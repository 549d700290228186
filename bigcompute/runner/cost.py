"""What a planned run should cost: a band from the workload's own history, or the pool's hourly cost times the
node-hours its limits allow, each labelled with where the figure comes from.

With history (tasks of earlier jobs of the workload that ran to the end): task time = the task count times the
median (low) and the 90th percentile (high) of their run times; node-hours = task time x slots per task / task
slots per node (busy nodes only: start-up and idle nodes add to it). Without history nothing is guessed: the
hourly cost of the nodes the run can use, and the ceiling the job's maxWallClockTime and the tasks' timeouts
put on it. Prices are the stack pool's `pricing` (the cost lines name their source and date).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bigcompute.config import PoolConfig, Pricing
from bigcompute.config.capacity import money, pool_capacity
from bigcompute.runner.jobs import JobInfo
from bigcompute.workload import Workload
from bigcompute.workload.model import TaskSettings

HISTORY_JOBS = 3  # the newest earlier jobs whose task times are read
HISTORY_TASKS = 2000  # at most this many tasks per job: a plan of a 100,000-task job reads a few pages, not all


@dataclass(frozen=True)
class TaskTimes:
    """Run times (seconds) of finished tasks of the workload's earlier jobs."""
    seconds: tuple[float, ...]
    jobs: tuple[str, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


@dataclass(frozen=True)
class CostEstimate:
    workload: str
    pool: str
    basis: str  # "history" | "hourly"
    currency: str
    low: float | None  # the band (history), or None
    high: float | None  # history: the band's top; hourly: the ceiling (None when nothing bounds it)
    per_hour: float | None  # hourly: the nodes the run can use, all dedicated
    nodes: int  # nodes the run can keep busy
    node_hours: tuple[float, float] | None  # history: busy node-hours, low and high
    how: str  # where the figures come from, in a sentence
    prices: str  # the pricing's provenance

    def line(self) -> str:
        """`montecarlo-var: $0.04 - $0.06 (history: ...)` or `... : $1.54/h on 2 nodes ...`."""
        if self.basis == "history":
            return f"{self.workload}: {money(self.low, self.currency)} - {money(self.high, self.currency)} ({self.how})"
        ceiling = f", at most {money(self.high, self.currency)}" if self.high is not None else ""
        return f"{self.workload}: {money(self.per_hour, self.currency)}/h while {self.nodes} node" \
               f"{'' if self.nodes == 1 else 's'} run{ceiling} ({self.how})"

    def as_json(self) -> dict[str, Any]:
        return {"pool": self.pool, "basis": self.basis, "currency": self.currency, "low": self.low, "high": self.high,
                "perHour": self.per_hour, "nodes": self.nodes,
                "nodeHours": list(self.node_hours) if self.node_hours else None, "how": self.how,
                "prices": self.prices}


def task_times(batch: Any, jobs: Sequence[JobInfo], limit: int = HISTORY_JOBS) -> TaskTimes | None:
    """Run times of the completed tasks of the newest `limit` of `jobs` (the workload's earlier jobs); None
    when none has a finished task."""
    newest = sorted(jobs, key=lambda j: str(j.creation_time or ""), reverse=True)[:limit]
    seconds, used = [], []
    for job in newest:
        listed = batch.list_tasks(job.id, select=["id", "state", "executionInfo"])
        found = list(_run_times(itertools.islice(listed, HISTORY_TASKS)))
        if found:
            seconds += found
            used.append(job.id)
    return TaskTimes(tuple(seconds), tuple(used)) if seconds else None


def _run_times(tasks: Iterable[Any]) -> Iterable[float]:
    for task in tasks:
        info = task.execution_info
        if info is not None and info.start_time and info.end_time and str(getattr(task.state, "value", task.state)) \
                == "completed":
            yield max(0.0, (info.end_time - info.start_time).total_seconds())


def estimate(workload: Workload, task_count: int, pool: PoolConfig, times: TaskTimes | None,
             target_kind: str) -> CostEstimate | None:
    """The run's cost on `pool`, or None when the stack gives the pool no prices (nothing is invented)."""
    prices = pool.pricing
    if prices is None:
        return None
    slots = max((s.slots or 1) for s in _settings(workload))
    # tasks one node runs at once; a multi-instance task holds `nodes` whole nodes (Batch runs one instance per
    # node): 1/nodes of a task per node
    width = max((g.multi_instance.nodes for g in workload.multi_instance_groups if g.multi_instance), default=0)
    per_node = 1 / width if width else max(1, pool.task_slots_per_node // slots)
    ceiling = pool_capacity(pool).max_nodes
    nodes = max(1, math.ceil(task_count / per_node))
    nodes = min(nodes, ceiling) if ceiling else nodes
    common = {"workload": workload.name, "pool": pool.name, "currency": prices.currency, "nodes": nodes,
              "prices": prices.provenance}
    if times is not None:
        return _from_history(task_count, per_node, prices, pool, times, target_kind, common)
    return _hourly(workload, task_count, per_node, prices, common)


def _from_history(task_count: int, per_node: float, prices: Pricing, pool: PoolConfig, times: TaskTimes,
                  target_kind: str, common: dict[str, Any]) -> CostEstimate:
    low_hours = task_count * times.median / 3600 / per_node
    high_hours = task_count * times.p90 / 3600 / per_node
    cheapest = prices.spot_per_hour if pool.uses_spot else prices.dedicated_per_hour
    how = (f"history: {task_count} tasks x {_duration(times.median)} median, {_duration(times.p90)} p90 of "
           f"{len(times.seconds)} tasks of {', '.join(times.jobs)} on the {target_kind} target; "
           f"{low_hours:.3g}-{high_hours:.3g} busy node-hours")
    return CostEstimate(basis="history", low=low_hours * cheapest, high=high_hours * prices.dedicated_per_hour,
                        per_hour=None, node_hours=(low_hours, high_hours), how=how, **common)


def _hourly(workload: Workload, task_count: int, per_node: float, prices: Pricing,
            common: dict[str, Any]) -> CostEstimate:
    per_hour = common["nodes"] * prices.dedicated_per_hour
    limits = [(workload.job.max_wall_clock_time.total_seconds() / 3600 * per_hour, "the job's maxWallClockTime "
               f"{_duration(workload.job.max_wall_clock_time.total_seconds())}")]
    settings = _settings(workload)
    if all(s.timeout is not None for s in settings):  # every try of every task is bounded
        timeout = max(s.timeout for s in settings if s.timeout is not None)
        tries = 1 + max(s.retries or 0 for s in settings)
        hours = task_count * tries * timeout.total_seconds() / 3600 / per_node
        limits.append((hours * prices.dedicated_per_hour,
                       f"{task_count} tasks x {tries} tries x {_duration(timeout.total_seconds())} timeout"))
    high, bound = min(limits)
    how = (f"no task history: the pool's hourly cost x the nodes the run can use, all dedicated; the ceiling is "
           f"{bound}")
    return CostEstimate(basis="hourly", low=None, high=high, per_hour=per_hour, node_hours=None, how=how, **common)


def _settings(workload: Workload) -> list[TaskSettings]:
    """Each task group's settings (and the merge's) over the workload's defaults."""
    found = [g.settings.over(workload.defaults) for g in workload.groups]
    if workload.merge is not None:
        found.append(workload.merge.settings.over(workload.defaults))
    return found or [workload.defaults]


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
