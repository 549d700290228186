"""`bigcompute local up|status|down`: Azurite + the Batch emulator as background processes, the stack's
containers and pools created through the real SDKs, and Pulumi-shaped outputs in .bigcompute/local/."""

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

import click

from bigcompute.emulator import azurite as az
from bigcompute.emulator.storage import DEV_ACCOUNT

LOCAL = Path(".bigcompute/local")
ACCOUNT = "localbatch"
IDENTITY = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/bigcompute-local")
KEY_ENV = "BIGCOMPUTE_EMULATOR_KEY"


def _say(text: str) -> None:
    click.echo(text, err=True)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _credentials(root: Path) -> dict[str, str]:
    """The emulator's account key lives only here (0600), never in outputs.json or on a command line."""
    path = root / "credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    creds = {"batchAccountName": ACCOUNT, "batchAccountKey": base64.b64encode(os.urandom(64)).decode()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f)
    return creds


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    return proc.pid


def _start_azurite(root: Path, port: int) -> int:
    binary = Path(az.AZURITE_BIN)
    if not binary.exists():
        raise click.ClickException(f"{binary} not found: run `npm install` (or `make demo`) first")
    (root / "azurite").mkdir(parents=True, exist_ok=True)
    return _spawn(az.command(root / "azurite", port, binary), root / "azurite.log")


def _start_emulator(root: Path, port: int, key: str, time_scale: float, faults: str, blob: str) -> int:
    argv = [sys.executable, "-m", "bigcompute.emulator", "--data-dir", str(root / "emulator"), "--port", str(port),
            "--account", ACCOUNT, "--time-scale", str(time_scale), "--blob-endpoint", blob]
    if faults:
        argv += ["--faults", faults]
    (root / "emulator").mkdir(parents=True, exist_ok=True)
    return _spawn(argv, root / "emulator.log", {**os.environ, KEY_ENV: key})


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


@click.group("local")
def local_group() -> None:
    """Run the local target: Azurite + the Batch emulator on 127.0.0.1."""


@local_group.command("up")
@click.option("--stack", default="dev", show_default=True)
@click.option("--port", type=int, default=0, help="Emulator port (0 picks a free one).")
@click.option("--azurite-port", type=int, default=0, help="Azurite blob port (0 picks a free one).")
@click.option("--time-scale", type=float, default=1.0, show_default=True, help="Divide autoscale intervals.")
@click.option("--faults", default="", help="e.g. 429=0.05,503=0.1,reset=0.02")
def up(stack: str, port: int, azurite_port: int, time_scale: float, faults: str) -> None:
    """Start Azurite and the emulator, create the stack's containers and pools, write outputs.json."""
    from bigcompute.config import ConfigError, load_stack

    try:
        config = load_stack(stack)
    except ConfigError as e:
        raise click.ClickException(f"stack {stack}: {e}") from e
    root = LOCAL
    root.mkdir(parents=True, exist_ok=True)
    procs = _read(root / "processes.json")
    if _alive(procs.get("emulatorPid")) and _alive(procs.get("azuritePid")):
        _say(f"already running: emulator {procs['emulatorUrl']}, Azurite {procs['blobEndpoint']}")
        return
    _stop(procs)
    creds = _credentials(root)
    blob_port = azurite_port or az.free_port()
    emu_port = port or az.free_port()
    blob = az.blob_endpoint(blob_port)
    url = f"http://127.0.0.1:{emu_port}"
    procs = {"azuritePid": _start_azurite(root, blob_port), "blobEndpoint": blob}
    procs.update(emulatorPid=_start_emulator(root, emu_port, creds["batchAccountKey"], time_scale, faults, blob),
                 emulatorUrl=url)
    (root / "processes.json").write_text(json.dumps(procs, indent=2))
    try:
        az.wait_port(blob_port)
        az.wait_port(emu_port)
        pool_ids = _create_resources(config, url, blob_port, creds["batchAccountKey"])
    except Exception as e:
        _stop(procs)
        raise click.ClickException(f"local target failed to start: {e} (see {root}/*.log)") from e
    containers = config.storage.containers
    outputs = {
        "resourceGroup": "local", "batchAccountName": ACCOUNT, "batchAccountEndpoint": url,
        "storageAccountName": DEV_ACCOUNT, "blobEndpoint": blob,
        "containers": {"inputs": containers.inputs, "outputs": containers.outputs,
                       "applications": containers.applications},
        "poolIds": pool_ids, "identityResourceId": IDENTITY,
    }
    (root / "outputs.json").write_text(json.dumps(outputs, indent=2) + "\n")
    _say(f"Batch emulator {url} (account {ACCOUNT}), Azurite {blob}; pools: {', '.join(pool_ids)}")
    _say(f"outputs: {root / 'outputs.json'}; credentials: {root / 'credentials.json'}")


@local_group.command("status")
def status() -> None:
    """Show whether the services run, and their pools, nodes and jobs."""
    procs = _read(LOCAL / "processes.json")
    running = _alive(procs.get("emulatorPid"))
    click.echo(f"emulator: {'running ' + procs['emulatorUrl'] if running else 'stopped'}")
    click.echo(f"azurite:  {'running ' + procs['blobEndpoint'] if _alive(procs.get('azuritePid')) else 'stopped'}")
    if not running:
        return
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    creds = _credentials(LOCAL)
    client = BatchClient(procs["emulatorUrl"], AzureNamedKeyCredential(creds["batchAccountName"],
                                                                         creds["batchAccountKey"]))
    for pool in client.list_pools():
        nodes = list(client.list_nodes(pool.id))
        states = ", ".join(sorted({_text(n.state) for n in nodes})) or "-"
        click.echo(f"pool {pool.id}: {_text(pool.allocation_state)}, {len(nodes)} node(s) ({states}), "
                   f"{pool.task_slots_per_node} slot(s)/node")
    for job in client.list_jobs():
        c = client.get_job_task_counts(job.id).task_counts
        click.echo(f"job {job.id}: {_text(job.state)}, active {c.active}, running {c.running}, "
                   f"succeeded {c.succeeded}, failed {c.failed}")


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _stop(procs: dict[str, Any]) -> None:
    for key in ("emulatorPid", "azuritePid"):
        pid = procs.get(key)
        if not _alive(pid):
            continue
        os.killpg(pid, signal.SIGTERM)  # each was started in its own session: its group is ours alone
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)


@local_group.command("down")
@click.option("--purge", is_flag=True, help="Also delete all local data (.bigcompute/local).")
def down(purge: bool) -> None:
    """Stop Azurite and the emulator; data stays unless --purge."""
    procs = _read(LOCAL / "processes.json")
    _stop(procs)
    (LOCAL / "processes.json").unlink(missing_ok=True)
    if purge:
        shutil.rmtree(LOCAL, ignore_errors=True)
        _say(f"stopped; removed {LOCAL}")
    else:
        _say(f"stopped; data kept in {LOCAL}")
