"""The state layer's one entry: the resource stores over one database, and the unit of work that spans them.

Callers above (the service, the compute layer) change state only through the stores' methods, inside
`Stores.tx()` when several changes must land together; reads that stand alone go through methods that take
the database lock themselves. No caller outside this package runs SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bigcompute.emulator.state.applications import ApplicationStore
from bigcompute.emulator.state.auto_pools import AutoPools
from bigcompute.emulator.state.common import Ctx
from bigcompute.emulator.state.db import Database, loads
from bigcompute.emulator.state.jobs import JobStore
from bigcompute.emulator.state.models import Predicate
from bigcompute.emulator.state.node_users import NodeUserStore
from bigcompute.emulator.state.pools import PoolStore
from bigcompute.emulator.state.schedules import ScheduleStore
from bigcompute.emulator.state.tasks import TaskStore
from bigcompute.emulator.state.usage import UsageStore


@dataclass
class Stores:
    ctx: Ctx
    pools: PoolStore
    jobs: JobStore
    tasks: TaskStore
    schedules: ScheduleStore
    users: NodeUserStore
    usage: UsageStore
    applications: ApplicationStore

    @classmethod
    def open(cls, path: Path | None, *, time_scale: float = 1.0) -> Stores:
        ctx = Ctx(Database(path), time_scale=time_scale)
        applications = ApplicationStore(ctx)
        pools = PoolStore(ctx, applications)
        jobs = JobStore(ctx, AutoPools(ctx, pools))
        tasks = TaskStore(ctx, jobs, pools)
        jobs.on_insert = tasks.add_manager
        return cls(ctx, pools, jobs, tasks, ScheduleStore(ctx, jobs), NodeUserStore(ctx, pools), UsageStore(ctx),
                   applications)

    @property
    def db(self) -> Database:
        return self.ctx.db

    def set_wake(self, wake: Callable[[], None]) -> None:
        """Who to tell when a change may let work start (the scheduler); the stores never import it."""
        self.ctx.wake = wake

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction across stores (nested calls join the outer one)."""
        with self.ctx.db.tx() as conn:
            yield conn

    @contextmanager
    def savepoint(self) -> Iterator[sqlite3.Connection]:
        with self.ctx.db.savepoint() as conn:
            yield conn

    def page(self, table: str, pred: Predicate | None, limit: int, after: str) -> tuple[list[dict[str, Any]], str | None]:
        """Pools, jobs or job schedules in id order after `after`, filtered: a page and the id to continue after."""
        if table not in ("pools", "jobs", "jobschedules"):
            raise ValueError(table)
        with self.ctx.db.lock:
            rows = self.ctx.db.conn.execute(f"SELECT id, doc FROM {table} WHERE id > ? ORDER BY id", (after,))
            docs: list[dict[str, Any]] = []
            last = None
            for rid, text in rows:
                doc = loads(text)
                if pred is None or pred(doc):
                    if len(docs) == limit:
                        return docs, last
                    docs.append(doc)
                    last = rid
        return docs, None

    def reset(self) -> None:
        self.ctx.db.reset()
        self.ctx.metrics.clear()

    def close(self) -> None:
        self.ctx.db.close()
