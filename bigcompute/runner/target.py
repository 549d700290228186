"""Where the runner deploys: endpoints and names from the stack outputs, plus how to authenticate.

Both targets share one shape, the Pulumi stack outputs (see docs/outputs.md): the azure target reads
them from `pulumi stack output --json` or `--outputs FILE` and authenticates with
DefaultAzureCredential; the local target reads `<project root>/.bigcompute/local/outputs.json` and the local
credentials file beside it. Nothing here ever logs a key.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bigcompute.project import local_dir
from bigcompute.runner.errors import DeployError

REQUIRED_OUTPUTS = ("batchAccountName", "batchAccountEndpoint", "storageAccountName", "blobEndpoint",
                    "containers", "poolIds")


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True)
class TargetArgs:
    """Where a runner command runs, as the user named it."""

    target: str = "local"  # local | azure
    stack: str = "dev"
    outputs: str | None = None
    # Where the runner says what it did beyond the command itself (it started the local target): the CLI
    # prints it, so an apply never starts or restarts the target silently.
    notify: Callable[[str], None] = field(default=_quiet, compare=False)


@dataclass(frozen=True)
class Target:
    kind: str  # azure | local
    stack: str
    batch_endpoint: str
    batch_account: str
    blob_endpoint: str
    storage_account: str
    containers: Mapping[str, str]
    pool_ids: Mapping[str, str]
    identity_resource_id: str | None
    batch_key: str | None = field(default=None, repr=False)  # local only
    storage_key: str | None = field(default=None, repr=False)  # local only
    resource_group: str | None = None  # the stack's resource group (ARM): for management-plane reads

    @property
    def inputs_url(self) -> str:
        return f"{self.blob_endpoint.rstrip('/')}/{self.containers['inputs']}"

    @property
    def outputs_url(self) -> str:
        return f"{self.blob_endpoint.rstrip('/')}/{self.containers['outputs']}"

    def pool_id(self, pool: str) -> str:
        try:
            return self.pool_ids[pool]
        except KeyError:
            known = ", ".join(sorted(self.pool_ids)) or "none"
            raise DeployError(f"pool '{pool}' is not deployed on the {self.kind} target of stack "
                              f"'{self.stack}' (deployed pools: {known})") from None


def from_outputs(outputs: Mapping[str, Any], kind: str, stack: str, source: str,
                 credentials: Mapping[str, str] | None = None) -> Target:
    missing = [k for k in REQUIRED_OUTPUTS if k not in outputs]
    if missing:
        raise DeployError(f"{source}: stack outputs lack {', '.join(missing)}; is the stack deployed?")
    credentials = credentials or {}
    return Target(
        kind=kind, stack=stack,
        batch_endpoint=outputs["batchAccountEndpoint"], batch_account=outputs["batchAccountName"],
        blob_endpoint=outputs["blobEndpoint"], storage_account=outputs["storageAccountName"],
        containers=dict(outputs["containers"]), pool_ids=dict(outputs["poolIds"]),
        identity_resource_id=outputs.get("identityResourceId"),
        batch_key=credentials.get("batchAccountKey"), storage_key=credentials.get("storageAccountKey"),
        resource_group=outputs.get("resourceGroup"),
    )


def azure_target(stack: str, outputs_file: str | Path | None = None) -> Target:
    if outputs_file:
        source = str(outputs_file)
        outputs = _read_json(Path(outputs_file))
    elif shutil.which("pulumi"):
        source = f"pulumi stack output --stack {stack}"
        proc = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise DeployError(f"{source} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else ''}")
        outputs = json.loads(proc.stdout)
    else:
        raise DeployError("the azure target needs the stack outputs: install the Pulumi CLI and log in, "
                          "or pass --outputs FILE (the JSON of `pulumi stack output --json`)")
    return from_outputs(outputs, "azure", stack, source)


def local_target(root: Path | None = None) -> Target | None:
    """The running local target of the project (its `.bigcompute/local/`, however deep the user stands in it),
    or None when `bigcompute local up` has not written its outputs. Outside any project: NoProject."""
    root = root or local_dir()
    outputs_path, credentials_path = root / "outputs.json", root / "credentials.json"
    if not outputs_path.is_file() or not credentials_path.is_file():
        return None
    outputs = _read_json(outputs_path)
    credentials = _read_json(credentials_path)
    for name in ("batchAccountKey", "storageAccountKey"):
        if not _is_key(credentials.get(name)):  # signing with it would fail deep inside the SDK
            raise DeployError(f"{credentials_path}: {name} is not a base64 account key; run `bigcompute local up` "
                              "to rewrite it")
    return from_outputs(outputs, "local", outputs.get("stack", "dev"), str(outputs_path), credentials)


def _is_key(value: Any) -> bool:
    import base64
    import binascii

    try:
        return isinstance(value, str) and bool(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return False


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DeployError(f"{path}: cannot read stack outputs ({e})") from None
