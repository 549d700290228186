"""Calibration: a pool's history read back through the real SDK from the emulator, turned into a trace and
start-up times that the simulator replays."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.batch import models as m

from bigcompute.autoscale.calibrate import ready_time_options, start_up, trace_csv
from bigcompute.autoscale.traces import parse_csv
from bigcompute.local.testing import LOCAL_VM
from bigcompute.runner.history import NodeRecord, pool_history


def _until(check, timeout: float = 20.0):  # noqa: ANN001, ANN202 - a zero-argument predicate
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_history_of_an_autoscale_pool_becomes_a_trace_the_simulator_replays(batch) -> None:
    pool_id, job_id = f"pool-{uuid.uuid4().hex[:8]}", f"job-{uuid.uuid4().hex[:8]}"
    batch.create_pool(m.BatchPoolCreateOptions(
        id=pool_id, vm_size="standard_d2s_v3", task_slots_per_node=2, enable_auto_scale=True,
        virtual_machine_configuration=LOCAL_VM,
        auto_scale_formula="$TargetDedicatedNodes = 2;", auto_scale_evaluation_interval=timedelta(minutes=5)))
    _until(lambda: batch.get_pool(pool_id).current_dedicated_nodes == 2)
    batch.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    for i in range(5):
        batch.create_task(job_id, m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true",
                                                           required_slots=2 if i == 0 else 1))
    _until(lambda: all(t.state == "completed" for t in batch.list_tasks(job_id)))

    found = pool_history(batch, pool_id)
    assert [t.task_id for t in found.tasks] == [f"t{i}" for i in range(5)] and found.tasks[0].slots == 2
    assert all(t.job_id == job_id and t.started and t.ended and t.created <= t.started <= t.ended
               for t in found.tasks)
    assert len(found.nodes) == 2 and all(n.dedicated and n.allocated for n in found.nodes)
    assert found.autoscale_run is not None and found.autoscale_run["results"].startswith("$TargetDedicatedNodes=2;")
    assert pool_history(batch, pool_id, since=datetime.now(UTC) + timedelta(hours=1)).tasks == ()

    text, unfinished = trace_csv(found.tasks)
    trace = parse_csv(text, "history.csv")
    assert unfinished == 0 and trace.tasks == 5 and [a.slots for a in trace.arrivals].count(2) == 1
    assert trace.start == found.tasks[0].created.replace(microsecond=found.tasks[0].created.microsecond // 1000 * 1000)


def test_start_up_times_give_the_simulators_ready_time_range() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    nodes = [NodeRecord("a", True, t0, t0 + timedelta(seconds=190.4)), NodeRecord("b", True, t0, t0 + timedelta(
        minutes=11)), NodeRecord("c", False, t0, None), NodeRecord("d", True, t0, t0 + timedelta(minutes=4))]
    s = start_up(nodes)
    assert (s.samples, s.low, s.median, s.high) == (3, pytest.approx(190.4), 240.0, 660.0)
    assert ready_time_options(s) == ["--ready-time PT190S", "--ready-time-max PT660S"]
    assert ready_time_options(start_up([])) == []


def test_history_command_on_the_local_target(emulator, azurite, tmp_path, monkeypatch) -> None:
    import json
    import textwrap

    from click.testing import CliRunner

    from bigcompute.cli.main import cli
    from tests.runner.conftest import STACK, make_target, write_local_files

    target = make_target(emulator, azurite)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    write_local_files(tmp_path, target)
    monkeypatch.chdir(tmp_path)
    client, pool_id = emulator.client(), target.pool_ids["cpu"]
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    for i in range(3):
        client.create_task(job_id, m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true"))
    _until(lambda: all(t.state == "completed" for t in client.list_tasks(job_id)))

    result = CliRunner().invoke(cli, ["autoscale", "history", "--target", "local", "--stack", "test", "--pool", "cpu",
                                      "--trace-out", "history.csv", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["pool"], report["tasks"], report["nodes"]) == (pool_id, 3, 1)
    assert report["simulate_options"][0] == "--trace history.csv"
    assert parse_csv((tmp_path / "history.csv").read_text(), "history.csv").tasks == 3
    missing = CliRunner().invoke(cli, ["autoscale", "history", "--target", "local", "--stack", "test", "--pool", "gpu",
                                       "--trace-out", "x.csv"])
    assert missing.exit_code == 1 and "pool 'gpu' is not deployed on the local target" in missing.output
