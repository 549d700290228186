"""What a node sets up besides its start task (compute/node_setup.py), through the real BatchClient: Batch accepts
pools with mounts, container configurations and VM extensions, and what a local node cannot do shows on the node.
A node that would lack a mount or a container runtime is unusable with Batch's node error and runs nothing; with
a container engine (a stand-in script here: this machine has none that works) the node pulls the pool's images and
runs container tasks with it; VM extensions are listed as not provisioned."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchNodeRebootOptions  # not exported by azure-batch 15.1
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.emulator.compute import executor as executor_module
from bigcompute.emulator.compute import node_setup
from bigcompute.emulator.core.engine import EngineProbe
from bigcompute.local.testing import LOCAL_VM, make_job, make_pool, signed, unique, wait_for, wait_task

LOCAL = "not supported by the local target"
NO_ENGINE = EngineProbe(None, ("docker info: Cannot connect to the Docker daemon", "podman: not installed"))
SECRET = "c2VjcmV0LWtleQ=="  # a mount's account key: it must never come back in a node error


def _vm(**extra) -> m.VirtualMachineConfiguration:
    return m.VirtualMachineConfiguration(image_reference=LOCAL_VM.image_reference,
                                         node_agent_sku_id=LOCAL_VM.node_agent_sku_id, **extra)


def _settled_nodes(batch, pool_id: str, states=("idle", "unusable")) -> list[m.BatchNode]:
    return wait_for(lambda: (nodes := list(batch.list_nodes(pool_id))) and
                    all(n.state in states for n in nodes) and nodes)


def _stays_active(batch, blocked_pool: str) -> tuple[str, str]:
    """A task on `blocked_pool`, and a control task on a usable pool added after it: once the control task has
    run, the dispatcher has passed over the first; it must still wait."""
    blocked_job = make_job(batch, blocked_pool)
    batch.create_task(blocked_job, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    control_pool = make_pool(batch, nodes=1)
    control_job = make_job(batch, control_pool)
    batch.create_task(control_job, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    wait_task(batch, control_job, "t")
    assert batch.get_task(blocked_job, "t").state == "active"
    batch.begin_delete_job(control_job, polling_interval=0).result()  # the session's emulator is shared: leave
    batch.begin_delete_pool(control_pool, polling_interval=0).result()  # no active job or extra pool behind
    return blocked_job, "t"


# --- mounts ----------------------------------------------------------------------------------------------------
def test_a_pool_with_mounts_is_accepted_and_its_nodes_are_unusable_naming_each_mount(batch) -> None:
    mounts = [m.MountConfiguration(azure_blob_file_system_configuration=m.AzureBlobFileSystemConfiguration(
                  account_name="acct", container_name="data", relative_mount_path="bfuse", account_key=SECRET)),
              m.MountConfiguration(nfs_mount_configuration=m.NfsMountConfiguration(
                  source="10.0.0.4:/exports/ref", relative_mount_path="ref"))]
    pool_id = unique("pool")
    batch.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=2,
                                               virtual_machine_configuration=LOCAL_VM, mount_configuration=mounts))
    nodes = _settled_nodes(batch, pool_id)
    assert [n.state for n in nodes] == ["unusable", "unusable"]
    errors = nodes[0].errors
    assert [e.code for e in errors] == ["MountConfigurationError", "MountConfigurationError"]
    details = [{d.name: d.value for d in e.error_details} for e in errors]
    assert [d["MountConfigurationPath"] for d in details] == ["bfuse", "ref"]
    assert "blobfuse" in errors[0].message and LOCAL in errors[0].message and "'bfuse'" in errors[0].message
    assert "NFS" in errors[1].message and "10.0.0.4:/exports/ref" in details[1]["Message"]
    assert SECRET not in json.dumps([e.as_dict() for n in nodes for e in n.errors])
    batch.begin_delete_job(_stays_active(batch, pool_id)[0], polling_interval=0).result()
    batch.begin_reboot_node(pool_id, nodes[0].id, BatchNodeRebootOptions(node_reboot_kind="requeue"),
                            polling_interval=0).result()  # a reboot meets the same error
    node = wait_for(lambda: (n := batch.get_node(pool_id, nodes[0].id)).state == "unusable" and n)
    assert node.errors[0].code == "MountConfigurationError"


@pytest.mark.parametrize(("mount", "code", "prop"), [
    ({"nfsMountConfiguration": {"relativeMountPath": "x"}}, "MissingRequiredProperty",
     "mountConfiguration[0].nfsMountConfiguration.source"),
    ({"nfsMountConfiguration": {"source": "s", "relativeMountPath": "x"},
      "cifsMountConfiguration": {"source": "s", "relativeMountPath": "y", "username": "u", "password": "p"}},
     "InvalidPropertyValue", "mountConfiguration[0]"),
    ({"azureBlobFileSystemConfiguration": {"accountName": "a", "containerName": "c", "relativeMountPath": "x"}},
     "InvalidPropertyValue", "mountConfiguration[0].azureBlobFileSystemConfiguration"),
])
def test_a_mount_batch_would_refuse_is_refused(emulator, mount, code, prop) -> None:
    body = {"id": unique("pool"), "vmSize": "standard_d2s_v3", "mountConfiguration": [mount],
            "virtualMachineConfiguration": LOCAL_VM.as_dict()}
    resp = signed(emulator, "POST", "/pools", "api-version=2025-06-01", json.dumps(body).encode())
    assert (resp.status_code, resp.json()["code"]) == (400, code)
    assert {v["key"]: v["value"] for v in resp.json()["values"]}["PropertyName"] == prop
    assert signed(emulator, "GET", f"/pools/{body['id']}", "api-version=2025-06-01").status_code == 404


# --- containers ----------------------------------------------------------------------------------------------
def test_without_an_engine_a_container_pool_is_accepted_and_its_nodes_are_unusable(batch, monkeypatch) -> None:
    monkeypatch.setattr(node_setup, "machine_engine", lambda: NO_ENGINE)
    monkeypatch.setattr(executor_module, "machine_engine", lambda: NO_ENGINE)
    config = m.BatchContainerConfiguration(type="dockerCompatible", container_image_names=["busybox"])
    pool_id = make_pool(batch, nodes=1, virtual_machine_configuration=_vm(container_configuration=config))
    [node] = _settled_nodes(batch, pool_id)
    assert node.state == "unusable"
    [error] = node.errors
    assert error.code == "BatchAgentInstallationFailure"
    assert "docker or podman" in error.message and LOCAL in error.message
    assert {d.name: d.value for d in error.error_details}["Message"] == NO_ENGINE.why_not
    # Batch adds a container task without asking any node (201); it waits for a usable node.
    job_id, task_id = _stays_active(batch, pool_id)
    batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="c", command_line="echo hi", container_settings=m.BatchTaskContainerSettings(image_name="busybox")))
    assert batch.get_task(job_id, "c").state == "active"
    batch.begin_delete_job(job_id, polling_interval=0).result()


def test_without_an_engine_a_container_task_on_an_ordinary_pool_fails_saying_why(batch, monkeypatch) -> None:
    monkeypatch.setattr(executor_module, "machine_engine", lambda: NO_ENGINE)
    job_id = make_job(batch, make_pool(batch, nodes=1))
    batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="c", command_line="echo hi", container_settings=m.BatchTaskContainerSettings(image_name="busybox")))
    info = wait_task(batch, job_id, "c").execution_info
    assert info.result == "failure" and info.failure_info.code == "ContainerEngineUnavailable"
    assert "Cannot connect to the Docker daemon" in info.failure_info.message


FAKE_ENGINE = """#!/bin/sh
here=$(dirname "$0")
echo "$*" >> "$here/engine.log"
case "$1" in
  login) cat > "$here/login-stdin" ;;
  pull) case "$2" in *missing*) echo "Error response from daemon: manifest unknown" >&2; exit 1 ;; esac ;;
  run) echo "ran in a container" ;;
esac
"""


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch) -> Path:
    engine = tmp_path / "bin" / "docker"
    engine.parent.mkdir()
    engine.write_text(FAKE_ENGINE)
    engine.chmod(engine.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    probe = EngineProbe("docker", (), str(engine))
    monkeypatch.setattr(node_setup, "machine_engine", lambda: probe)
    monkeypatch.setattr(executor_module, "machine_engine", lambda: probe)
    return engine.parent


def test_with_an_engine_nodes_pull_the_pools_images_and_run_container_tasks(process_batch, fake_engine) -> None:
    batch = process_batch
    registry = m.ContainerRegistryReference(registry_server="myreg.example", username="robot", password="pw-123")
    config = m.BatchContainerConfiguration(type="dockerCompatible", container_image_names=["myreg.example/sim:2"],
                                           container_registries=[registry])
    pool_id = make_pool(batch, nodes=1, virtual_machine_configuration=_vm(container_configuration=config))
    [node] = _settled_nodes(batch, pool_id, ("idle",))
    assert not node.errors
    log = (fake_engine / "engine.log").read_text().splitlines()
    assert log[:2] == ["login --username robot --password-stdin myreg.example", "pull myreg.example/sim:2"]
    assert (fake_engine / "login-stdin").read_text() == "pw-123"  # on stdin, never in an argument
    job_id = make_job(batch, pool_id)
    batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="c", command_line="python sim.py", container_settings=m.BatchTaskContainerSettings(
            image_name="myreg.example/sim:2")))
    task = wait_task(batch, job_id, "c", timeout=30)
    assert task.execution_info.result == "success"
    run = (fake_engine / "engine.log").read_text().splitlines()[-1]
    assert run.startswith("run --rm --network host") and run.endswith("myreg.example/sim:2 python sim.py")


def test_with_an_engine_an_image_that_cannot_be_pulled_makes_the_node_unusable(batch, fake_engine) -> None:
    config = m.BatchContainerConfiguration(type="dockerCompatible",
                                           container_image_names=["busybox", "myreg.example/missing:1"])
    pool_id = make_pool(batch, nodes=1, virtual_machine_configuration=_vm(container_configuration=config))
    [node] = _settled_nodes(batch, pool_id)
    assert node.state == "unusable"
    [error] = node.errors
    assert (error.code, error.message) == ("ContainerInvalidImage", "One or more container images specified are "
                                                                    "invalid")
    assert {d.name: d.value for d in error.error_details} == {
        "ContainerImage": "myreg.example/missing:1", "Message": "Error response from daemon: manifest unknown"}
    assert (fake_engine / "engine.log").read_text().splitlines() == ["pull busybox", "pull myreg.example/missing:1"]


def test_a_container_configuration_without_its_type_is_refused(emulator) -> None:
    vm = {**LOCAL_VM.as_dict(), "containerConfiguration": {"containerImageNames": ["busybox"]}}
    body = {"id": unique("pool"), "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": vm}
    resp = signed(emulator, "POST", "/pools", "api-version=2025-06-01", json.dumps(body).encode())
    assert (resp.status_code, resp.json()["code"]) == (400, "MissingRequiredProperty")
    assert "containerConfiguration.type" in resp.json()["message"]["value"]


# --- VM extensions -------------------------------------------------------------------------------------------
def test_extensions_are_listed_not_provisioned_and_the_node_stays_usable(batch) -> None:
    extensions = [m.VMExtension(name="secretext", publisher="Microsoft.Azure.KeyVault", type="KeyVaultForLinux",
                                type_handler_version="3.0", settings={"pollingIntervalInS": "300"},
                                protected_settings={"token": "do-not-show"}),
                  m.VMExtension(name="monitor", publisher="Microsoft.Azure.Monitor", type="AzureMonitorLinuxAgent")]
    pool_id = make_pool(batch, nodes=1, virtual_machine_configuration=_vm(extensions=extensions))
    [node] = _settled_nodes(batch, pool_id)
    assert node.state == "idle" and not node.errors
    listed = list(batch.list_node_extensions(pool_id, node.id))
    assert [e.vm_extension.name for e in listed] == ["secretext", "monitor"]
    for ext in listed:
        [status] = ext.instance_view.statuses
        assert ext.provisioning_state == "Failed" and ext.instance_view.name == ext.vm_extension.name
        assert (status.code, status.level, status.display_status) == ("ProvisioningState/failed", "Error",
                                                                       "Provisioning failed")
        assert "VM extensions are not supported by the local target" in status.message
    assert listed[0].vm_extension.settings == {"pollingIntervalInS": "300"}
    assert listed[0].vm_extension.protected_settings is None  # a secret: never shown back
    one = batch.get_node_extension(pool_id, node.id, "monitor")
    assert one.vm_extension.publisher == "Microsoft.Azure.Monitor" and one.provisioning_state == "Failed"
    with pytest.raises(ResourceNotFoundError) as info:
        batch.get_node_extension(pool_id, node.id, "absent")
    assert info.value.error.code == "ResourceNotFound"
    job_id = make_job(batch, pool_id)  # usable: its tasks run
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    assert wait_task(batch, job_id, "t").execution_info.result == "success"


def test_an_extension_without_its_publisher_is_refused(emulator) -> None:
    vm = {**LOCAL_VM.as_dict(), "extensions": [{"name": "x", "type": "CustomScript"}]}
    body = {"id": unique("pool"), "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": vm}
    resp = signed(emulator, "POST", "/pools", "api-version=2025-06-01", json.dumps(body).encode())
    assert (resp.status_code, resp.json()["code"]) == (400, "MissingRequiredProperty")


def test_extensions_of_an_unknown_node_are_404(batch) -> None:
    pool_id = make_pool(batch, nodes=0)
    with pytest.raises(HttpResponseError) as info:
        list(batch.list_node_extensions(pool_id, "tvm-none"))
    assert (info.value.status_code, info.value.error.code) == (404, "NodeNotFound")


def test_a_node_whose_image_pulls_died_with_the_service_is_set_up_again(tmp_path, fake_engine) -> None:
    """A node the service left `starting` mid-pull (its pull thread died with it) pulls again after a restart."""
    from bigcompute.emulator.compute.executor import InstantExecutor
    from bigcompute.emulator.compute.nodes import new_node
    from bigcompute.emulator.service import BatchState
    from bigcompute.emulator.state.models import NodeState

    vm = {**LOCAL_VM.as_dict(), "containerConfiguration": {"type": "dockerCompatible",
                                                            "containerImageNames": ["busybox"]}}
    state = BatchState(account="acct", data_dir=tmp_path / "data", executor=InstantExecutor())
    state.pools.create({"id": "p", "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": vm})
    with state.stores.tx():
        pool = state.pools.load("p")
        node = new_node("p", 1, True, state.ctx.clock())
        node.update({"state": NodeState.STARTING, "_setup": True})
        pool["_nodes"].append(node)
        state.pools.save(pool)
    state.stop()
    again = BatchState(account="acct", data_dir=tmp_path / "data", executor=InstantExecutor())
    try:
        wait_for(lambda: again.pools.get("p")["_nodes"][0]["state"] == NodeState.IDLE)
        assert "_setup" not in again.pools.get("p")["_nodes"][0]
        assert (fake_engine / "engine.log").read_text().splitlines() == ["pull busybox"]
    finally:
        again.stop()


# --- secrets -----------------------------------------------------------------------------------------------------
def test_secrets_the_spec_marks_are_never_answered_back(emulator) -> None:
    """A mount's account key and SAS, a registry password and a user's password go in, and no GET or list of the
    pool answers them (the spec marks them x-ms-secret); the rest of each object does come back."""
    spec = json.loads((Path(__file__).resolve().parents[1] / "data/specs/batch/data-plane/Azure.Batch/stable/"
                       "2025-06-01/BatchService.json").read_text(encoding="utf-8"))
    marked = {name for d in spec["definitions"].values() for name, p in d.get("properties", {}).items()
              if p.get("x-ms-secret")}
    from bigcompute.emulator.wire.httpio import SECRET_PROPERTIES
    assert marked == SECRET_PROPERTIES
    pool_id = unique("pool")
    vm = {**LOCAL_VM.as_dict(), "containerConfiguration": {
        "type": "dockerCompatible", "containerImageNames": ["busybox"],
        "containerRegistries": [{"registryServer": "r.example", "username": "u", "password": SECRET}]}}
    body = {"id": pool_id, "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": vm,
            "userAccounts": [{"name": "ops", "password": SECRET}],
            "mountConfiguration": [{"azureBlobFileSystemConfiguration": {
                "accountName": "acct", "containerName": "data", "relativeMountPath": "bfuse", "sasKey": SECRET}}]}
    assert signed(emulator, "POST", "/pools", "api-version=2025-06-01", json.dumps(body).encode()).status_code == 201
    got = signed(emulator, "GET", f"/pools/{pool_id}", "api-version=2025-06-01").json()
    listed = [p for p in signed(emulator, "GET", "/pools", "api-version=2025-06-01").json()["value"]
              if p["id"] == pool_id]
    for view in (got, *listed):
        text = json.dumps(view)
        assert SECRET not in text
        registry = view["virtualMachineConfiguration"]["containerConfiguration"]["containerRegistries"][0]
        assert registry == {"registryServer": "r.example", "username": "u"}
        assert view["userAccounts"] == [{"name": "ops"}]
        assert view["mountConfiguration"][0]["azureBlobFileSystemConfiguration"]["accountName"] == "acct"
    assert listed
    assert signed(emulator, "DELETE", f"/pools/{pool_id}", "api-version=2025-06-01").status_code == 202
