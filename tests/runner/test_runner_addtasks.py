"""The job manager script of scheduled runs (runner/addtasks.py), run as a node runs it (`python3 -I -S`: the
standard library only) against a real emulator that throttles and fails part of its requests: every task is
added, in collections of at most 100, the job id filled in, and a second run adds nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bigcompute.emulator import BatchState, EmulatorServer, InstantExecutor
from bigcompute.emulator.wire.faults import FaultPlan
from bigcompute.local.testing import LOCAL_VM
from bigcompute.runner import addtasks
from bigcompute.runner.schedules import SCRIPT
from bigcompute.workload.storage import JOB_MARK
from tests.conftest import ACCOUNT, new_key

JOB = "nightly:job-3"  # a schedule's run, as Batch names it


@pytest.fixture(scope="module")
def flaky(tmp_path_factory):
    """An emulator answering about a third of its requests with 429 or 503, with a pool and a run's job."""
    state = BatchState(account=ACCOUNT, data_dir=tmp_path_factory.mktemp("emu-flaky"), executor=InstantExecutor())
    faults = FaultPlan("429=0.2,503=0.15", seed=7)
    with EmulatorServer(state, new_key(), faults=faults) as server:
        state.stores.pools.create({"id": "p", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 0,
                                   "virtualMachineConfiguration": LOCAL_VM.as_dict()})
        state.stores.jobs.insert(JOB, {"id": JOB, "poolInfo": {"poolId": "p"}})
        yield server, faults


def run_script(server, tasks: list[dict], tmp_path) -> subprocess.CompletedProcess:
    lines = tmp_path / "tasks.jsonl"
    lines.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    env = {"PATH": os.environ["PATH"], "AZ_BATCH_ACCOUNT_URL": server.url, "AZ_BATCH_JOB_ID": JOB,
           "AZ_BATCH_AUTHENTICATION_TOKEN": server.state.job_tokens.issue(JOB)}
    return subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), str(lines)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_every_task_is_added_through_throttling_and_only_once(flaky, tmp_path) -> None:
    server, faults = flaky
    tasks = [{"id": f"t{i}", "commandLine": "true",
              "environmentSettings": [{"name": "WHERE", "value": f"outputs/{JOB_MARK}/t{i}"}]} for i in range(250)]
    first = run_script(server, tasks, tmp_path)
    assert first.returncode == 0, first.stderr
    served = faults.served()
    assert served.get("429", 0) + served.get("503", 0) > 0  # it met the faults and got through them
    stored = {t["id"]: t for t in (server.state.stores.tasks.get(JOB, f"t{i}") for i in range(250))}
    assert stored["t249"]["environmentSettings"] == [{"name": "WHERE", "value": f"outputs/{JOB}/t249"}]
    # Batch's limit per addtaskcollection request (the emulator would answer a larger one 413 and the script split it)
    assert [len(c) for c in addtasks.chunks(str(tmp_path / "tasks.jsonl"), JOB)] == [100, 100, 50]
    again = run_script(server, tasks, tmp_path)  # a retried manager: TaskExists counts as added
    assert again.returncode == 0, again.stderr
    assert server.state.stores.tasks.counts(JOB)["taskCounts"]["active"] == 250


def test_a_refused_task_fails_the_manager_naming_it(flaky, tmp_path) -> None:
    server, _ = flaky
    result = run_script(server, [{"id": "ok", "commandLine": "true"}, {"id": "bad id!", "commandLine": "true"}],
                        tmp_path)
    assert result.returncode == 1
    assert "task bad id!: InvalidPropertyValue" in result.stderr
    assert server.state.stores.tasks.get(JOB, "ok")["state"] == "active"
