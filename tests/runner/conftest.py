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


def make_target(emu, azurite, slots: int = 2) -> Target:
    """Fresh containers and a pool on `emu`, named uniquely, as the runner's target."""
    suffix = uuid.uuid4().hex[:6]
    containers = {"inputs": f"in-{suffix}", "outputs": f"out-{suffix}"}
    service = azurite.service()
    for name in containers.values():
        service.create_container(name)
    pool_id = f"cpu-{suffix}"
    client = emu.client()
    client.create_pool(m.BatchPoolCreateOptions(
        id=pool_id, vm_size="standard_d2s_v5", target_dedicated_nodes=1, task_slots_per_node=slots,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
            node_agent_sku_id="batch.node.ubuntu 24.04")))
    return Target(kind="local", stack="test", batch_endpoint=emu.url, batch_account=emu.account, blob_endpoint=azurite.blob_endpoint,
                  storage_account=DEV_ACCOUNT, containers=containers, pool_ids={"cpu": pool_id},
                  identity_resource_id="/subscriptions/0/resourceGroups/local/providers/"
                                       "Microsoft.ManagedIdentity/userAssignedIdentities/local-pool",
                  batch_key=emu.key, storage_key=DEV_KEY)


@pytest.fixture(scope="session")
def local_target(process_emulator, azurite) -> Target:
    """Tasks run as real processes on a 2-slot node."""
    return make_target(process_emulator, azurite)


@pytest.fixture(scope="session")
def instant_target(emulator, azurite) -> Target:
    """Tasks complete instantly: for tests about submission, not execution."""
    return make_target(emulator, azurite, slots=8)


@pytest.fixture
def clients(local_target) -> Clients:
    c = connect(local_target, RetrySettings(total=3, backoff_factor=0.05))
    yield c
    c.close()


@pytest.fixture
def clients_for():
    """Clients for any target; closed at the end of the test."""
    opened: list[Clients] = []

    def _open(target: Target) -> Clients:
        opened.append(connect(target, RetrySettings(total=3, backoff_factor=0.05)))
        return opened[-1]
    yield _open
    for c in opened:
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


def write_local_files(repo: Path, t: Target) -> Path:
    """A target written where the CLI looks for the local target (.bigcompute/local/)."""
    import json

    folder = repo / ".bigcompute" / "local"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "outputs.json").write_text(json.dumps({
        "stack": "test", "resourceGroup": "local", "batchAccountName": t.batch_account,
        "batchAccountEndpoint": t.batch_endpoint, "storageAccountName": t.storage_account,
        "blobEndpoint": t.blob_endpoint, "containers": dict(t.containers), "poolIds": dict(t.pool_ids),
        "identityResourceId": t.identity_resource_id}))
    (folder / "credentials.json").write_text(json.dumps({"batchAccountKey": t.batch_key,
                                                         "storageAccountKey": t.storage_key}))
    return folder


@pytest.fixture
def local_files(repo: Path, local_target: Target) -> Path:
    return write_local_files(repo, local_target)
