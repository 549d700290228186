"""Pools through the real SDK: create/get/list/delete, resize pollers, nodes, autoscale."""

from __future__ import annotations

import time

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from bigcompute.local.testing import LOCAL_VM, make_job, make_pool, unique, wait_for


def test_create_get_list_and_pool_exists(batch) -> None:
    pool_id = make_pool(batch, nodes=2, slots=3)
    pool = batch.get_pool(pool_id)
    assert (pool.state, pool.allocation_state, pool.current_dedicated_nodes, pool.task_slots_per_node) == (
        "active", "steady", 2, 3)
    assert pool_id in {p.id for p in batch.list_pools(filter=f"startswith(id, '{pool_id[:9]}')")}
    with pytest.raises(ResourceExistsError) as err:
        batch.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3",
                                                   virtual_machine_configuration=LOCAL_VM))
    assert err.value.error.code == "PoolExists"
    nodes = list(batch.list_nodes(pool_id))
    assert len(nodes) == 2 and all(n.state == "idle" and n.is_dedicated for n in nodes)
    counts = {c.pool_id: c for c in batch.list_pool_node_counts()}[pool_id]
    assert (counts.dedicated.idle, counts.dedicated.total) == (2, 2)


def test_delete_pool_poller_ends_on_404(batch) -> None:
    pool_id = make_pool(batch)
    batch.begin_delete_pool(pool_id, polling_interval=0).result()
    with pytest.raises(ResourceNotFoundError) as err:
        batch.get_pool(pool_id)
    assert err.value.error.code == "PoolNotFound"


def test_resize_up_and_down(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    batch.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=3, target_low_priority_nodes=1),
                            polling_interval=0).result()
    pool = batch.get_pool(pool_id)
    assert (pool.allocation_state, pool.current_dedicated_nodes, pool.current_low_priority_nodes) == ("steady", 3, 1)
    batch.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=1), polling_interval=0).result()
    assert len(list(batch.list_nodes(pool_id))) == 1


def test_resize_refused_on_autoscale_pool(batch) -> None:
    pool_id = unique("pool")
    batch.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", enable_auto_scale=True,
                                               virtual_machine_configuration=LOCAL_VM,
                                               auto_scale_formula="$TargetDedicatedNodes=2;"))
    with pytest.raises(ResourceExistsError):
        batch.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=3), polling_interval=0)


def test_supported_images_and_applications(batch) -> None:
    assert [i.node_agent_sku_id for i in batch.list_supported_images()] == ["batch.node.ubuntu 22.04"]
    assert list(batch.list_applications()) == []


def test_enable_evaluate_disable_autoscale(batch) -> None:
    pool_id = make_pool(batch, nodes=0)
    with pytest.raises(ResourceExistsError):
        batch.evaluate_pool_auto_scale(pool_id, m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=1;"))
    batch.enable_pool_auto_scale(pool_id, m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=2;"))
    pool = wait_for(lambda: (p := batch.get_pool(pool_id)).current_dedicated_nodes == 2 and p)
    assert pool.enable_auto_scale and pool.auto_scale_run.results.startswith("$TargetDedicatedNodes=2")
    run = batch.evaluate_pool_auto_scale(pool_id, m.BatchPoolEvaluateAutoScaleOptions(
        auto_scale_formula="$TargetDedicatedNodes=4;"))
    assert "$TargetDedicatedNodes=4" in run.results and run.error is None
    assert batch.get_pool(pool_id).target_dedicated_nodes == 2  # evaluate does not apply
    batch.disable_pool_auto_scale(pool_id)
    assert batch.get_pool(pool_id).enable_auto_scale is False


def test_autoscale_rules_from_batch(batch) -> None:
    pool_id = make_pool(batch, nodes=0)
    with pytest.raises(HttpResponseError) as err:
        batch.enable_pool_auto_scale(pool_id, m.BatchPoolEnableAutoScaleOptions(
            auto_scale_formula="$TargetDedicatedNodes=1;", auto_scale_evaluation_interval=__import__("datetime").timedelta(minutes=1)))
    assert err.value.error.code == "InvalidPropertyValue"
    with pytest.raises(HttpResponseError) as err:
        batch.evaluate_pool_auto_scale(pool_id, m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="x" * 9000))
    assert err.value.error.code == "AutoScalingFormulaTooLong"  # Batch's published code


def test_autoscale_resizes_on_its_interval(emulator, batch) -> None:
    """The session emulator runs at 600x: a 5-minute interval is 0.5 s."""
    pool_id = unique("pool")
    formula = "$TargetDedicatedNodes=1;"
    batch.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", enable_auto_scale=True,
                                               virtual_machine_configuration=LOCAL_VM,
                                               auto_scale_formula=formula))
    wait_for(lambda: batch.get_pool(pool_id).current_dedicated_nodes == 1)
    # Change the formula behind the API's back: only the periodic evaluation can pick it up.
    with emulator.state.db.tx():
        doc = emulator.state.pools.load(pool_id)
        doc["autoScaleFormula"] = "$TargetDedicatedNodes=3;"
        emulator.state.pools.save(doc)
    first = batch.get_pool(pool_id).auto_scale_run.timestamp
    pool = wait_for(lambda: (p := batch.get_pool(pool_id)).current_dedicated_nodes == 3 and p, timeout=5)
    assert pool.auto_scale_run.timestamp > first


def test_scale_in_requeues_running_tasks(emulator, batch) -> None:
    """nodeDeallocationOption=requeue: tasks on removed nodes go back to active with requeueCount+1."""
    import threading

    from bigcompute.emulator.compute.executor import ExecResult

    gate = threading.Event()
    real = emulator.state.executor

    class Holding:
        def run(self, run, handle):
            if "hold" in run.command_line:
                while not gate.is_set() and not handle.killed.is_set():
                    time.sleep(0.01)
                return ExecResult(137 if handle.killed.is_set() else 0, phase="killed" if handle.killed.is_set() else "exit")
            return real.run(run, handle)

    emulator.state.executor = Holding()
    try:
        pool_id = make_pool(batch, nodes=2)
        job_id = make_job(batch, pool_id)
        batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"h{i}", command_line="hold") for i in range(2)])
        wait_for(lambda: batch.get_job_task_counts(job_id).task_counts.running == 2)
        batch.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=1,
                                                                  node_deallocation_option="requeue"),
                                polling_interval=0).result()
        tasks = {t.id: t for t in batch.list_tasks(job_id)}
        assert sum(t.execution_info.requeue_count for t in tasks.values()) == 1
        gate.set()
        wait_for(lambda: batch.get_job_task_counts(job_id).task_counts.succeeded == 2)
    finally:
        gate.set()
        emulator.state.executor = real


def test_autoscale_follows_sampled_pending_tasks(batch) -> None:
    """A real formula over $PendingTasks: the pool grows while tasks wait and shrinks once they finish."""
    pool_id = unique("pool")
    formula = ("$TargetDedicatedNodes = min(3, max($PendingTasks.GetSample(1)));"
               "$NodeDeallocationOption = taskcompletion;")
    batch.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", enable_auto_scale=True,
                                               virtual_machine_configuration=LOCAL_VM,
                                               auto_scale_formula=formula))
    job_id = make_job(batch, pool_id)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(5)])
    wait_for(lambda: batch.get_pool(pool_id).current_dedicated_nodes >= 1, timeout=10)
    wait_for(lambda: batch.get_job_task_counts(job_id).task_counts.succeeded == 5, timeout=10)
    pool = wait_for(lambda: (p := batch.get_pool(pool_id)).current_dedicated_nodes == 0 and p, timeout=10)
    assert pool.auto_scale_run.error is None
