"""`apply --wait` says why nothing runs (a pool at 0 nodes), stops at `--timeout` (exit 5), ends in one line with
exit 4 when the target is killed, and on Ctrl-C (exit 130) says how to watch again; the jobs keep running."""

from __future__ import annotations

import _thread
import threading
import uuid
from dataclasses import replace

import pytest
from azure.batch import models as m

from tests.conftest import _start
from tests.runner.conftest import make_target, write_local_files, write_workload
from tests.runner.test_runner_cli import run

ONE_TASK = "tasks:\n  - {id: a, command: echo hi}\n"


def zero_node_target(emu, azurite, formula: str | None = None):
    """The emulator's target, whose `cpu` pool is deployed with 0 nodes (or an autoscale formula): tasks wait."""
    target = make_target(emu, azurite)
    pool_id = f"empty-{uuid.uuid4().hex[:6]}"
    size = {"enable_auto_scale": True, "auto_scale_formula": formula} if formula else {"target_dedicated_nodes": 0}
    emu.client().create_pool(m.BatchPoolCreateOptions(
        id=pool_id, vm_size="standard_d2s_v5", **size,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
            node_agent_sku_id="batch.node.ubuntu 24.04")))
    return replace(target, pool_ids={"cpu": pool_id})


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """An emulator of this module's own: the active jobs other tests leave on the shared one count against the
    test stack's active-job quota, which `apply` checks before it waits."""
    from bigcompute.emulator import InstantExecutor

    emu = _start(tmp_path_factory.mktemp("emu-waiting"), InstantExecutor())
    yield emu
    emu.server.stop()


def test_a_pool_at_zero_nodes_is_named_and_the_timeout_ends_the_wait(repo, emulator, azurite):
    write_local_files(repo, zero_node_target(emulator, azurite))
    name = f"idle-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, ONE_TASK)
    result = run("apply", "--stack", "test", "--wait", "--timeout", "2", "--poll-interval", "0.2")
    assert result.exit_code == 5, result.output
    text = " ".join(result.output.split())
    assert ("nothing runs: pool cpu: nodes: steady; dedicated 0/0, spot 0/0 (current/target), while 1 active job(s) "
            "wait for it → no node will run their tasks: its fixed size is 0: raise scale.fixed in the stack") in text
    assert f"{name}: job {name}-" in text and "is still running after 2 s: 1 active, 0 running, 0 done" in text
    assert ("the jobs keep running on the target; watch them again with `bigcompute apply --wait workloads --stack "
            "test`") in text


def test_an_autoscale_pool_asking_for_no_node_shows_its_last_and_next_evaluation(repo, emulator, azurite):
    write_local_files(repo, zero_node_target(emulator, azurite, formula="$TargetDedicatedNodes = 0;"))
    write_workload(repo, f"scaled-{uuid.uuid4().hex[:6]}", ONE_TASK)
    result = run("apply", "--stack", "test", "--wait", "--timeout", "2", "--poll-interval", "0.2")
    assert result.exit_code == 5, result.output
    text = " ".join(result.output.split())
    assert "no node will run their tasks: its autoscale formula asks for 0 nodes" in text
    assert "nothing runs: pool cpu: autoscale: last run (" in text and "$TargetDedicatedNodes=0" in text
    assert "nothing runs: pool cpu: autoscale: next evaluation at " in text


def wait_while(action):
    """`apply --wait` on the workloads, `action` happening 1.5 s into the wait (never after it returned: an
    interrupt meant for the command would otherwise land in the test process)."""
    timer = threading.Timer(1.5, action)
    timer.start()
    try:
        return run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2")
    finally:
        timer.cancel()
        timer.join()


def test_ctrl_c_while_waiting_says_how_to_watch_again(repo, emulator, azurite):
    write_local_files(repo, zero_node_target(emulator, azurite))
    write_workload(repo, f"interrupted-{uuid.uuid4().hex[:6]}", ONE_TASK)
    result = wait_while(_thread.interrupt_main)
    assert result.exit_code == 130, result.output
    assert ("stopped watching; the jobs keep running on the target: watch them again with `bigcompute apply --wait "
            "workloads --stack test`") in " ".join(result.output.split())


@pytest.fixture
def doomed_emulator(tmp_path_factory):
    """An emulator of this test's own, to be stopped while a command waits on it."""
    from bigcompute.emulator import InstantExecutor

    emu = _start(tmp_path_factory.mktemp("emu-doomed"), InstantExecutor())
    yield emu
    emu.server.stop()


def test_a_target_killed_while_waiting_ends_in_one_line_with_its_own_exit_code(repo, doomed_emulator, azurite):
    target = zero_node_target(doomed_emulator, azurite)
    write_local_files(repo, target)
    write_workload(repo, f"orphan-{uuid.uuid4().hex[:6]}", ONE_TASK)
    result = wait_while(doomed_emulator.server.stop)
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].endswith(
        f"the Batch emulator at {target.batch_endpoint} is not reachable: run `bigcompute local up`")
