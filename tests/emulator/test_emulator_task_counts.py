"""Task counts are read from a per-job counts table (state/db.py) kept by the task transitions themselves, so a
poll costs the same for 10 tasks or 1,000,000. These tests drive every kind of transition (add, dispatch,
retry, failure, terminate, reactivate, requeue, delete, job terminate and delete) and, all along, compare the
table with a full recount of the task rows taken in the same instant, and the wire's counts with the tasks
listed through the SDK."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions

from bigcompute.emulator.state.stores import Stores
from bigcompute.local.testing import LOCAL_VM, make_job, make_pool, wait_for

KEYS = ("active", "running", "completed", "succeeded", "failed")


def _bucket(state: str, result: str | None) -> str:
    """Batch's TaskCounts rules, written again here: preparing counts as running, completed splits by result."""
    if state == "completed":
        return "succeeded" if result == "success" else "failed"
    return "active" if state == "active" else "running"


def _recount(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[int, int]]:
    totals: Counter = Counter()
    slots: Counter = Counter()
    for job_id, state, result, n_slots in conn.execute("SELECT job_id, state, result, slots FROM tasks"):
        key = (job_id.lower(), _bucket(state, result))
        totals[key] += 1
        slots[key] += n_slots
    return {k: (totals[k], slots[k]) for k in totals}


def _table(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[int, int]]:
    rows = conn.execute("SELECT job_id, bucket, n, slots FROM task_counts").fetchall()
    assert all(n >= 0 and s >= 0 for _, _, n, s in rows), rows
    return {(j.lower(), b): (n, s) for j, b, n, s in rows if n or s}


def assert_exact(stores: Stores) -> None:
    """The counts table equals a full recount of every job's tasks, both read under the store's one lock."""
    with stores.db.lock:
        table, recount = _table(stores.db.conn), _recount(stores.db.conn)
    assert table == recount


def assert_wire_counts(batch, job_id: str) -> m.BatchTaskCounts:  # noqa: ANN001
    """GET taskcounts equals the job's tasks listed one by one (a settled job: nothing moves in between)."""
    tasks = list(batch.list_tasks(job_id, select=["id", "state", "executionInfo", "requiredSlots"]))
    expected, slots = Counter(), Counter()
    for t in tasks:
        bucket = _bucket(t.state, t.execution_info.result if t.execution_info else None)
        for key in {bucket, "completed" if t.state == "completed" else bucket}:
            expected[key] += 1
            slots[key] += t.required_slots or 1
    result = batch.get_job_task_counts(job_id)
    counts, slot_counts = result.task_counts, result.task_slot_counts
    assert {k: getattr(counts, k) for k in KEYS} == {k: expected[k] for k in KEYS}
    assert {k: getattr(slot_counts, k) for k in KEYS} == {k: slots[k] for k in KEYS}
    return counts


def _settled(batch, job_id: str, stuck: int) -> bool:  # noqa: ANN001
    """Nothing left to run but the `stuck` tasks no node can take."""
    counts = batch.get_job_task_counts(job_id).task_counts
    return counts.running == 0 and counts.active == stuck


def test_counts_stay_exact_through_retries_reactivation_and_deletes(emulator, batch) -> None:
    stores = emulator.state.stores
    pool_id = make_pool(batch, nodes=2, slots=2)
    job_id = make_job(batch, pool_id, uses_task_dependencies=True,
                      constraints=m.BatchJobConstraints(max_task_retry_count=2))
    tasks = []
    for i in range(300):
        command = "exit 3" if i % 5 == 0 else "/bin/true"  # every fifth fails, after two retries
        slots = 2 if i % 7 == 0 else 1
        tasks.append(m.BatchTaskCreateOptions(id=f"t{i}", command_line=command, required_slots=slots))
    # Never run: 3 slots is more than a node has; a task waiting on a failed one stays blocked.
    tasks += [m.BatchTaskCreateOptions(id=f"wide{i}", command_line="/bin/true", required_slots=3) for i in range(4)]
    tasks += [m.BatchTaskCreateOptions(id=f"blocked{i}", command_line="/bin/true",
                                       depends_on=m.BatchTaskDependencies(task_ids=["t0"])) for i in range(3)]
    batch.create_tasks(job_id, tasks, max_concurrency=4)
    assert_exact(stores)
    for _ in range(20):  # while the scheduler dispatches, retries and completes them
        assert_exact(stores)
    wait_for(lambda: _settled(batch, job_id, stuck=7), timeout=30)
    assert_exact(stores)
    counts = assert_wire_counts(batch, job_id)
    assert (counts.failed, counts.succeeded, counts.active) == (60, 240, 7)

    failed = [f"t{i}" for i in range(0, 300, 5)]
    for task_id in failed[:30]:  # reactivated: active again, then failed again after its retries
        batch.reactivate_task(job_id, task_id)
    assert_exact(stores)
    for task_id in ("wide0", "blocked0"):  # an active task ended by hand: completed, failed
        batch.terminate_task(job_id, task_id)
    for task_id in ("t1", "t5", "wide1", "blocked1", "t14"):  # deleted in each state, wide slots too
        batch.delete_task(job_id, task_id)
    assert_exact(stores)
    wait_for(lambda: _settled(batch, job_id, stuck=3), timeout=30)
    assert_exact(stores)
    counts = assert_wire_counts(batch, job_id)
    assert (counts.active, counts.failed, counts.succeeded) == (3, 60 - 1 + 2, 240 - 2)

    batch.begin_delete_job(job_id, polling_interval=0).result()
    with stores.db.lock:
        assert not stores.db.conn.execute("SELECT 1 FROM task_counts WHERE job_id=?", (job_id,)).fetchall()
    assert_exact(stores)


def test_counts_follow_running_tasks_requeued_and_terminated(process_emulator, process_batch) -> None:
    stores, batch = process_emulator.state.stores, process_batch
    pool_id = make_pool(batch, nodes=1, slots=3)
    job_id = make_job(batch, pool_id)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"s{i}", command_line="/bin/sh -c 'sleep 60'",
                                                         required_slots=1 + i % 2) for i in range(4)])
    wait_for(lambda: batch.get_job_task_counts(job_id).task_slot_counts.running == 3)
    assert_exact(stores)
    # Disable with requeue: the running tasks go back to active (their slots with them).
    batch.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=0).result()
    counts = assert_wire_counts(batch, job_id)
    assert (counts.active, counts.running) == (4, 0)
    assert_exact(stores)
    batch.begin_enable_job(job_id, polling_interval=0).result()
    wait_for(lambda: batch.get_job_task_counts(job_id).task_slot_counts.running == 3)
    running = [t.id for t in batch.list_tasks(job_id, filter="state eq 'running'")]
    batch.terminate_task(job_id, running[0])  # running -> completed, failed (TaskEnded)
    assert_exact(stores)
    # Not exported from azure.batch.models, and a terminate without a reason fails client-side.
    reason = BatchJobTerminateOptions(termination_reason="done")
    batch.begin_terminate_job(job_id, reason, polling_interval=0).result()  # the running ones end with the job
    wait_for(lambda: batch.get_job(job_id).state == "completed")
    counts = assert_wire_counts(batch, job_id)
    assert (counts.running, counts.succeeded) == (0, 0) and counts.failed >= 2  # 2 to 3: what ran when it ended
    assert_exact(stores)
    batch.begin_delete_job(job_id, polling_interval=0).result()
    assert_exact(stores)


def test_a_database_from_before_the_counts_table_is_recounted_on_open(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    stores = Stores.open(path)
    stores.pools.create({"id": "p", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 0,
                         "virtualMachineConfiguration": LOCAL_VM.as_dict()})
    stores.jobs.insert("j", {"id": "j", "poolInfo": {"poolId": "p"}})
    specs = [{"id": f"t{i}", "commandLine": "/bin/true", "requiredSlots": 1 + i % 3} for i in range(50)]
    stores.tasks.add_collection("j", specs)
    with stores.tx() as conn:  # as an older emulator left it: tasks, no counts table, no triggers
        conn.execute("DROP TABLE task_counts")
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
    stores.close()
    reopened = Stores.open(path)
    try:
        assert_exact(reopened)
        counts = reopened.tasks.counts("j")
        assert counts["taskCounts"]["active"] == 50
        assert counts["taskSlotCounts"]["active"] == sum(1 + i % 3 for i in range(50))
        reopened.reset()  # the emulator's reset (tests' tidy-up): the counts go with their jobs and tasks
        assert not reopened.db.conn.execute("SELECT * FROM task_counts").fetchall()
    finally:
        reopened.close()
