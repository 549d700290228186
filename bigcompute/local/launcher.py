"""The local target's lifecycle: Azurite + the Batch emulator as background processes on 127.0.0.1, the
stack's containers and pools created through the real SDKs, Pulumi-shaped outputs in .bigcompute/local/.

Used by `bigcompute local up|status|down` and by the runner when the local target is not running yet.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bigcompute.emulator.compute import isolation, node_python
from bigcompute.emulator.compute.transitions import Durations
from bigcompute.local import applications, ports, records
from bigcompute.local import azurite as az
from bigcompute.local.azurite import DEV_ACCOUNT, DEV_KEY

LOCAL = Path(".bigcompute/local")
ACCOUNT = "localbatch"
IDENTITY = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/bigcompute-local")
KEY_ENV = "BIGCOMPUTE_EMULATOR_KEY"
# What the stack grants the pools' identity on the Batch account (components/identity.py): Azure Batch Job
# Submitter, so a scheduled run's job manager adds its tasks (https://learn.microsoft.com/azure/batch/batch-role-based-access-control)
JOB_SUBMITTER = "48e5e92e-a480-4e71-aa9c-2778f4c13781"


class LauncherError(Exception):
    pass


@dataclass(frozen=True)
class Started:
    outputs: dict[str, Any]
    started: bool  # False: it was running already
    notes: list[str] = field(default_factory=list)  # what the caller must show (never silent)


def processes(root: Path = LOCAL) -> dict[str, Any]:
    path = root / "processes.json"
    return json.loads(path.read_text()) if path.exists() else {}


def running(root: Path = LOCAL) -> bool:
    procs = processes(root)
    return all(records.ours(procs, name, root) for name in records.SERVICES)


def credentials(root: Path = LOCAL) -> dict[str, str]:
    """The emulator's account key lives only here (0600), never in outputs.json or on a command line."""
    path = root / "credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    creds = {"batchAccountName": ACCOUNT, "batchAccountKey": base64.b64encode(os.urandom(64)).decode(),
             "storageAccountName": DEV_ACCOUNT, "storageAccountKey": DEV_KEY}
    _write_private(path, json.dumps(creds), exclusive=True)
    return creds


def secure(root: Path = LOCAL, task_gid: int | None = None) -> None:
    """The data dir holds the emulator's key, Azurite's blobs and the emulator's state: folders 0700 and
    files 0600, repaired on every `local up` (older versions left them readable by every user). With a task
    user, its group may pass through root and emulator/ (0710) to its node folders, and nothing else."""
    for folder in (root, root / "azurite", root / "emulator"):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (root / "azurite").chmod(0o700)
    for folder in (root, root / "emulator"):
        isolation.open_to(folder, task_gid)
    for path in (*root.glob("*.json"), *root.glob("*.log"), *(root / "emulator").glob("state.db*")):
        path.chmod(0o600)


def up(stack_name: str = "dev", port: int = 0, azurite_port: int = 0, time_scale: float = 1.0, faults: str = "",
       task_user: str = "auto", root: Path = LOCAL, transitions: str = "azure") -> Started:
    """Start both services (unless running) on this checkout's recorded ports; return the outputs written
    to outputs.json and what the caller must tell the user. `transitions`: how long pools, nodes and jobs stay
    in Batch's transitional states (the emulator's --transitions; Azure's typical times by default)."""
    from bigcompute.config import ConfigError, load_stack

    try:
        stack = load_stack(stack_name)
    except ConfigError as e:
        raise LauncherError(f"stack {stack_name}: {e}") from e
    try:
        check_transitions(transitions)
    except ValueError as e:
        raise LauncherError(str(e)) from None
    if task_user not in ("auto", "none"):
        try:
            pwd.getpwnam(task_user)
        except KeyError:
            raise LauncherError(f"--task-user {task_user}: there is no user {task_user}") from None
    if running(root) and (root / "outputs.json").exists():
        return _already_running(root, port, azurite_port)
    packages_found = _local_packages(stack, root.resolve().parents[1])  # refuses before anything starts
    binary, installed = _azurite_binary(root)  # refuses before anything starts
    notes = stop(root) + installed
    secure(root, _task_group(task_user))
    try:
        blob_port, emu_port = ports.choose(root, port, azurite_port)  # refuses before anything starts
    except ports.PortTaken as e:
        raise LauncherError(str(e)) from None
    creds = credentials(root)
    blob, url = az.blob_endpoint(blob_port), f"http://127.0.0.1:{emu_port}"
    home = root.resolve()  # absolute in argv: how `ours` recognises these processes later
    procs: dict[str, Any] = {"stack": stack_name, "dataDir": str(home), "blobEndpoint": blob, "emulatorUrl": url}
    procs.update(records.record("azurite", _start_azurite(home, blob_port, binary)))
    packages = node_packages(stack)
    procs.update(records.record("emulator", _start_emulator(home, emu_port, time_scale, faults, blob, task_user,
                                                            packages, transitions)))
    _write_private(root / "processes.json", json.dumps(procs, indent=2))
    try:
        az.wait_port(blob_port)
        az.wait_port(emu_port)
        procs.update(_task_user(home, procs["emulatorPid"]))
        pool_ids = _create_resources(stack, url, blob_port, creds["batchAccountKey"], packages_found)
    except Exception as e:
        stop(root)
        raise LauncherError(f"local target failed to start: {e} (see {root}/*.log)") from e
    if not procs.get("taskUser"):
        secure(root, None)  # tasks run as us: nobody else needs to pass through
    _write_private(root / "processes.json", json.dumps(procs, indent=2))
    containers = stack.storage.containers
    outputs = {
        "resourceGroup": "local", "batchAccountName": ACCOUNT, "batchAccountEndpoint": url,
        "storageAccountName": DEV_ACCOUNT, "blobEndpoint": blob,
        "containers": {"inputs": containers.inputs, "outputs": containers.outputs},
        "poolIds": pool_ids, "identityResourceId": IDENTITY,
    }
    _write_private(root / "outputs.json", json.dumps(outputs, indent=2) + "\n")
    return Started(outputs, True, notes + isolation_notes(procs))


def check_transitions(text: str) -> str:
    """The emulator's --transitions, refused (ValueError) before anything starts."""
    Durations.parse(text)
    return text


def _already_running(root: Path, port: int, azurite_port: int) -> Started:
    procs = processes(root)
    secure(root, _task_group(procs["taskUser"]) if procs.get("taskUser") else None)
    emu_now, blob_now = ports.recorded(root)
    moved = [flag for flag, asked, now in (("--port", port, emu_now), ("--azurite-port", azurite_port, blob_now))
             if asked and asked != now]
    notes = [f"{' and '.join(moved)} not applied: the target is already running on its recorded ports "
             "(`bigcompute local down` first)"] if moved else []
    return Started(json.loads((root / "outputs.json").read_text()), False, notes + isolation_notes(procs))


def isolation_notes(procs: dict[str, Any]) -> list[str]:
    """One line when tasks can read what the target's own user can (its key included), or may fail."""
    warning = procs.get("taskUserWarning")
    if not warning:
        return []
    if procs.get("taskUser"):
        return [f"tasks run as {procs['taskUser']}, but {warning}"]
    return [f"tasks are NOT isolated from the local target's credentials: {warning}"]


def stop(root: Path = LOCAL) -> list[str]:
    """Stop the recorded services that are still ours; returns a line for each record left alone."""
    procs = processes(root)
    notes = []
    for name in records.SERVICES:
        pid = procs.get(f"{name}Pid")
        if pid is None:
            continue
        if records.ours(procs, name, root):
            records.terminate(pid)
        elif records.alive(pid):
            notes.append(f"the recorded {name} process {pid} is gone: PID {pid} now belongs to another "
                         f"program ({records.describe(pid)}), left alone")
    (root / "processes.json").unlink(missing_ok=True)
    return notes


def down(purge: bool = False, root: Path = LOCAL) -> list[str]:
    notes = stop(root)
    if purge:
        shutil.rmtree(root, ignore_errors=True)
    return notes


def _task_group(task_user: str) -> int | None:
    """The group that may pass through the data dir to the node folders: the task user's, if tasks may
    run as one (decided by the emulator's probe; `up` closes the folders again when they do not)."""
    if os.geteuid() != 0 or task_user == "none":
        return None
    try:
        return pwd.getpwnam(isolation.AUTO_USER if task_user == "auto" else task_user).pw_gid
    except KeyError:
        return None


def _task_user(home: Path, pid: int, timeout: float = 10.0) -> dict[str, Any]:
    """Whom the emulator runs tasks as, from the emulator.json it writes once listening."""
    info_file = home / "emulator" / "emulator.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError):
            info = json.loads(info_file.read_text())
            if info.get("pid") == pid:
                return {"taskUser": info.get("taskUser"), "taskUserWarning": info.get("taskUserWarning", "")}
        time.sleep(0.05)
    raise LauncherError(f"the emulator did not write {info_file} within {timeout} s")


def _write_private(path: Path, text: str, exclusive: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    with os.fdopen(os.open(path, flags, 0o600), "w") as f:
        f.write(text)
    path.chmod(0o600)  # an existing file keeps its old mode through O_TRUNC


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    return proc.pid


def _azurite_binary(root: Path) -> tuple[Path, list[str]]:
    """Azurite as found (see az.candidates; `root` is <project>/.bigcompute/local), else installed into the
    user's cache with npm, which the returned note says. Never this package's own checkout."""
    project = root.resolve().parents[1]
    found = az.find_binary(project)
    if found is not None:
        return found, []
    looked = "; ".join(f"{where}: {path}" for where, path in az.candidates(project) if path is not None)
    if not shutil.which("npm"):
        raise LauncherError(f"Azurite not found ({looked}) and npm is not installed to install it: install "
                            f"Node.js/npm, or set {az.BINARY_ENV} to an azurite-blob executable")
    command = az.install_command()
    proc = subprocess.run(command, capture_output=True, text=True)
    binary = az.cache_dir() / az.AZURITE_BIN
    if proc.returncode != 0 or not binary.is_file():
        said = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise LauncherError(f"Azurite not found ({looked}); installing it with `{' '.join(command)}` failed: {said}")
    return binary, [f"Azurite was not installed: installed it with `{' '.join(command)}`"]


def _start_azurite(root: Path, port: int, binary: Path) -> int:
    (root / "azurite").mkdir(parents=True, exist_ok=True)
    return _spawn(az.command(root / "azurite", port, binary), root / "azurite.log")


def node_packages(stack: Any) -> list[str]:
    """The Python distributions the stack's start tasks install (`python3-numpy` -> numpy): what tasks on the
    local node may import. The start task itself is not run locally (see _create_resources)."""
    apt = [p for pool in stack.pools if pool.start_task for p in pool.start_task.apt_packages]
    return sorted(set(node_python.from_apt(apt)))


def _start_emulator(root: Path, port: int, time_scale: float, faults: str, blob: str, task_user: str,
                    packages: list[str], transitions: str = "azure") -> int:
    argv = [sys.executable, "-m", "bigcompute.emulator", "--data-dir", str(root / "emulator"), "--port", str(port),
            "--account", ACCOUNT, "--time-scale", str(time_scale), "--blob-endpoint", blob, "--task-user", task_user,
            "--node-packages", ",".join(packages), "--transitions", transitions,
            "--role-assignment", f"{IDENTITY}={JOB_SUBMITTER}"]
    if faults:
        argv += ["--faults", faults]
    (root / "emulator").mkdir(parents=True, exist_ok=True)
    argv += ["--key-file", str(root / "credentials.json")]  # not the environment: see __main__._key_from_file
    return _spawn(argv, root / "emulator.log")


def _local_packages(stack: Any, project: Path) -> list[tuple[Any, str, Path]]:
    """Every (application, version, folder or zip) of the stack's localApplications; LauncherError when one is
    missing or a pool references an application the local account would not have."""
    declared = {app.id.lower() for app in stack.local_applications}
    for pool in stack.pools:
        for ref in pool.applications:
            if ref.id.lower() not in declared:
                raise LauncherError(f"stack {stack.name}: pool {pool.name} references application {ref.id}, which "
                                    f"{stack.path} does not declare in localApplications: the local target has no "
                                    "package to install (nothing was started)")
    found = []
    for app in stack.local_applications:
        for version, source in app.versions.items():
            path = project / source
            if not path.is_dir() and not (path.is_file() and zipfile.is_zipfile(path)):
                raise LauncherError(f"{stack.path}: localApplications {app.id} version {version}: {source} is neither "
                                    "a folder nor a zip file under the project root (nothing was started)")
            found.append((app, version, path))
    return found


def _create_resources(stack: Any, url: str, blob_port: int, key: str,
                      packages: list[tuple[Any, str, Path]]) -> dict[str, str]:
    from azure.batch import BatchClient
    from azure.batch import models as m
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(az.connection_string(blob_port))
    containers = stack.storage.containers
    for name in (containers.inputs, containers.outputs):
        with contextlib.suppress(ResourceExistsError):
            service.create_container(name)
    client = BatchClient(url, AzureNamedKeyCredential(ACCOUNT, key))
    for app, version, source in packages:  # the account's packages first: the pools reference them
        applications.upload_source(client, app.id, version, source, display_name=app.display_name,
                                   default=version == app.default_version)
    pool_ids: dict[str, str] = {}
    for pool in stack.pools:
        # Locally every pool is a fixed set of `local.nodes` nodes on this machine. The stack's start task
        # is not run: it installs packages with elevation, which the developer's machine already has.
        image = pool.image
        vm = m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(publisher=image.publisher, offer=image.offer, sku=image.sku,
                                                    version=image.version),
            node_agent_sku_id=image.node_agent_sku)
        options = m.BatchPoolCreateOptions(
            id=pool.name, vm_size=pool.vm_size, target_dedicated_nodes=pool.local.nodes, virtual_machine_configuration=vm,
            task_slots_per_node=pool.local_slots, enable_inter_node_communication=pool.inter_node_communication,
            task_scheduling_policy=m.BatchTaskSchedulingPolicy(node_fill_type=pool.scheduling),
            application_package_references=[m.BatchApplicationPackageReference(application_id=a.id, version=a.version)
                                            for a in pool.applications] or None,
            metadata=[m.BatchMetadataItem(name=k, value=v) for k, v in pool.metadata.items()] or None)
        # the stack's pools carry its user-assigned identity (components/pool.py); ARM sets it on Azure, the
        # emulator takes it at creation
        options["identity"] = {"type": "UserAssigned", "userAssignedIdentities": [{"resourceId": IDENTITY}]}
        with contextlib.suppress(ResourceExistsError):
            client.create_pool(options)
        pool_ids[pool.name] = pool.name
    return pool_ids
