"""What a node sets up before it takes tasks, besides its start task: the pool's file system mounts, its container
runtime and images, its VM extensions. A local node is this machine: it mounts nothing, is no VM, and has a
container runtime only where docker or podman works.

Batch accepts such a pool and the problem shows at the node, so here too: a node that cannot have what its pool
declares turns `unusable` with Batch's node error for it and never runs a task without it (mounts: "If a mount
configuration fails, the compute node in the pool will fail and the node state will be set to unusable",
https://learn.microsoft.com/azure/batch/virtual-file-mount#diagnose-mount-errors; containers: "The node errors
property reports a failure to download a container and sets the node state to unusable",
https://learn.microsoft.com/azure/batch/batch-pool-node-error-checking#container-download-failure). VM
extensions are reported not provisioned (failed) on the node; they leave it usable.
"""

from __future__ import annotations

import subprocess
from typing import Any

from bigcompute.emulator.core.engine import EngineProbe, machine_engine
from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.state.models import NodeDoc, PoolDoc

LOCAL = "not supported by the local target"
PULL_TIMEOUT = 900.0  # seconds one image pull (or registry login) may take
# The codes Azure's nodes report. A mount that fails: "Mount Configuration Error | An error was encountered while
# configuring specified mount(s)" with MountConfigurationPath (virtual-file-mount#troubleshoot). A container
# runtime the node cannot set up: BatchAgentInstallationFailure (Azure/Batch#131: nodes of a pool with
# containerConfiguration on VMs that cannot run it; azure-batch-node-unusable-state). An image that cannot be
# pulled: ContainerInvalidImage with ContainerImage and Message (Azure/Batch#49).
MOUNT_FAILED = ("MountConfigurationError", "An error was encountered while configuring specified mount(s)")
NO_RUNTIME = ("BatchAgentInstallationFailure", "The batch agent extension provisioning has failed on compute node")
BAD_IMAGE = ("ContainerInvalidImage", "One or more container images specified are invalid")
_MOUNT_LABELS = {"azureBlobFileSystemConfiguration": "blobfuse (Azure Blob container)",
                 "azureFileShareConfiguration": "Azure Files share", "nfsMountConfiguration": "NFS",
                 "cifsMountConfiguration": "CIFS/SMB"}
_SECRET_EXTENSION_KEYS = ("protectedSettings", "protectedSettingsFromKeyVault")


def node_error(code: str, message: str, details: dict[str, str]) -> dict[str, Any]:
    """Batch's BatchNodeError."""
    return {"code": code, "message": message, "errorDetails": [{"name": k, "value": v} for k, v in details.items()]}


def container_config(pool: PoolDoc) -> dict[str, Any] | None:
    return (pool.get("virtualMachineConfiguration") or {}).get("containerConfiguration")


def setup_errors(pool: PoolDoc) -> list[dict[str, Any]]:
    """What keeps every node of the pool from being set up, known without trying: its mounts, and a container
    runtime where no engine works. Empty when nothing does."""
    errors = [_mount_error(entry) for entry in pool.get("mountConfiguration") or []]
    if container_config(pool) is not None:
        probe = machine_engine()
        if probe.engine is None:
            errors.append(node_error(NO_RUNTIME[0], f"{NO_RUNTIME[1]}: the pool's containerConfiguration needs a "
                                     f"container engine (docker or podman) and none works on this machine; a "
                                     f"container pool without one is {LOCAL}", {"Message": probe.why_not}))
    return errors


def _mount_error(entry: dict[str, Any]) -> dict[str, Any]:
    kind = next((k for k in _MOUNT_LABELS if entry.get(k)), "")
    config = entry.get(kind) or {}
    path = str(config.get("relativeMountPath", ""))
    source = config.get("source") or config.get("azureFileUrl") or \
        f"{config.get('accountName', '')}/{config.get('containerName', '')}"  # never a key, token or password
    return node_error(MOUNT_FAILED[0], f"{MOUNT_FAILED[1]}: the {_MOUNT_LABELS.get(kind, kind)} mount '{path}' is "
                      f"{LOCAL}", {"Message": f"mounting {source} at $AZ_BATCH_NODE_MOUNTS_DIR/{path} is {LOCAL}: a "
                                   "local node mounts no file system; read the data with resource files or from "
                                   "blob storage", "MountConfigurationPath": path})


def needs_prefetch(pool: PoolDoc) -> bool:
    return bool((container_config(pool) or {}).get("containerImageNames"))


def prefetch(pool: PoolDoc, probe: EngineProbe | None = None) -> list[dict[str, Any]]:
    """Pull the pool's containerImageNames with this machine's engine, logging in to the registries that have a
    user name first (the password goes on stdin, never in an argument). The node errors of what failed."""
    probe = probe or machine_engine()
    engine = probe.path or probe.engine
    if engine is None:
        return setup_errors(pool)
    config = container_config(pool) or {}
    for reg in config.get("containerRegistries") or []:
        if reg.get("username"):
            server = reg.get("registryServer") or "docker.io"
            failed = _run([engine, "login", "--username", reg["username"], "--password-stdin", server],
                          reg.get("password", ""))
            if failed:
                return [node_error(BAD_IMAGE[0], BAD_IMAGE[1], {"ContainerRegistry": server, "Message": failed})]
    errors = []
    for image in config.get("containerImageNames") or []:
        failed = _run([engine, "pull", image])
        if failed:
            errors.append(node_error(BAD_IMAGE[0], BAD_IMAGE[1], {"ContainerImage": image, "Message": failed}))
    return errors


def _run(argv: list[str], stdin: str | None = None) -> str | None:
    """None when the command succeeded, else what it said last."""
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=PULL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[1]}: {exc}"
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or [f"{argv[1]} exited with code {proc.returncode}"])[-1][:500]


# --- VM extensions ---------------------------------------------------------------------------------------------
def extension_views(pool: PoolDoc, node: NodeDoc) -> list[dict[str, Any]]:
    """The node's BatchNodeVMExtension for each extension its pool declares: not provisioned, failed, saying why.
    Protected settings are secrets: Batch never shows them back."""
    out = []
    for ext in (pool.get("virtualMachineConfiguration") or {}).get("extensions") or []:
        shown = {k: v for k, v in ext.items() if k not in _SECRET_EXTENSION_KEYS}
        status = {"code": "ProvisioningState/failed", "level": "Error", "displayStatus": "Provisioning failed",
                  "message": f"VM extension {ext['name']} ({ext['publisher']}.{ext['type']}) was not provisioned: VM "
                             f"extensions are {LOCAL}, a local node is this machine, not a VM",
                  "time": node.get("allocationTime")}
        out.append({"provisioningState": "Failed", "vmExtension": shown,
                    "instanceView": {"name": ext["name"], "statuses": [status]}})
    return out


def extension_view(pool: PoolDoc, node: NodeDoc, name: str) -> dict[str, Any]:
    for view in extension_views(pool, node):
        if view["vmExtension"]["name"].lower() == name.lower():
            return view
    raise BatchError(404, "ResourceNotFound", f"The specified extension {name} does not exist on the node.")
