"""Batch's transitional states take time in the emulator (compute/transitions.py), through the real BatchClient:
pools resizing while nodes appear one by one, stopping, deleting; nodes creating, starting, waiting for their
start task; jobs deleting, terminating, disabling; the published 409s meanwhile. The durations are Azure's
typical ones divided by --time-scale: the tests assert what is observed and in what order, never how long."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.batch.models._models import (  # not exported in 15.x
    BatchJobTerminateOptions,
    BatchNodeRebootOptions,
)
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from bigcompute.emulator import InstantExecutor
from bigcompute.emulator.__main__ import main as emulator_main
from bigcompute.emulator.compute.executor import ExecResult, RunHandle, TaskRun
from bigcompute.emulator.compute.transitions import AZURE, INSTANT, Durations
from bigcompute.local.testing import LOCAL_VM, make_job, unique, wait_for, wait_task
from tests.conftest import Emulator, _start, run_cli

# Azure's durations (a pool's nodes: about 3 minutes) 150x faster: each phase lasts a few tenths of a second,
# long enough for a poller to see it. Jobs' transitions are short on Azure; here they last as long as the
# others so that the test sees them.
SCALE = 150.0
DURATIONS = Durations.parse("azure,pool-allocation=120,job-deleting=120,job-terminating=60,job-disabling=60")


class HeldStartTasks(InstantExecutor):
    """Start tasks wait until `release`; everything else completes at once."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def run(self, run: TaskRun, handle: RunHandle) -> ExecResult:
        if run.kind == "start":
            self.release.wait(30)
        return super().run(run, handle)


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = _start(tmp_path_factory.mktemp("emu-timed"), HeldStartTasks(), time_scale=SCALE, transitions=DURATIONS)
    yield emu
    emu.state.executor.release.set()
    emu.server.stop()


@pytest.fixture
def client(timed: Emulator) -> BatchClient:
    return timed.client()


def watch(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> list[Any]:
    """Read until `done`; the distinct successive values seen (the last one satisfies `done`)."""
    seen: list[Any] = []

    def step() -> bool:
        value = read()
        if not seen or seen[-1] != value:
            seen.append(value)
        return done(value)

    wait_for(step, timeout, interval=0.005)
    return seen


def in_order(seen: list[Any], *expected: Any) -> bool:
    """`expected` occurs in `seen` in this order (other values may come between)."""
    rest = iter(seen)
    return all(any(value == want for value in rest) for want in expected)


def create_pool(client: BatchClient, nodes: int, **kwargs: Any) -> str:
    pool_id = unique("pool")
    client.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=nodes,
                                                virtual_machine_configuration=LOCAL_VM, **kwargs))
    return pool_id


def pool_view(client: BatchClient, pool_id: str) -> tuple[str, int]:
    pool = client.get_pool(pool_id)
    return pool.allocation_state, pool.current_dedicated_nodes


def node_states(client: BatchClient, pool_id: str) -> tuple[str, ...]:
    return tuple(n.state for n in sorted(client.list_nodes(pool_id), key=lambda n: n.id))


def error_of(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(HttpResponseError) as refused:
        call()
    return refused.value.status_code, refused.value.error.code


# --- pools and nodes -------------------------------------------------------------------------------------------

def test_a_new_pool_resizes_while_its_nodes_appear_one_by_one_and_boot(client: BatchClient) -> None:
    pool_id = create_pool(client, nodes=2)
    seen = watch(lambda: (*pool_view(client, pool_id), node_states(client, pool_id)),
                 lambda v: v[2] == ("idle", "idle"))
    pools = [v[:2] for v in seen]
    assert pools[0] == ("resizing", 0)
    assert in_order(pools, ("resizing", 0), ("resizing", 1), ("steady", 2)), seen  # one node, then the other
    for i in (0, 1):  # each node, as it was seen
        assert in_order([v[2][i] for v in seen if len(v[2]) > i], "creating", "starting", "idle"), seen


def test_a_resize_during_a_resize_is_refused_with_409_pool_being_resized(client: BatchClient) -> None:
    pool_id = create_pool(client, nodes=2)
    assert client.get_pool(pool_id).allocation_state == "resizing"
    resize = m.BatchPoolResizeOptions(target_dedicated_nodes=3)
    assert error_of(lambda: client.begin_resize_pool(pool_id, resize).result()) == (409, "PoolBeingResized")
    autoscale = m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 1;")
    assert error_of(lambda: client.enable_pool_auto_scale(pool_id, autoscale)) == (409, "PoolBeingResized")
    assert client.get_pool(pool_id).allocation_state == "resizing"  # the refusal happened during the resize
    wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady", 20)
    client.begin_resize_pool(pool_id, resize, polling_interval=0.05).result()  # steady: accepted, and it takes time
    assert pool_view(client, pool_id) == ("steady", 3)


def test_stop_resize_shows_stopping_then_steady_with_the_nodes_allocated_so_far(client: BatchClient) -> None:
    pool_id = create_pool(client, nodes=0)
    wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady")
    client.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=4), polling_interval=0)
    client.begin_stop_pool_resize(pool_id, polling_interval=0)
    seen = watch(lambda: client.get_pool(pool_id).allocation_state, lambda v: v == "steady")
    assert seen == ["stopping", "steady"]
    pool = client.get_pool(pool_id)
    assert pool.current_dedicated_nodes == pool.target_dedicated_nodes < 4


def test_a_resize_past_its_resize_timeout_ends_steady_with_allocation_timed_out(tmp_path: Path) -> None:
    """Nodes that would take an hour to allocate, a resizeTimeout of 5 minutes: Batch gives up (at 300x, in 1 s)."""
    emu = _start(tmp_path, InstantExecutor(), time_scale=300.0, transitions=Durations.parse("instant,pool-allocation=3600"))
    try:
        client = emu.client()
        pool_id = create_pool(client, nodes=2, resize_timeout=dt.timedelta(minutes=5))
        seen = watch(lambda: pool_view(client, pool_id), lambda v: v[0] == "steady")
        assert seen == [("resizing", 0), ("steady", 0)]
        [error] = client.get_pool(pool_id).resize_errors
        assert error.code == "AllocationTimedOut"
    finally:
        emu.server.stop()


def test_a_deleted_pool_shows_deleting_refuses_changes_then_is_gone(client: BatchClient) -> None:
    pool_id = create_pool(client, nodes=1)
    wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady", 20)
    client.begin_delete_pool(pool_id, polling_interval=0)
    assert client.get_pool(pool_id).state == "deleting"
    resize = m.BatchPoolResizeOptions(target_dedicated_nodes=2)
    assert error_of(lambda: client.begin_resize_pool(pool_id, resize).result()) == (409, "PoolBeingDeleted")
    assert error_of(lambda: client.begin_delete_pool(pool_id).result()) == (409, "PoolBeingDeleted")
    assert error_of(lambda: client.begin_stop_pool_resize(pool_id).result()) == (409, "PoolBeingDeleted")
    assert client.get_pool(pool_id).state == "deleting"  # the refusals came while it was deleting
    with pytest.raises(ResourceNotFoundError):
        wait_for(lambda: client.get_pool(pool_id) and False, 20)


def test_the_start_task_runs_on_a_booted_node_before_it_is_idle_and_takes_tasks(timed: Emulator,
                                                                               client: BatchClient) -> None:
    executor = timed.state.executor
    executor.release.clear()
    start = m.BatchStartTask(command_line="/bin/sh -c 'echo setup'", wait_for_success=True)
    pool_id = create_pool(client, nodes=1, start_task=start)
    states = watch(lambda: node_states(client, pool_id), lambda v: v == ("waitingforstarttask",))
    assert in_order(states, (), ("creating",), ("starting",), ("waitingforstarttask",)), states
    counts = {c.pool_id: c for c in client.list_pool_node_counts()}[pool_id]
    assert counts.dedicated.waiting_for_start_task == 1 and counts.dedicated.idle == 0
    job_id = make_job(client, pool_id)
    client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    assert client.get_task(job_id, "t").state == "active"  # no task on a node whose start task runs
    assert node_states(client, pool_id) == ("waitingforstarttask",)
    executor.release.set()
    assert wait_task(client, job_id, "t", 20).execution_info.exit_code == 0
    [node] = client.list_nodes(pool_id)
    assert node.state in ("idle", "running") and node.start_task_info.result == "success"


def test_a_node_being_created_refuses_node_operations_with_its_published_code(client: BatchClient) -> None:
    pool_id = create_pool(client, nodes=1)
    [node] = wait_for(lambda: list(client.list_nodes(pool_id)), 20)
    assert node.state == "creating"
    reboot = BatchNodeRebootOptions(node_reboot_kind="requeue")
    assert error_of(lambda: client.begin_reboot_node(pool_id, node.id, reboot).result()) == (409, "NodeBeingCreated")
    assert node_states(client, pool_id) == ("creating",)  # refused while it was being created


# --- jobs ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def steady_pool(timed: Emulator) -> str:
    client = timed.client()
    timed.state.executor.release.set()
    pool_id = create_pool(client, nodes=1)
    wait_for(lambda: node_states(client, pool_id) == ("idle",), 20)
    return pool_id


def test_a_deleted_job_shows_deleting_refuses_operations_and_its_id_then_is_gone(client: BatchClient,
                                                                                  steady_pool: str) -> None:
    job_id = make_job(client, steady_pool)
    client.begin_delete_job(job_id, polling_interval=0)
    assert client.get_job(job_id).state == "deleting"
    update = m.BatchJobUpdateOptions(priority=5)
    assert error_of(lambda: client.update_job(job_id, update)) == (409, "JobBeingDeleted")
    task = m.BatchTaskCreateOptions(id="t", command_line="/bin/true")
    assert error_of(lambda: client.create_task(job_id, task)) == (409, "JobBeingDeleted")
    terminate = BatchJobTerminateOptions(termination_reason="UserTerminate")
    assert error_of(lambda: client.begin_terminate_job(job_id, terminate).result()) == (409, "JobBeingDeleted")
    again = m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=steady_pool))
    with pytest.raises(ResourceExistsError) as taken:
        client.create_job(again)
    assert taken.value.error.code == "JobExists"
    assert client.get_job(job_id).state == "deleting"  # every refusal above came while it was deleting
    wait_for(lambda: not any(j.id == job_id for j in client.list_jobs()), 20)
    client.create_job(again)  # the id is free once the job is gone
    assert client.get_job(job_id).state == "active"


def test_terminate_shows_terminating_then_completed_and_a_second_terminate_is_refused(
        client: BatchClient, steady_pool: str) -> None:
    job_id = make_job(client, steady_pool)
    terminate = BatchJobTerminateOptions(termination_reason="UserTerminate")
    client.begin_terminate_job(job_id, terminate, polling_interval=0)
    assert client.get_job(job_id).state == "terminating"
    assert error_of(lambda: client.begin_terminate_job(job_id, terminate).result()) == (409, "JobBeingTerminated")
    seen = watch(lambda: client.get_job(job_id).state, lambda v: v == "completed")
    assert seen == ["terminating", "completed"]
    assert client.get_job(job_id).execution_info.termination_reason == "UserTerminate"


def test_disable_shows_disabling_then_disabled(client: BatchClient, steady_pool: str) -> None:
    job_id = make_job(client, steady_pool)
    client.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=0)
    client.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=0)  # accepted
    seen = watch(lambda: client.get_job(job_id).state, lambda v: v == "disabled")
    assert seen == ["disabling", "disabled"]
    client.begin_enable_job(job_id, polling_interval=0.05).result()
    assert client.get_job(job_id).state == "active"


# --- durations: scaled by --time-scale, Azure's by default for the service, none in process ----------------------

def test_the_same_durations_at_time_scale_1_hold_each_state(tmp_path: Path) -> None:
    """What the 150x emulator above passes through in tenths of a second lasts minutes at --time-scale 1."""
    emu = _start(tmp_path, InstantExecutor(), time_scale=1.0, transitions=DURATIONS)
    try:
        client = emu.client()
        pool_id = create_pool(client, nodes=1)
        job_id = make_job(client, pool_id)
        client.begin_delete_job(job_id, polling_interval=0)
        for _ in range(5):  # several reads: nothing moves on (the first node is due after 60 s)
            assert pool_view(client, pool_id) == ("resizing", 0) and client.get_job(job_id).state == "deleting"
    finally:
        emu.server.stop()


def test_in_process_emulators_are_instant_unless_asked(batch: BatchClient) -> None:
    """The tests' fast mode (the session's `emulator`): a pool is steady with idle nodes on the first read."""
    pool_id = create_pool(batch, nodes=2)
    wait_for(lambda: batch.get_pool(pool_id).allocation_state == "steady", 2)
    assert node_states(batch, pool_id) == ("idle", "idle")


def test_transition_settings_parse_and_refuse() -> None:
    assert Durations.parse("azure") == AZURE and Durations.parse("instant") == INSTANT
    assert Durations.parse("instant,job-deleting=5").job_deleting == 5 and \
        Durations.parse("instant,job-deleting=5").pool_allocation == 0
    assert Durations.parse("pool-allocation=1").node_creating == AZURE.node_creating  # overrides start from azure
    for bad, said in (("slow", "neither a profile"), ("job-deleting=soon", "not a number"),
                      ("job-deleting=-1", "cannot be negative")):
        with pytest.raises(ValueError, match=said):
            Durations.parse(bad)


def test_the_service_refuses_bad_transitions_before_starting(tmp_path: Path, capsys) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text('{"batchAccountKey": "a2V5"}')
    code = emulator_main(["--data-dir", str(tmp_path / "data"), "--key-file", str(key_file), "--transitions", "slow"])
    assert code == 2 and "--transitions: 'slow'" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing was started


def test_local_up_refuses_bad_transitions_with_exit_2_and_starts_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("local", "up", "--transitions", "azure,pool-deleting=later")
    assert result.exit_code == 2
    assert "--transitions: 'pool-deleting=later': 'later' is not a number of seconds" in result.output
    assert list(tmp_path.iterdir()) == []
