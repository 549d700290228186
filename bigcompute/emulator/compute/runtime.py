"""In-memory view of what is running where: slots used per node, running tasks per job, kill handles.

It is never persisted: after a restart nothing runs, and every task that was running is requeued.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from bigcompute.emulator.compute.executor import RunHandle


@dataclass
class Running:
    job_id: str
    task_id: str
    pool_id: str
    node_id: str
    slots: int
    attempt: int
    handle: RunHandle = field(default_factory=RunHandle)
    removed: bool = False  # remove() is idempotent: a slot is freed once
    claimed: str = ""  # the task's stored text when this attempt was claimed (Lifecycle.finish)
    extra_nodes: tuple[str, ...] = ()  # a multi-instance task's other nodes, each held whole (compute/multi_instance)

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.node_id, *self.extra_nodes)


class Runtime:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: dict[tuple[str, str], Running] = {}
        self.node_slots: dict[tuple[str, str], int] = {}
        self.job_count: dict[str, int] = {}
        self.busy_nodes: dict[tuple[str, str], int] = {}  # running start/prep/release tasks too
        # Tasks run and succeeded per node since this service started (Batch's totalTasksRun and
        # totalTasksSucceeded): kept here, not written to the pool at every task's end.
        self.ran: dict[tuple[str, str], tuple[int, int]] = {}

    @staticmethod
    def key(job_id: str, task_id: str) -> tuple[str, str]:
        return job_id.lower(), task_id.lower()

    def add(self, r: Running) -> None:
        with self.lock:
            self.tasks[self.key(r.job_id, r.task_id)] = r
            for node_id in r.nodes:
                nk = (r.pool_id.lower(), node_id)
                self.node_slots[nk] = self.node_slots.get(nk, 0) + r.slots
            self.job_count[r.job_id.lower()] = self.job_count.get(r.job_id.lower(), 0) + 1

    def remove(self, r: Running) -> None:
        with self.lock:
            if r.removed:
                return
            r.removed = True
            if self.tasks.get(self.key(r.job_id, r.task_id)) is r:
                del self.tasks[self.key(r.job_id, r.task_id)]
            for node_id in r.nodes:
                nk = (r.pool_id.lower(), node_id)
                self.node_slots[nk] = self.node_slots.get(nk, 0) - r.slots
            self.job_count[r.job_id.lower()] = self.job_count.get(r.job_id.lower(), 0) - 1

    def get(self, job_id: str, task_id: str) -> Running | None:
        return self.tasks.get(self.key(job_id, task_id))

    def used(self, pool_id: str, node_id: str) -> int:
        return self.node_slots.get((pool_id.lower(), node_id), 0)

    def running_in_job(self, job_id: str) -> int:
        return self.job_count.get(job_id.lower(), 0)

    def of_job(self, job_id: str) -> list[Running]:
        with self.lock:
            return [r for r in self.tasks.values() if r.job_id.lower() == job_id.lower()]

    def on_node(self, pool_id: str, node_id: str | None = None) -> list[Running]:
        with self.lock:
            return [r for r in self.tasks.values()
                    if r.pool_id.lower() == pool_id.lower() and (node_id is None or node_id in r.nodes)]

    def count_run(self, pool_id: str, node_id: str, succeeded: bool) -> None:
        with self.lock:
            nk = (pool_id.lower(), node_id)
            run, ok = self.ran.get(nk, (0, 0))
            self.ran[nk] = (run + 1, ok + succeeded)

    def runs_on(self, pool_id: str, node_id: str) -> tuple[int, int]:
        """(tasks run, tasks succeeded) on the node."""
        return self.ran.get((pool_id.lower(), node_id), (0, 0))
