"""apply through an unreliable service: 503s, 429s with Retry-After, connections dropped before and after
the request was handled. Retries (the azure-core policy, configured once) lose nothing and add nothing twice."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.emulator import BatchState, EmulatorServer, SubprocessExecutor
from bigcompute.emulator.faults import FaultPlan
from tests.conftest import ACCOUNT, Emulator, new_key
from tests.runner.conftest import make_target, write_local_files, write_workload

TASKS = 5000
FAULTS = "503=0.10,429=0.05,reset=0.01,drop=0.01"


@pytest.fixture
def faulty_emulator(tmp_path_factory, azurite):
    key = new_key()
    state = BatchState(account=ACCOUNT, data_dir=tmp_path_factory.mktemp("emu-faulty"),
                       executor=SubprocessExecutor(azurite.blob_endpoint))
    server = EmulatorServer(state, key, faults=FaultPlan(FAULTS, seed=7)).start()
    yield Emulator(server.url, ACCOUNT, key, state, server)
    server.stop()


def test_5000_tasks_through_faults_arrive_exactly_once_with_outputs(repo, faulty_emulator, azurite, clients_for):
    target = None
    for _ in range(20):  # setting up the target goes through the same faults; retry the setup alone
        try:
            target = make_target(faulty_emulator, azurite, slots=4)
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
    ids = [t.id for t in clients.batch.list_tasks(job, select=["id"], max_results=1000)]
    assert len(ids) == len(set(ids)) == TASKS
    outputs = {b.name for b in clients.container("outputs").list_blobs(name_starts_with=f"{job}/")
               if b.name.endswith("/n.txt")}
    assert outputs == {f"{job}/{i}/n.txt" for i in range(TASKS)}
