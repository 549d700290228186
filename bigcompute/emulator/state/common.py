"""What every resource store shares: the context (db, clock, base URL, scheduler wake-up), doc helpers, and
`DocStore`, the persistence and the one transaction shape of the stores that keep a document a row."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar, cast

from bigcompute.emulator.core.errors import BatchError, not_found
from bigcompute.emulator.core.formats import iso, new_etag
from bigcompute.emulator.state.db import Database, dumps, loads
from bigcompute.emulator.state.models import NodeDoc, Resource


@dataclass
class Ctx:
    db: Database
    base_url: str = "http://127.0.0.1"
    time_scale: float = 1.0
    clock: Callable[[], float] = time.time
    wake: Callable[[], None] = field(default=lambda: None)
    # Sampled task metrics per pool for autoscale ($PendingTasks...), newest last; memory only.
    metrics: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    started: float = field(default_factory=time.time)  # anchor of the virtual (time-scaled) clock


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The wire view: keys starting with `_` are the emulator's own bookkeeping."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def find_node(nodes: Iterable[NodeDoc], node_id: str) -> NodeDoc:
    """The node of that id among a pool's nodes (stored or as viewed), or Batch's 404."""
    node = next((n for n in nodes if n["id"] == node_id), None)
    if node is None:
        raise BatchError(404, "NodeNotFound", "The specified node does not exist.")
    return node


def touch(doc: Resource, now: float) -> None:
    doc["eTag"] = new_etag()
    doc["lastModified"] = iso(now)


def set_state(doc: Resource, new: str, now: float) -> None:
    if doc.get("state") == new:
        return
    doc["previousState"] = doc.get("state")
    doc["previousStateTransitionTime"] = doc.get("stateTransitionTime")
    doc["state"] = new
    doc["stateTransitionTime"] = iso(now)


def new_doc(spec: dict[str, Any], url: str, now: float, state: str) -> dict[str, Any]:
    stamp = iso(now)  # formatted once for both times: every task added comes through here
    doc = dict(spec)
    doc.update(url=url, creationTime=stamp, state=state, stateTransitionTime=stamp)
    touch(cast(Resource, doc), now)
    return doc


def check_if_match(doc: Resource, if_match: str | None) -> None:
    if if_match and if_match != "*" and if_match.strip('"') != doc["eTag"]:
        raise BatchError(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")


D = TypeVar("D", bound=Resource)


class DocStore(Generic[D]):
    """A store whose resource is one row: the document as JSON, plus the columns its queries filter on.

    Every change a request asks for goes through `_mutate`, so each is one transaction under the database lock
    (taken by `Database.tx` alone) and the scheduler is woken after the commit, never before.
    """

    table: ClassVar[str]  # the SQL table
    kind: ClassVar[str]  # the resource's name in Batch's errors: JobNotFound, PoolNotFound, JobScheduleNotFound
    columns: ClassVar[tuple[str, ...]] = ()  # the columns besides `doc` that `indexed` fills from the document
    wakes: ClassVar[bool] = True  # whether a change may give the scheduler work (`_mutate` wakes it then)

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        sets = "".join(f", {column}=?" for column in self.columns)
        self._update_sql = f"UPDATE {self.table} SET doc=?{sets} WHERE id=?"

    def indexed(self, doc: D) -> tuple[Any, ...]:
        """The values of `columns` for the document, in order."""
        return ()

    def load(self, doc_id: str) -> D:
        """A private copy of the document, to change (inside the caller's transaction)."""
        row = self.ctx.db.conn.execute(f"SELECT doc FROM {self.table} WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            raise not_found(self.kind)
        return cast(D, loads(row[0]))

    def get(self, doc_id: str) -> D:
        """`load` under the database lock, for a read outside any transaction."""
        with self.ctx.db.lock:
            return self.load(doc_id)

    def save(self, doc: D, *, touched: bool = True) -> None:
        """Write the document back; `touched=False` for the emulator's own bookkeeping, which leaves eTag and
        lastModified as they are."""
        if touched:
            touch(doc, self.ctx.clock())
        self.ctx.db.conn.execute(self._update_sql, (dumps(doc), *self.indexed(doc), doc["id"]))

    def check_changeable(self, doc: D) -> None:
        """What every change a user asks for refuses first (a resource being deleted, say); nothing by default."""

    def _mutate(self, doc_id: str, change: Callable[[D], bool | None], *, if_match: str | None = None,
                checked: bool = True, wake: bool | None = None) -> D:
        """Load → check → change → save → wake, as one transaction.

        The checks run in order: the If-Match condition, then `check_changeable` (unless `checked=False`, for a
        change that checks for itself). `change` edits the document in place and returns False when there is
        nothing to change: then nothing is saved and nobody is woken. `wake` overrides the store's `wakes` for a
        change the scheduler has nothing (or, for once, something) to do about.
        """
        with self.ctx.db.tx():
            doc = self.load(doc_id)
            check_if_match(doc, if_match)
            if checked:
                self.check_changeable(doc)
            if change(doc) is False:
                return doc
            self.save(doc)
        if self.wakes if wake is None else wake:
            self.ctx.wake()
        return doc
