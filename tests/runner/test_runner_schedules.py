"""Scheduled workloads end to end on the local target (Azurite + an emulator running real processes, its clock
60x faster): `apply` creates the job schedule, each run's job manager task adds the workload's tasks as the
pool's managed identity (a token from the node's IMDS, the emulator's), the tasks run and succeed, `status` lists
the runs, and `delete` removes the schedule."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.local import azurite as az
from bigcompute.local.testing import LOCAL_VM, wait_for
from bigcompute.runner.schedules import MANAGER_ID
from tests.conftest import run_cli as run
from tests.contract.conftest import SPECS, SpecSet, body_schema, wire
from tests.contract.test_contract_dataplane import DATA_PLANE
from tests.runner.conftest import EntraCredential, make_target, write_local_files, write_workload
from tests.runner.test_runner_azure import IDENTITY, deploy_azure_like
from tests.security.test_security_secrets import LEAK_PATTERNS

HOURLY = """\
description: a report every minute
inputs: [prog/square.sh]
schedule:
  interval: PT1M
tasks:
  - id: sq{i}
    command: sh prog/square.sh {i}
    sweep: {i: {start: 1, stop: 4}}
    outputs: [sq.txt]
merge:
  command: cat $BIGCOMPUTE_TASK_OUTPUTS/*/sq.txt | sort -n | tr '\\n' ' ' > total.txt
  outputs: [total.txt]
"""


@pytest.fixture
def scheduled(repo, fast_process_emulator, azurite, monkeypatch):
    """A repository whose local target is the fast emulator, and a scheduled workload's unique name. The
    emulator's task authentication tokens (AZ_BATCH_AUTHENTICATION_TOKEN) are recorded: none may be issued."""
    runs = fast_process_emulator.state.runs
    monkeypatch.setattr(runs, "job_token", lambda job, issue=runs.job_token: job_tokens.append(job) or issue(job))
    job_tokens: list[str] = []
    target = make_target(fast_process_emulator, azurite)
    write_local_files(repo, target)
    name = f"every-{uuid.uuid4().hex[:6]}"
    (repo / "workloads" / "prog").mkdir()
    (repo / "workloads" / "prog" / "square.sh").write_text("echo $(( $1 * $1 )) > sq.txt\n")
    write_workload(repo, name, HOURLY)
    yield (name, fast_process_emulator.client(), azurite.service().get_container_client(target.containers["outputs"]),
           target.pool_ids["cpu"], fast_process_emulator.state.identities)
    assert not [j for j in job_tokens if j.startswith(f"{name}-")]  # no run's task got the retired token


def test_a_scheduled_workload_runs_again_and_status_shows_its_runs(scheduled) -> None:
    name, batch, outputs, pool_id, identities = scheduled
    plan = run("plan", "--stack", "test", "--format", "json")
    assert plan.exit_code == 0, plan.output
    [row] = json.loads(plan.output)["workloads"]
    schedule_id = row["job"]
    assert row["status"] == "new" and row["tasks"] == 4

    applied = run("apply", "--stack", "test")
    assert applied.exit_code == 0, applied.output
    assert f"job schedule {schedule_id} in place: each run adds the workload's 4 tasks" in applied.output
    schedule = batch.get_job_schedule(schedule_id)
    assert schedule.schedule.recurrence_interval.total_seconds() == 60
    manager = schedule.job_specification.job_manager_task
    assert manager.id == MANAGER_ID
    # no task authentication token (retired on Azure): the manager names the pool identity to ask IMDS for
    assert "authenticationTokenSettings" not in manager.as_dict()
    [client_id] = [i.client_id for i in batch.get_pool(pool_id).identity.user_assigned_identities]
    assert [(e.name, e.value) for e in manager.environment_settings] == [("AZURE_CLIENT_ID", client_id)]
    issued_before = identities.issued.get(client_id, 0)

    def completed_runs():
        jobs = [j for j in batch.list_jobs_from_schedule(schedule_id) if j.state == "completed"]
        return len(jobs) >= 2 and sorted(jobs, key=lambda j: j.creation_time)

    runs = wait_for(completed_runs, timeout=90, interval=0.5)[:2]
    for job in runs:
        assert job.id.startswith(f"{schedule_id}:job-")
        tasks = {t.id: t for t in batch.list_tasks(job.id)}
        assert set(tasks) == {MANAGER_ID, "sq1", "sq2", "sq3", "merge"}  # the manager added the workload's tasks
        assert all(t.execution_info.result == "success" for t in tasks.values()), \
            {t.id: t.execution_info.failure_info for t in tasks.values()}
        total = outputs.download_blob(f"{job.id}/merge/total.txt").readall().decode()
        assert total.split() == ["1", "4", "9"]  # each run's merge read that run's outputs
    assert identities.issued[client_id] - issued_before >= 2  # every run's manager got its token from IMDS

    again = run("apply", "--stack", "test")
    assert again.exit_code == 0 and "is up to date" in again.output  # the spec hash is the schedule's identity

    status = run("status", "--stack", "test", "--format", "json")
    assert status.exit_code == 0, status.output
    [st] = json.loads(status.output)
    assert st["job"] == schedule_id and st["state"] == "schedule active"
    shown = {r["job"]: r for r in st["schedule"]["runs"]}
    for job in runs:
        assert (shown[job.id]["state"], shown[job.id]["succeeded"], shown[job.id]["failed"],
                shown[job.id]["manager"]) == ("completed", 4, 0, "succeeded")
    assert st["schedule"]["next_run"]
    table = CliRunner().invoke(cli, ["status", "--stack", "test"], env={"COLUMNS": "300"})
    assert f"runs of job schedule {schedule_id}" in table.output and runs[0].id in table.output

    kept = run("delete", name, "--stack", "test", "--yes")
    assert kept.exit_code == 0 and "still active; --force" in kept.output  # an active schedule, as an active job
    assert batch.get_job_schedule(schedule_id).state == "active"
    deleted = run("delete", name, "--stack", "test", "--yes", "--force")
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted job schedule {schedule_id}" in deleted.output
    assert schedule_id not in {s.id for s in batch.list_job_schedules()}
    assert not [j for j in batch.list_jobs() if j.id.startswith(f"{schedule_id}:")]


def test_wait_is_refused_for_a_scheduled_workload_before_anything_is_created(scheduled) -> None:
    name, batch, *_ = scheduled
    refused = run("apply", "--stack", "test", "--wait")
    assert refused.exit_code != 0 and f"--wait cannot follow {name}" in refused.output
    assert not [s for s in batch.list_job_schedules() if s.id.startswith(f"{name}-")]


def test_the_azure_target_refuses_a_schedule_whose_pool_lacks_the_identity(repo, azure_like, https_azurite,
                                                                           signing_key, monkeypatch) -> None:
    """The manager adds the tasks as the pool's managed identity: a pool without it is refused before anything is
    created, naming the stack file and the pool."""
    credential = EntraCredential(signing_key)
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: credential)
    batch = deploy_azure_like(repo, azure_like, https_azurite, credential)
    name = f"every-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, "schedule:\n  interval: PT1H\ntasks:\n  - {id: a, command: 'true'}\n")
    for command in ("plan", "apply"):
        result = CliRunner().invoke(cli, [command, "--target", "azure", "--stack", "test", "--outputs", "outputs.json"])
        assert result.exit_code == 2, result.output
        assert f"{name}.yaml:6" in result.output and "pool 'cpu' of stack 'test' (stacks/Pulumi.test.yaml)" \
            in result.output and "does not carry the stack's identity" in result.output
    assert list(batch.list_job_schedules()) == [] and list(batch.list_jobs()) == []
    assert list(azure_like.state.stores.tasks.keys_in_states("active")) == []


def test_a_local_pool_from_before_pool_identities_is_refused_with_how_to_recreate_it(repo, emulator, azurite) -> None:
    target = make_target(emulator, azurite)
    old_pool = f"old-{uuid.uuid4().hex[:6]}"  # as `local up` created pools before they carried the identity
    emulator.client().create_pool(m.BatchPoolCreateOptions(id=old_pool, vm_size="standard_d2s_v5",
                                                           target_dedicated_nodes=0, virtual_machine_configuration=LOCAL_VM))
    write_local_files(repo, replace(target, pool_ids={"cpu": old_pool}))
    name = f"every-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, "schedule:\n  interval: PT1H\ntasks:\n  - {id: a, command: 'true'}\n")
    result = run("apply", "--stack", "test")
    assert result.exit_code == 2, result.output
    assert f"{name}.yaml:6" in result.output and "pool 'cpu' of stack 'test' (stacks/Pulumi.test.yaml)" in result.output
    assert "`bigcompute local down --purge`, then `bigcompute local up`" in result.output
    assert not [s for s in emulator.client().list_job_schedules() if s.id.startswith(f"{name}-")]
    assert not list(azurite.service().get_container_client(target.containers["inputs"]).list_blobs())


def test_the_azure_target_creates_a_schedule_whose_manager_uses_the_pool_identity(repo, azure_like, https_azurite,
                                                                                  signing_key, monkeypatch) -> None:
    """The job schedule `apply` sends to Azure matches the 2025-06-01 data-plane spec, and carries the pool
    identity's client id and neither a task authentication token nor any key or SAS."""
    credential = EntraCredential(signing_key)
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: credential)
    batch = deploy_azure_like(repo, azure_like, https_azurite, credential, pool_identity=True)
    sent = []
    create = BatchClient.create_job_schedule
    monkeypatch.setattr(BatchClient, "create_job_schedule",
                        lambda self, options, **kw: sent.append(wire(options)) or create(self, options, **kw))
    name = f"every-{uuid.uuid4().hex[:6]}"
    # not before 2099: the schedule is created, its first run is not (this test is about the body)
    write_workload(repo, name, "inputs: [data.txt]\nschedule:\n  interval: PT1H\n  doNotRunUntil: 2099-01-01T00:00:00Z\n"
                               "tasks:\n  - {id: a, command: 'cat data.txt'}\n")
    result = CliRunner().invoke(cli, ["apply", "--target", "azure", "--stack", "test", "--outputs", "outputs.json"])
    assert result.exit_code == 0, result.output
    [body] = sent
    specs = SpecSet(SPECS)
    assert specs.errors(body_schema(SPECS, DATA_PLANE, "JobSchedules_CreateJobSchedule"), body) == []
    manager = body["jobSpecification"]["jobManagerTask"]
    [pool_identity] = batch.get_pool("cpu").identity.user_assigned_identities
    assert manager["environmentSettings"] == [{"name": "AZURE_CLIENT_ID", "value": pool_identity.client_id}]
    assert all(f["identityReference"] == {"resourceId": IDENTITY} for f in manager["resourceFiles"])
    text = json.dumps(body)
    assert "authenticationTokenSettings" not in text and "AZ_BATCH_AUTHENTICATION_TOKEN" not in text
    assert [p.pattern for p in LEAK_PATTERNS if p.search(text)] == []
    assert az.DEV_KEY not in text and az.DEV_KEY[:16] not in text
    assert [s.id for s in batch.list_job_schedules()] == [body["id"]]


def test_commands_that_read_one_job_say_a_schedule_has_runs(scheduled) -> None:
    name, batch, *_ = scheduled
    assert run("apply", "--stack", "test").exit_code == 0
    for command in (["logs", name], ["download", name], ["retry", name]):
        result = run(*command, "--stack", "test")
        assert result.exit_code != 0 and "runs as a job schedule" in result.output, (command, result.output)
    assert run("delete", name, "--stack", "test", "--yes", "--force").exit_code == 0


def test_a_changed_schedule_supersedes_the_old_one_and_prune_removes_it(scheduled, repo) -> None:
    name, batch, *_ = scheduled
    assert run("apply", "--stack", "test").exit_code == 0
    [old] = [s.id for s in batch.list_job_schedules() if s.id.startswith(f"{name}-")]
    path = repo / "workloads" / f"{name}.yaml"
    path.write_text(path.read_text().replace("interval: PT1M", "interval: PT2M"))
    [row] = json.loads(run("plan", "--stack", "test", "--format", "json").output)["workloads"]
    assert row["status"] == "changed" and row["supersedes"] == [old]  # the spec hash is the schedule's identity
    pruned = run("apply", "--stack", "test", "--prune", "--force", "--yes")
    assert pruned.exit_code == 0, pruned.output
    assert f"deleted job schedule {old}" in pruned.output
    left = [s for s in batch.list_job_schedules() if s.id.startswith(f"{name}-")]
    assert [s.id for s in left] == [row["job"]] and left[0].schedule.recurrence_interval.total_seconds() == 120
    assert run("delete", name, "--stack", "test", "--yes", "--force").exit_code == 0
