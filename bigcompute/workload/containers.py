"""Container images of a workload's tasks, rendered to Batch's `containerSettings` and the task command line.

Batch creates the container from `imageName` with `containerRunOptions` and passes the task's command line
to it as the container's command, so an image's ENTRYPOINT receives it as arguments
(https://learn.microsoft.com/azure/batch/batch-docker-container-workloads#container-task-command-line).
Two forms follow:
- shell (default): the ENTRYPOINT is cleared (`--entrypoint=`, an empty entrypoint resets the image's, per
  https://docs.docker.com/reference/cli/docker/container/run/) and the command runs under /bin/sh -c (cmd /c on
  Windows), as every other task does;
- entrypoint: the command's words are the ENTRYPOINT's arguments, no shell in between.
An image of an Azure Container Registry is pulled as the stack's pool identity (`registry.identityReference`):
no username, no password, ever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A registry's login server is its lower-case name under azurecr.io (or a sovereign cloud's suffix).
ACR_SERVER = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.(io|cn|us)$")
WORKING_DIRECTORIES = {"task": "taskWorkingDirectory", "image": "containerImageDefault"}
CLEAR_ENTRYPOINT = "--entrypoint="


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    options: str | None = None  # extra `docker create` options (Batch's containerRunOptions)
    entrypoint: bool = False  # the command is the image ENTRYPOINT's arguments
    workdir: str = "task"  # task | image

    @property
    def registry(self) -> str | None:
        """The image's registry server, when its name has one (`myreg.azurecr.io/render:1` → myreg.azurecr.io)."""
        first, sep, _ = self.image.partition("/")
        return first.lower() if sep and ("." in first or ":" in first or first == "localhost") else None

    @property
    def acr(self) -> str | None:
        server = self.registry
        return server if server and ACR_SERVER.match(server) else None


def build_container(data: Mapping[str, Any] | None) -> ContainerSpec | None:
    if not data:
        return None
    return ContainerSpec(data["image"], data.get("options"), bool(data.get("entrypoint", False)),
                         data.get("workingDirectory", "task"))


def run_options(spec: ContainerSpec) -> str | None:
    """`containerRunOptions`: the shell form clears the image's ENTRYPOINT before the user's own options."""
    parts = [] if spec.entrypoint else [CLEAR_ENTRYPOINT]
    if spec.options:
        parts.append(spec.options)
    return " ".join(parts) or None


def container_settings(spec: ContainerSpec, identity_resource_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"imageName": spec.image, "containerRunOptions": run_options(spec)}
    if spec.workdir != "task":  # Batch's default is taskWorkingDirectory
        body["workingDirectory"] = WORKING_DIRECTORIES[spec.workdir]
    if spec.acr and identity_resource_id:
        body["registry"] = {"registryServer": spec.acr, "identityReference": {"resourceId": identity_resource_id}}
    return {k: v for k, v in body.items() if v is not None}
