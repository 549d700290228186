"""The runner meets Batch's transitional states (the emulator gives them durations, compute/transitions.py): `apply`
re-creating a job whose old one is still `deleting`, `delete` meeting a job deleting or terminating, and the
waiting diagnostics of a pool still `resizing`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported in 15.x

from bigcompute.emulator import InstantExecutor
from bigcompute.emulator.compute.transitions import Durations
from bigcompute.runner.doctor.findings import OK, WARN
from bigcompute.runner.doctor.pools import pool_findings
from bigcompute.runner.prune import delete_job
from bigcompute.runner.waiting import pool_report
from tests.conftest import Emulator, _start
from tests.runner.conftest import make_target, write_local_files, write_workload
from tests.runner.test_runner_cli import run

# Time as on Azure (--time-scale 1): deleting a job lasts 2 s and terminating one 1 s, long enough for the steps
# below to meet them; nodes come at once.
JOB_TRANSITIONS = Durations.parse("instant,job-deleting=2,job-terminating=1")
TWO_TASKS = "tasks:\n  - {id: a, command: echo a}\n  - {id: b, command: echo b}\n"
WAIT = ("--stack", "test", "--wait", "--poll-interval", "0.1")


@pytest.fixture(scope="module")
def slow_jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = _start(tmp_path_factory.mktemp("emu-job-transitions"), InstantExecutor(), transitions=JOB_TRANSITIONS)
    yield emu
    emu.server.stop()


def job_of(repo: Path, name: str) -> dict:
    plan = json.loads(run("plan", "--stack", "test", "--format", "json").output)
    [row] = [w for w in plan["workloads"] if w["workload"] == name]
    return row


def test_apply_waits_for_the_old_job_being_deleted_then_creates_it_again(repo, azurite, slow_jobs) -> None:
    write_local_files(repo, make_target(slow_jobs, azurite, slots=4))
    name = f"redo-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, TWO_TASKS)
    first = run("apply", *WAIT)
    assert first.exit_code == 0, first.output
    client = slow_jobs.client()
    job_id = job_of(repo, name)["job"]
    created = client.get_job(job_id).creation_time
    client.begin_delete_job(job_id, polling_interval=0)  # someone deletes it (portal, az batch job delete)
    assert client.get_job(job_id).state == "deleting"

    row = job_of(repo, name)
    assert (row["job"], row["status"], row["supersedes"]) == (job_id, "new", [])  # the deleting job is gone for it
    assert client.get_job(job_id).state == "deleting"  # the plan above was made while it was deleting
    again = run("apply", *WAIT)
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert f"job {job_id} is being deleted: waiting until Batch has removed it, to create it again" in text
    assert f"creating job {job_id}" in text and f"{name}: all 2 tasks succeeded" in text
    job = client.get_job(job_id)
    assert job.creation_time > created  # a new job under the same id, its tasks run to the end
    assert job.state in ("terminating", "completed")  # `--wait` ends with the tasks; the job ends 1 s later


def test_delete_meets_a_job_already_deleting_or_terminating_without_a_409(azurite, slow_jobs, clients_for) -> None:
    clients = clients_for(make_target(slow_jobs, azurite))
    client = clients.batch

    def new_job() -> str:
        job_id = f"j-{uuid.uuid4().hex[:6]}"
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(
            pool_id=clients.target.pool_ids["cpu"])))
        return job_id

    deleting = new_job()
    client.begin_delete_job(deleting, polling_interval=0)
    assert client.get_job(deleting).state == "deleting"
    said = list(delete_job(clients, deleting, "pruned"))  # a second delete: 409 JobBeingDeleted on Batch
    assert said == [f"job {deleting} is already being deleted: waiting until Batch has removed it",
                    f"deleted job {deleting}"]
    terminating = new_job()
    client.begin_terminate_job(terminating, BatchJobTerminateOptions(termination_reason="x"), polling_interval=0)
    assert client.get_job(terminating).state == "terminating"
    said = list(delete_job(clients, terminating, "pruned"))  # a terminate now: 409 JobBeingTerminated
    assert said == [f"deleted job {terminating}"]
    assert not {j.id for j in client.list_jobs()} & {deleting, terminating}


def test_the_waiting_report_shows_a_pool_still_resizing(tmp_path, azurite, clients_for) -> None:
    """Nodes allocated over 20 minutes: the target's new pool is resizing throughout the test."""
    emu = _start(tmp_path, InstantExecutor(), transitions=Durations.parse("instant,pool-allocation=1200"))
    try:
        target = make_target(emu, azurite)
        found = {f.check: f for f in pool_report(clients_for(target), ["cpu"])}
        nodes = found["pool cpu: nodes"]
        assert nodes.status == OK, nodes
        assert nodes.detail.startswith("resizing; dedicated 0/1, spot 0/0 (current/target), resizing for ")
        assert nodes.detail.endswith(" s: Batch is allocating the nodes; tasks start as each one becomes idle")
    finally:
        emu.server.stop()


def test_a_resize_past_its_timeout_is_a_warning() -> None:
    """Batch's pool as it reads after a resize that has run 20 minutes with the default resizeTimeout (15)."""
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    pool = m.BatchPool({"id": "p", "allocationState": "resizing", "allocationStateTransitionTime": started.isoformat(),
                        "resizeTimeout": "PT15M", "currentDedicatedNodes": 1, "targetDedicatedNodes": 4,
                        "currentLowPriorityNodes": 0, "targetLowPriorityNodes": 0, "enableAutoScale": False})
    [finding] = pool_findings("cpu", "p", pool, "test")
    assert finding.status == WARN and "past its resizeTimeout (15 min)" in finding.detail
    assert "AllocationTimedOut" in finding.action
