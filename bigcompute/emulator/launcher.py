"""The local target's lifecycle: Azurite + the Batch emulator as background processes on 127.0.0.1, the
stack's containers and pools created through the real SDKs, Pulumi-shaped outputs in .bigcompute/local/.

Used by `bigcompute local up|status|down` and by the runner when the local target is not running yet.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bigcompute.emulator import azurite as az
from bigcompute.emulator.storage import DEV_ACCOUNT, DEV_KEY

LOCAL = Path(".bigcompute/local")
ACCOUNT = "localbatch"
IDENTITY = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/bigcompute-local")
KEY_ENV = "BIGCOMPUTE_EMULATOR_KEY"


class LauncherError(Exception):
    pass


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def processes(root: Path = LOCAL) -> dict[str, Any]:
    path = root / "processes.json"
    return json.loads(path.read_text()) if path.exists() else {}


def running(root: Path = LOCAL) -> bool:
    procs = processes(root)
    return alive(procs.get("emulatorPid")) and alive(procs.get("azuritePid"))


def credentials(root: Path = LOCAL) -> dict[str, str]:
    """The emulator's account key lives only here (0600), never in outputs.json or on a command line."""
    path = root / "credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    creds = {"batchAccountName": ACCOUNT, "batchAccountKey": base64.b64encode(os.urandom(64)).decode(),
             "storageAccountName": DEV_ACCOUNT, "storageAccountKey": DEV_KEY}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f)
    return creds


def up(stack_name: str = "dev", port: int = 0, azurite_port: int = 0, time_scale: float = 1.0, faults: str = "",
       root: Path = LOCAL) -> dict[str, Any]:
    """Start both services (unless running) and return the outputs written to outputs.json."""
    from bigcompute.config import ConfigError, load_stack

    try:
        stack = load_stack(stack_name)
    except ConfigError as e:
        raise LauncherError(f"stack {stack_name}: {e}") from e
    root.mkdir(parents=True, exist_ok=True)
    if running(root) and (root / "outputs.json").exists():
        return json.loads((root / "outputs.json").read_text())
    stop(root)
    creds = credentials(root)
    blob_port, emu_port = azurite_port or az.free_port(), port or az.free_port()
    blob, url = az.blob_endpoint(blob_port), f"http://127.0.0.1:{emu_port}"
    procs = {"stack": stack_name, "azuritePid": _start_azurite(root, blob_port), "blobEndpoint": blob}
    procs.update(emulatorPid=_start_emulator(root, emu_port, time_scale, faults, blob),
                 emulatorUrl=url)
    (root / "processes.json").write_text(json.dumps(procs, indent=2))
    try:
        az.wait_port(blob_port)
        az.wait_port(emu_port)
        pool_ids = _create_resources(stack, url, blob_port, creds["batchAccountKey"])
    except Exception as e:
        stop(root)
        raise LauncherError(f"local target failed to start: {e} (see {root}/*.log)") from e
    containers = stack.storage.containers
    outputs = {
        "resourceGroup": "local", "batchAccountName": ACCOUNT, "batchAccountEndpoint": url,
        "storageAccountName": DEV_ACCOUNT, "blobEndpoint": blob,
        "containers": {"inputs": containers.inputs, "outputs": containers.outputs,
                       "applications": containers.applications},
        "poolIds": pool_ids, "identityResourceId": IDENTITY,
    }
    (root / "outputs.json").write_text(json.dumps(outputs, indent=2) + "\n")
    return outputs


def stop(root: Path = LOCAL) -> None:
    procs = processes(root)
    for key in ("emulatorPid", "azuritePid"):
        pid = procs.get(key)
        if not alive(pid):
            continue
        os.killpg(pid, signal.SIGTERM)  # each was started in its own session: its group is ours alone
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
    (root / "processes.json").unlink(missing_ok=True)


def down(purge: bool = False, root: Path = LOCAL) -> None:
    stop(root)
    if purge:
        shutil.rmtree(root, ignore_errors=True)


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    return proc.pid


def _azurite_binary() -> Path:
    # The project's own npm install, whether run from the repository root or from a workload folder.
    for folder in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]):
        if (folder / az.AZURITE_BIN).exists():
            return folder / az.AZURITE_BIN
    return az.AZURITE_BIN


def _start_azurite(root: Path, port: int) -> int:
    binary = _azurite_binary()
    if not binary.exists():
        raise LauncherError(f"{binary} not found: run `npm install` (or `make demo`) first")
    (root / "azurite").mkdir(parents=True, exist_ok=True)
    return _spawn(az.command(root / "azurite", port, binary), root / "azurite.log")


def _start_emulator(root: Path, port: int, time_scale: float, faults: str, blob: str) -> int:
    argv = [sys.executable, "-m", "bigcompute.emulator", "--data-dir", str(root / "emulator"), "--port", str(port),
            "--account", ACCOUNT, "--time-scale", str(time_scale), "--blob-endpoint", blob]
    if faults:
        argv += ["--faults", faults]
    (root / "emulator").mkdir(parents=True, exist_ok=True)
    argv += ["--key-file", str(root / "credentials.json")]  # not the environment: see __main__._key_from_file
    return _spawn(argv, root / "emulator.log")


def _create_resources(stack: Any, url: str, blob_port: int, key: str) -> dict[str, str]:
    from azure.batch import BatchClient
    from azure.batch import models as m
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(az.connection_string(blob_port))
    containers = stack.storage.containers
    for name in (containers.inputs, containers.outputs, containers.applications):
        with contextlib.suppress(ResourceExistsError):
            service.create_container(name)
    client = BatchClient(url, AzureNamedKeyCredential(ACCOUNT, key))
    pool_ids: dict[str, str] = {}
    for pool in stack.pools:
        # Locally every pool is a fixed set of `local.nodes` nodes on this machine. The stack's start task
        # is not run: it installs packages with elevation, which the developer's machine already has.
        options = m.BatchPoolCreateOptions(
            id=pool.name, vm_size=pool.vm_size, target_dedicated_nodes=pool.local.nodes,
            task_slots_per_node=pool.local_slots,
            task_scheduling_policy=m.BatchTaskSchedulingPolicy(node_fill_type=pool.scheduling),
            metadata=[m.BatchMetadataItem(name=k, value=v) for k, v in pool.metadata.items()] or None)
        with contextlib.suppress(ResourceExistsError):
            client.create_pool(options)
        pool_ids[pool.name] = pool.name
    return pool_ids
