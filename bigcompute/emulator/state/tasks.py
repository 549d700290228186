"""Tasks: add (single and collection), get/list/update/delete, counts. Execution rules live in compute/lifecycle.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from bigcompute.emulator.core.errors import BatchError, exists, invalid_property, not_found
from bigcompute.emulator.core.formats import UNBOUNDED
from bigcompute.emulator.state.common import Ctx, new_doc, touch
from bigcompute.emulator.state.db import dumps, loads
from bigcompute.emulator.state.jobs import JobStore, pool_of
from bigcompute.emulator.state.models import JobDoc, Predicate, TaskDoc, TaskState
from bigcompute.emulator.state.multi_instance import check_pool
from bigcompute.emulator.state.pools import PoolStore
from bigcompute.emulator.state.validate import check_task

MAX_COLLECTION = 100
PENDING = (TaskState.ACTIVE, TaskState.PREPARING, TaskState.RUNNING)
_CREATE_KEYS = (
    "id", "displayName", "commandLine", "resourceFiles", "outputFiles", "environmentSettings", "affinityInfo",
    "constraints", "requiredSlots", "userIdentity", "exitConditions", "dependsOn", "applicationPackageReferences",
    "authenticationTokenSettings", "multiInstanceSettings", "containerSettings",
)
_ID_CHUNK = 500
# A job's counts: at most 4 rows of the table the task transitions keep (state/db.py), never the task rows.
COUNTS_SQL = "SELECT bucket, n, slots FROM task_counts WHERE job_id=?"
# The job's tasks in submission order, 1,000 at a time after a seq (lists, and every filter over them).
PAGE_SQL = "SELECT seq, doc FROM tasks WHERE job_id=? AND seq>? ORDER BY seq LIMIT 1000"


class TaskStore:
    def __init__(self, ctx: Ctx, jobs: JobStore, pools: PoolStore | None = None) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.pools = pools  # for multi-instance tasks, checked against their job's pool
        row = ctx.db.conn.execute("SELECT MAX(seq) FROM tasks").fetchone()
        self._seq = (row[0] or 0) + 1

    # --- persistence -------------------------------------------------------------------------------
    def load(self, job_id: str, task_id: str) -> TaskDoc:
        row = self.ctx.db.conn.execute("SELECT doc FROM tasks WHERE job_id=? AND id=?", (job_id, task_id)).fetchone()
        if row is None:
            self.jobs.ensure(job_id)  # JobNotFound wins over TaskNotFound, as in Batch
            raise not_found("Task")
        return cast(TaskDoc, loads(row[0]))

    def get(self, job_id: str, task_id: str) -> TaskDoc:
        """`load` under the database lock, for a read outside any transaction."""
        with self.ctx.db.lock:
            return self.load(job_id, task_id)

    def delete(self, job_id: str, task_id: str) -> None:
        with self.ctx.db.tx() as c:
            self.load(job_id, task_id)
            c.execute("DELETE FROM tasks WHERE job_id=? AND id=?", (job_id, task_id))

    def runnable(self, job_id: str, limit: int, max_slots: int) -> list[TaskDoc]:
        """Active tasks not waiting on dependencies that fit a node of `max_slots` slots, in submission order:
        the next `limit` to dispatch. A task needing more slots than a node has stays active (as on Batch)
        without holding back the tasks queued after it."""
        rows = self.ctx.db.conn.execute("SELECT doc FROM tasks WHERE job_id=? AND state='active' AND waiting=0 "
                                        "AND slots<=? ORDER BY seq LIMIT ?", (job_id, max_slots, limit)).fetchall()
        return [cast(TaskDoc, loads(text)) for (text,) in rows]

    def in_states(self, job_id: str, *states: TaskState) -> list[TaskDoc]:
        marks = ",".join("?" * len(states))
        rows = self.ctx.db.conn.execute(f"SELECT doc FROM tasks WHERE job_id=? AND state IN ({marks})",
                                        (job_id, *states)).fetchall()
        return [cast(TaskDoc, loads(text)) for (text,) in rows]

    def has_pending(self, job_id: str) -> bool:
        """Whether a task of the job is active, preparing or running."""
        return self.ctx.db.conn.execute("SELECT 1 FROM tasks WHERE job_id=? AND state IN (?, ?, ?) LIMIT 1",
                                        (job_id, *PENDING)).fetchone() is not None

    def keys_in_states(self, *states: TaskState) -> list[tuple[str, str]]:
        """(job id, task id) of every task in these states, across jobs (restart recovery)."""
        marks = ",".join("?" * len(states))
        return [(j, t) for j, t in self.ctx.db.conn.execute(
            f"SELECT job_id, id FROM tasks WHERE state IN ({marks})", states).fetchall()]

    def pending_by_state(self, pool_id: str) -> dict[str, int]:
        """Pending tasks of the pool's active jobs, counted by state (the autoscale metrics' sample)."""
        return dict(self.ctx.db.conn.execute(
            "SELECT t.state, COUNT(*) FROM tasks t JOIN jobs j ON j.id=t.job_id WHERE j.pool_id=? COLLATE NOCASE "
            "AND j.state='active' AND t.state IN (?, ?, ?) GROUP BY t.state", (pool_id, *PENDING)).fetchall())

    def text(self, job_id: str, task_id: str) -> str | None:
        """The task's stored JSON, or None."""
        row = self.ctx.db.conn.execute("SELECT doc FROM tasks WHERE job_id=? AND id=?", (job_id, task_id)).fetchone()
        return row[0] if row else None

    def save(self, job_id: str, doc: TaskDoc, *, touched: bool = True) -> str:
        """Store the doc; returns the JSON text stored."""
        if touched:
            touch(doc, self.ctx.clock())
        info = doc.get("executionInfo") or {}
        text = dumps(doc)
        self.ctx.db.conn.execute(
            "UPDATE tasks SET doc=?, state=?, waiting=?, result=?, dep_ok=? WHERE job_id=? AND id=?",
            (text, doc["state"], int(bool(doc.get("_waiting"))), info.get("result"),
             int(bool(doc.get("_depOk"))), job_id, doc["id"]),
        )
        return text

    # --- add ---------------------------------------------------------------------------------------
    def _build(self, job: JobDoc, spec: dict[str, Any], now: float) -> TaskDoc:
        check_task(spec, job)
        if spec.get("multiInstanceSettings") and self.pools is not None:
            check_pool(spec, self.pools.find(pool_of(job) or ""))
        doc = cast(TaskDoc, new_doc({k: spec[k] for k in _CREATE_KEYS if k in spec},
                                    f"{self.ctx.base_url}/jobs/{job['id']}/tasks/{spec['id']}", now,
                                    TaskState.ACTIVE))
        constraints = doc.setdefault("constraints", {})
        constraints.setdefault("maxWallClockTime", UNBOUNDED)
        constraints.setdefault("retentionTime", "P7D")
        constraints.setdefault("maxTaskRetryCount", job["constraints"].get("maxTaskRetryCount", 0))
        slots = doc.setdefault("requiredSlots", 1)
        if not isinstance(slots, int) or slots < 1:
            raise invalid_property("requiredSlots", "requiredSlots must be a positive integer.", slots)
        doc.setdefault("userIdentity", {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}})
        doc["executionInfo"] = {"retryCount": 0, "requeueCount": 0}
        return doc

    def _insert(self, job: JobDoc, doc: TaskDoc) -> None:
        self._insert_rows([self._row(job, doc)])

    def _row(self, job: JobDoc, doc: TaskDoc) -> tuple:
        """The task's row, numbered in order of arrival; written by `_insert_rows` in the same transaction."""
        if doc.get("dependsOn"):
            doc["_waiting"] = not self.deps_satisfied(job["id"], doc["dependsOn"])
        self._seq += 1
        return (job["id"], doc["id"], self._seq - 1, doc["state"], int(bool(doc.get("_waiting"))),
                doc["requiredSlots"], dumps(doc))

    def _insert_rows(self, rows: list[tuple]) -> None:
        # one statement for a whole collection: a statement per task was the add path's largest cost (profiled)
        self.ctx.db.conn.executemany(
            "INSERT INTO tasks (job_id, id, seq, state, waiting, slots, doc) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def add(self, job_id: str, spec: dict[str, Any]) -> TaskDoc:
        with self.ctx.db.tx() as c:
            job = self.jobs.load(job_id)
            self.jobs.ensure_accepts_tasks(job)
            doc = self._build(job, spec, self.ctx.clock())
            if c.execute("SELECT 1 FROM tasks WHERE job_id=? AND id=?", (job_id, doc["id"])).fetchone():
                raise exists("Task")
            self._insert(job, doc)
        self.ctx.wake()
        return doc

    def add_manager(self, job: JobDoc) -> None:
        """The job manager task, added with its job (inside the job's transaction) and so queued first: "the
        Batch service creates the Job Manager Task when the Job is created, and will try to schedule the Job
        Manager Task before scheduling other Tasks in the Job" (BatchJobSpecification.jobManagerTask)."""
        spec = job.get("jobManagerTask")
        if not spec:
            return
        doc = self._build(job, spec, self.ctx.clock())
        doc["_killJob"] = spec.get("killJobOnCompletion", True)  # both default to true (BatchJobManagerTask)
        doc["_exclusive"] = spec.get("runExclusive", True)
        doc["_dedicatedOnly"] = not spec.get("allowLowPriorityNode", True)  # default true
        self._insert(job, doc)

    def add_collection(self, job_id: str, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(specs) > MAX_COLLECTION:
            raise BatchError(413, "RequestBodyTooLarge", "The request body is too large: a task collection may hold "
                             f"at most {MAX_COLLECTION} tasks.")
        results: list[dict[str, Any]] = []
        with self.ctx.db.tx():
            job = self.jobs.load(job_id)
            self.jobs.ensure_accepts_tasks(job)
            now = self.ctx.clock()
            ids = [s["id"] for s in specs if isinstance(s.get("id"), str)]
            taken = self._existing(job_id, ids)
            rows: list[tuple] = []  # a dependency is met by a task that completed, never one of these: none is read
            for spec in specs:
                try:
                    doc = self._build(job, spec, now)
                    if doc["id"].lower() in taken:
                        raise exists("Task")
                    rows.append(self._row(job, doc))
                    taken.add(doc["id"].lower())
                    results.append({"taskId": doc["id"], "status": "success", "eTag": doc["eTag"],
                                    "lastModified": doc["lastModified"], "location": doc["url"]})
                except BatchError as err:
                    error: dict[str, Any] = {"code": err.code, "message": {"lang": "en-US", "value": err.message}}
                    if err.values:
                        error["values"] = [{"key": k, "value": v} for k, v in err.values.items()]
                    results.append({"taskId": spec.get("id"), "status": "clienterror", "error": error})
            self._insert_rows(rows)
        self.ctx.wake()
        return results

    def _existing(self, job_id: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i:i + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.ctx.db.conn.execute(f"SELECT id FROM tasks WHERE job_id=? AND id IN ({marks})", (job_id, *chunk))
            found.update(r[0].lower() for r in rows)
        return found

    # --- dependencies --------------------------------------------------------------------------------
    def deps_satisfied(self, job_id: str, deps: dict[str, Any]) -> bool:
        conn = self.ctx.db.conn
        ids = list(dict.fromkeys(deps.get("taskIds") or []))
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i:i + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            n = conn.execute(f"SELECT COUNT(*) FROM tasks WHERE job_id=? AND dep_ok=1 AND id IN ({marks})",
                             (job_id, *chunk)).fetchone()[0]
            if n != len(chunk):
                return False
        for r in deps.get("taskIdRanges") or []:
            n = conn.execute("SELECT COUNT(*) FROM tasks WHERE job_id=? AND dep_ok=1 AND id NOT GLOB '*[^0-9]*' "
                             "AND CAST(id AS INTEGER) BETWEEN ? AND ?", (job_id, r["start"], r["end"])).fetchone()[0]
            if n < r["end"] - r["start"] + 1:
                return False
        return True

    def release_waiting(self, job_id: str) -> int:
        """Re-check tasks blocked on dependencies after a task in the job satisfied its dependents."""
        released = 0
        rows = self.ctx.db.conn.execute("SELECT doc FROM tasks WHERE job_id=? AND waiting=1 AND state='active'",
                                        (job_id,)).fetchall()
        for (text,) in rows:
            doc = cast(TaskDoc, loads(text))
            if self.deps_satisfied(job_id, doc.get("dependsOn") or {}):
                doc["_waiting"] = False
                self.save(job_id, doc, touched=False)
                released += 1
        return released

    # --- queries -------------------------------------------------------------------------------------
    def iter_docs(self, job_id: str, after_seq: int = 0) -> Iterator[tuple[int, TaskDoc]]:
        last = after_seq
        while True:
            rows = self.ctx.db.conn.execute(PAGE_SQL, (job_id, last)).fetchall()
            if not rows:
                return
            for seq, text in rows:
                yield seq, cast(TaskDoc, loads(text))
            last = rows[-1][0]

    def list(self, job_id: str, pred: Predicate | None, limit: int, after_seq: int) -> tuple[list[TaskDoc], int | None]:
        with self.ctx.db.lock:
            self.jobs.ensure(job_id)
            page: list[TaskDoc] = []
            for seq, doc in self.iter_docs(job_id, after_seq):
                if pred is None or pred(doc):
                    page.append(doc)
                    if len(page) == limit:
                        more = self.ctx.db.conn.execute(
                            "SELECT 1 FROM tasks WHERE job_id=? AND seq>? LIMIT 1", (job_id, seq)).fetchone()
                        return page, (seq if more else None)
            return page, None

    def counts(self, job_id: str) -> dict[str, Any]:
        """The job's TaskCounts and TaskSlotCounts from its few task_counts rows (db.py keeps them exact)."""
        with self.ctx.db.lock:
            self.jobs.ensure(job_id)
            rows = self.ctx.db.conn.execute(COUNTS_SQL, (job_id,)).fetchall()
        keys = ("active", "running", "completed", "succeeded", "failed")
        tasks, slots = dict.fromkeys(keys, 0), dict.fromkeys(keys, 0)
        for bucket, n, s in rows:
            tasks[bucket], slots[bucket] = n, s
        for out in (tasks, slots):
            out["completed"] = out["succeeded"] + out["failed"]
        return {"taskCounts": tasks, "taskSlotCounts": slots}

    def update_constraints(self, job_id: str, task_id: str, constraints: dict[str, Any]) -> TaskDoc:
        with self.ctx.db.tx():
            doc = self.load(job_id, task_id)
            doc["constraints"] = {**doc.get("constraints", {}), **(constraints or {})}
            self.save(job_id, doc)
        return doc
