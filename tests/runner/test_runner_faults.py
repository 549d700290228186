"""apply through an unreliable service: 503s, 429s with Retry-After, connections dropped before and after
the request was handled. Retries (the azure-core policy, configured once) lose nothing and add nothing twice."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.emulator import BatchState, EmulatorServer, SubprocessExecutor
from bigcompute.emulator.wire.faults import FaultPlan
from tests.conftest import ACCOUNT, Emulator, new_key
from tests.runner.conftest import make_target, write_local_files, write_workload

pytestmark = pytest.mark.slow  # 5,000 task processes

TASKS = 5000
FAULTS = "503=0.10,429=0.05,reset=0.01,drop=0.01"
AT_LEAST = 2  # each advertised fault kind must have been served at least this often
# Task slots of the test pool: what is counted is the requests and the tasks, not the node's width. The tasks wait
# on the output upload more than they compute, so 8 at a time finish the same 5,000 sooner for the same CPU
# (1,000 tasks alone: 32-37 s against 42-52 s with 4 slots, 38-46 CPU-s either way).
SLOTS = 8


@pytest.fixture
def fault_plan() -> FaultPlan:
    return FaultPlan(FAULTS, seed=7)


@pytest.fixture
def faulty_emulator(tmp_path_factory, azurite, fault_plan):
    key = new_key()
    state = BatchState(account=ACCOUNT, data_dir=tmp_path_factory.mktemp("emu-faulty"),
                       executor=SubprocessExecutor(azurite.blob_endpoint))
    server = EmulatorServer(state, key, faults=fault_plan).start()
    yield Emulator(server.url, ACCOUNT, key, state, server)
    server.stop()


def test_5000_tasks_through_faults_arrive_exactly_once_with_outputs(repo, faulty_emulator, azurite, clients_for,
                                                                    fault_plan):
    target = None
    for _ in range(20):  # setting up the target goes through the same faults; retry the setup alone
        try:
            target = make_target(faulty_emulator, azurite, slots=SLOTS)
            break
        except Exception:  # noqa: BLE001 - a fault hit pool creation
            continue
    assert target is not None
    write_local_files(repo, target)
    name = f"faulty-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, f"""\
        tasks:
          - id: '{{i}}'
            command: mkdir -p out && echo {{i}} > out/n.txt
            sweep: {{i: {{start: 0, stop: {TASKS}}}}}
            outputs: [out/n.txt]
        """)
    result = CliRunner().invoke(cli, ["apply", "--stack", "test", "--wait", "--poll-interval", "0.5"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"{name}: all {TASKS:,} tasks succeeded" in result.output
    clients = clients_for(target)
    plan = json.loads(CliRunner().invoke(cli, ["plan", "--stack", "test", "--format", "json"]).output)
    job = plan["workloads"][0]["job"]
    assert plan["workloads"][0]["status"] == "unchanged"
    served = fault_plan.served()
    assert all(served.get(kind, 0) >= AT_LEAST for kind in ("503", "429", "reset", "drop")), served
    tasks = list(clients.batch.list_tasks(job, select=["id", "executionInfo"], max_results=1000))
    ids = [t.id for t in tasks]
    assert len(ids) == len(set(ids)) == TASKS
    # Ran once each: no retry, no requeue, exit code 0.
    runs = {(t.execution_info.retry_count, t.execution_info.requeue_count, t.execution_info.exit_code) for t in tasks}
    assert runs == {(0, 0, 0)}
    # Contents compared without 5,000 downloads: the storage service's MD5 of each uploaded output.
    listed = {b.name: bytes(b.content_settings.content_md5 or b"")
              for b in clients.container("outputs").list_blobs(name_starts_with=f"{job}/") if b.name.endswith("/n.txt")}
    assert listed == {f"{job}/{i}/n.txt": hashlib.md5(f"{i}\n".encode()).digest() for i in range(TASKS)}
