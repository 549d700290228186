"""The dispatch path's building blocks: savepoints inside a transaction, read-only parsed views, the counts
table, the fast RFC 3339 formatter, and the combined completion + next-claim commit under real processes."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest
from azure.batch import models as m

from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.db import Database, ViewCache
from bigcompute.emulator.state.tasks import COUNTS_SQL, PAGE_SQL
from bigcompute.local.testing import make_job, make_pool, wait_for


def test_a_failed_savepoint_keeps_the_rest_of_the_transaction(tmp_path) -> None:
    db = Database(tmp_path / "s.db")
    with db.tx() as c:
        c.execute("INSERT INTO meta VALUES ('kept', '1')")
        with pytest.raises(RuntimeError), db.savepoint():
            c.execute("INSERT INTO meta VALUES ('undone', '1')")
            raise RuntimeError("dispatch failed")
    assert [k for (k,) in db.conn.execute("SELECT key FROM meta")] == ["kept"]


def test_view_cache_parses_each_text_once() -> None:
    view = ViewCache(limit=2)
    a = view('{"id": "p", "n": 1}')
    assert view('{"id": "p", "n": 1}') is a
    assert view('{"id": "p", "n": 2}')["n"] == 2
    view('{"x": 1}')  # over the limit: the cache starts over, a changed text is never served stale
    assert view('{"id": "p", "n": 1}') == a


def test_task_counts_read_only_the_counts_table() -> None:
    db = Database(None)
    plan = db.conn.execute(f"EXPLAIN QUERY PLAN {COUNTS_SQL}", ("j",)).fetchall()
    assert [row[3] for row in plan] == ["SEARCH task_counts USING PRIMARY KEY (job_id=?)"]


def test_a_task_page_reads_only_its_rows() -> None:
    """Each page of a list seeks to its first seq: no sort of the whole job per page (quadratic on 1M tasks)."""
    db = Database(None)
    plan = db.conn.execute(f"EXPLAIN QUERY PLAN {PAGE_SQL}", ("j", 0)).fetchall()
    assert [row[3] for row in plan] == ["SEARCH tasks USING INDEX tasks_seq (job_id=? AND seq>?)"]
    runnable = db.conn.execute("EXPLAIN QUERY PLAN SELECT doc FROM tasks WHERE job_id=? AND state='active' AND "
                               "waiting=0 AND slots<=? ORDER BY seq LIMIT ?", ("j", 1, 1)).fetchall()
    assert "tasks_sched" in runnable[0][3]  # dispatch keeps its own index


def test_iso_matches_datetime() -> None:
    rng = random.Random(7)
    for ts in [0.0, 0.9999995, 1e9 + 0.5, time.time(), *(rng.uniform(0, 4e9) for _ in range(5000))]:
        assert iso(ts) == datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_completions_and_next_claims_keep_every_task_accounted(process_batch) -> None:
    """Each completion commits with the freed slot's next claim: 300 real processes on 3 slots, with
    retries and failures, end with exact counts and no slot lost."""
    pool_id = make_pool(process_batch, nodes=1, slots=3)
    job_id = make_job(process_batch, pool_id)
    tasks = [m.BatchTaskCreateOptions(id=f"t{i}", command_line=f"/bin/sh -c 'exit {1 if i % 10 == 0 else 0}'",
                                      constraints=m.BatchTaskConstraints(max_task_retry_count=1))
             for i in range(300)]
    process_batch.create_tasks(job_id, tasks)
    counts = wait_for(lambda: (c := process_batch.get_job_task_counts(job_id)).task_counts.completed == 300 and c,
                      timeout=120)
    assert (counts.task_counts.succeeded, counts.task_counts.failed) == (270, 30)
    failed = process_batch.get_task(job_id, "t0")
    assert failed.execution_info.retry_count == 1 and failed.execution_info.exit_code == 1
    nodes = list(process_batch.list_nodes(pool_id))
    assert nodes[0].running_task_slots_count == 0 and nodes[0].state == "idle"


def test_an_oversized_task_does_not_hold_back_its_job(batch) -> None:
    """A task needing more slots than any node has stays active, as on Batch; the tasks after it still run."""
    pool_id = make_pool(batch, nodes=1, slots=2)
    job_id = make_job(batch, pool_id)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"big{i}", command_line="/bin/true", required_slots=3)
                                for i in range(4)])
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"small{i}", command_line="/bin/true") for i in range(4)])
    wait_for(lambda: all(batch.get_task(job_id, f"small{i}").state == "completed" for i in range(4)))
    assert {batch.get_task(job_id, f"big{i}").state for i in range(4)} == {"active"}
