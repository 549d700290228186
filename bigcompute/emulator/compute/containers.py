"""A container task's process on a local node: `<engine> run` of its image, as Batch's node agent creates it.

Batch mounts the node's Batch folders into the container at the same path and starts the command in the task's
working directory unless `workingDirectory` is `containerImageDefault`; `containerRunOptions` go to the
engine's create command; the task's command line is the container's command
(https://learn.microsoft.com/azure/batch/batch-docker-container-workloads#container-task-command-line).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def container_argv(engine: str, settings: Mapping[str, Any], command_line: str, node_root: str, wd: Path,
                   env: Mapping[str, str]) -> list[str]:
    """The engine's argv. Environment values are passed by name only (`-e NAME`: the engine reads each from its
    own environment, which is the task's), so no value ever appears in a process listing."""
    argv = [engine, "run", "--rm", "--network", "host", "-v", f"{node_root}:{node_root}"]
    if settings.get("workingDirectory", "taskWorkingDirectory") == "taskWorkingDirectory":
        argv += ["-w", str(wd)]
    for name in sorted(env):
        argv += ["-e", name]
    argv += shlex.split(settings.get("containerRunOptions") or "")
    return [*argv, settings["imageName"], *shlex.split(command_line)]
