"""A local target for the runner: the session's Azurite and process emulator, with containers and a pool,
plus a throwaway repository holding workloads and a stack file."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from azure.batch import models as m

from bigcompute.emulator.storage import DEV_ACCOUNT, DEV_KEY
from bigcompute.runner.clients import Clients, RetrySettings, connect
from bigcompute.runner.target import Target

STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:batch: {activeJobQuota: 50}
  bigcompute:pools:
    - {name: cpu, vmSize: Standard_D2s_v5, image: ubuntu-24.04, taskSlotsPerNode: 2,
       scale: {fixed: {dedicated: 1}}}
"""


@pytest.fixture(scope="session")
def local_target(process_emulator, azurite) -> Target:
    """Target for the session: fresh containers and a 2-slot pool, ids unique to this session."""
    suffix = uuid.uuid4().hex[:6]
    containers = {"inputs": f"in-{suffix}", "outputs": f"out-{suffix}", "applications": f"app-{suffix}"}
    service = azurite.service()
    for name in containers.values():
        service.create_container(name)
    pool_id = f"cpu-{suffix}"
    client = process_emulator.client()
    client.create_pool(m.BatchPoolCreateOptions(
        id=pool_id, vm_size="standard_d2s_v5", target_dedicated_nodes=1, task_slots_per_node=2,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
            node_agent_sku_id="batch.node.ubuntu 24.04")))
    return Target(kind="local", stack="test", batch_endpoint=process_emulator.url,
                  batch_account=process_emulator.account, blob_endpoint=azurite.blob_endpoint,
                  storage_account=DEV_ACCOUNT, containers=containers, pool_ids={"cpu": pool_id},
                  identity_resource_id="/subscriptions/0/resourceGroups/local/providers/"
                                       "Microsoft.ManagedIdentity/userAssignedIdentities/local-pool",
                  batch_key=process_emulator.key, storage_key=DEV_KEY)


@pytest.fixture
def clients(local_target) -> Clients:
    c = connect(local_target, RetrySettings(total=3, backoff_factor=0.05))
    yield c
    c.close()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "stacks").mkdir()
    (tmp_path / "workloads").mkdir()
    (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_workload(repo: Path, name: str, body: str) -> Path:
    path = repo / "workloads" / f"{name}.yaml"
    path.write_text(f"apiVersion: bigcompute/v1\nkind: Workload\nname: {name}\npool: cpu\n" + textwrap.dedent(body))
    return path


@pytest.fixture
def local_files(repo: Path, local_target: Target) -> Path:
    """The session's target written where the CLI looks for the local target (.bigcompute/local/)."""
    import json

    folder = repo / ".bigcompute" / "local"
    folder.mkdir(parents=True)
    t = local_target
    (folder / "outputs.json").write_text(json.dumps({
        "stack": "test", "resourceGroup": "local", "batchAccountName": t.batch_account,
        "batchAccountEndpoint": t.batch_endpoint, "storageAccountName": t.storage_account,
        "blobEndpoint": t.blob_endpoint, "containers": dict(t.containers), "poolIds": dict(t.pool_ids),
        "identityResourceId": t.identity_resource_id}))
    (folder / "credentials.json").write_text(json.dumps({"batchAccountKey": t.batch_key,
                                                         "storageAccountKey": t.storage_key}))
    return folder
