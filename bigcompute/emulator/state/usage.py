"""Node lives: when each node joined its pool and when it left (removed, or its pool deleted). Pool usage
metrics (compute/usage.py) add them up per aggregation interval; the records outlive the pool, as Batch's
usage of a deleted pool stays listed for the intervals it existed in."""

from __future__ import annotations

from dataclasses import dataclass

from bigcompute.emulator.state.common import Ctx


@dataclass(frozen=True)
class NodeLife:
    pool_id: str
    node_id: str
    vm_size: str
    started: float
    ended: float | None  # None while the node is in its pool


class UsageStore:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def joined(self, pool_id: str, node_id: str, vm_size: str, at: float) -> None:
        """Inside the caller's transaction (the resize that allocates the node)."""
        self.ctx.db.conn.execute("INSERT OR REPLACE INTO node_usage (pool_id, node_id, vm_size, started, ended) "
                                 "VALUES (?, ?, ?, ?, NULL)", (pool_id, node_id, vm_size, at))

    def left(self, pool_id: str, node_id: str, at: float) -> None:
        self.ctx.db.conn.execute("UPDATE node_usage SET ended=? WHERE pool_id=? AND node_id=? AND ended IS NULL",
                                 (at, pool_id, node_id))

    def pool_gone(self, pool_id: str, at: float) -> None:
        """Every node of a deleted pool leaves with it."""
        self.ctx.db.conn.execute("UPDATE node_usage SET ended=? WHERE pool_id=? AND ended IS NULL", (at, pool_id))

    def lives(self, since: float, until: float) -> list[NodeLife]:
        """The nodes that were in a pool at some time between `since` and `until`."""
        with self.ctx.db.lock:
            rows = self.ctx.db.conn.execute(
                "SELECT pool_id, node_id, vm_size, started, ended FROM node_usage WHERE started < ? AND "
                "(ended IS NULL OR ended > ?) ORDER BY pool_id, started", (until, since)).fetchall()
        return [NodeLife(*row) for row in rows]
