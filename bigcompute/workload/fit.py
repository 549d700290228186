"""Whether a workload fits the stack pool it names: task slots, container images and registries, the OS its
command lines are written for. Run by `validate --stack`, `plan` and `apply` (the stack's pools are known).

The pool is read through `PoolShape`, which the stack's PoolConfig satisfies: the workload package does not
import the config package (both sit below the runner).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

from bigcompute.document import Diagnostic, Document
from bigcompute.workload.model import Workload

CONTAINERS = "https://learn.microsoft.com/azure/batch/batch-docker-container-workloads"
WINDOWS_ENV = "https://learn.microsoft.com/azure/batch/batch-compute-node-environment-variables#command-line-expansion"
TASK_SLOTS = "https://learn.microsoft.com/azure/batch/batch-parallel-node-tasks"


class PoolShape(Protocol):
    name: str
    task_slots_per_node: int
    container_images: tuple[str, ...]
    container_registries: tuple[Any, ...]  # each with .server
    image: Any  # with .is_windows


# Command-line spellings of one shell that the other does not understand. Definite: what the other shell can
# never run; likely: what usually means the author wrote for the other shell.
POSIX_DEFINITE = re.compile(r"(^|[\s;&|(])(/bin/(ba)?sh|/usr/bin/env)\b|\$\(|\$\{")
POSIX_LIKELY = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*|(^|[\s;&|])(export|source|chmod|rm -|ls -|cp -|mkdir -p)\b|(?<![<>&|])[;](?!;)|\bfi\b|~/")
WINDOWS_DEFINITE = re.compile(r"(^|\s)cmd(\.exe)?\s+/[cCkK]\b|%[A-Za-z_][A-Za-z0-9_]*%|\b[A-Za-z]:\\|(^|\s)powershell(\.exe)?\s")


def check_fit(doc: Document, wl: Workload, pool: PoolShape) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(problems, warnings) of `wl` on `pool`."""
    problems = list(_containers(doc, wl, pool))
    os_problems, warnings = _os(doc, wl, pool)
    return problems + os_problems, warnings


def _image_spots(wl: Workload) -> Iterator[tuple[tuple, Any]]:
    if wl.container:
        yield ("container", "image"), wl.container
    for g in wl.groups:
        if g.container:
            yield ("tasks", g.index, "container", "image"), g.container
    if wl.merge and wl.merge.container:
        yield ("merge", "container", "image"), wl.merge.container


def _containers(doc: Document, wl: Workload, pool: PoolShape) -> Iterator[Diagnostic]:
    listed = {i.lower() for i in pool.container_images}
    registries = {r.server.lower() for r in pool.container_registries}
    for at, spec in _image_spots(wl):
        if not listed and not registries:
            # containerSettings "must not be set" on a pool without containerConfiguration (TaskContainerSettings,
            # https://learn.microsoft.com/rest/api/batchservice/task/add#taskcontainersettings)
            yield doc.diagnostic(at, f"image {spec.image} cannot run on pool '{pool.name}': the pool has no container "
                                 "runtime (no containerImages in the stack); add the image to the pool's "
                                 f"containerImages ({CONTAINERS})", code="pool-fit")
        elif spec.image.lower() not in listed:
            # Batch pulls an unlisted image when each task starts, on every node: slow, and a registry outage
            # fails tasks mid-job; the pool prefetches what it lists (containerImageNames, CONTAINERS).
            yield doc.diagnostic(at, f"image {spec.image} is not among the containerImages of pool '{pool.name}' "
                                 f"({', '.join(pool.container_images) or 'none'}): list it in the stack so every "
                                 f"node prefetches it ({CONTAINERS})", code="pool-fit")
        elif spec.acr and spec.acr not in registries:
            yield doc.diagnostic(at, f"image {spec.image} is in the Azure Container Registry {spec.acr}, which is not "
                                 f"among the containerRegistries of pool '{pool.name}': the nodes could not pull it "
                                 "as the pool identity", code="pool-fit")


def _commands(wl: Workload) -> Iterator[tuple[tuple, str]]:
    for g in wl.groups:
        yield ("tasks", g.index, "command"), g.command
    if wl.merge:
        yield ("merge", "command"), wl.merge.command
    if wl.prepare_command:
        yield ("prepare", "command"), wl.prepare_command
    if wl.release:
        yield ("release", "command"), wl.release.command


def _os(doc: Document, wl: Workload, pool: PoolShape) -> tuple[list[Diagnostic], list[Diagnostic]]:
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    windows = bool(getattr(pool.image, "is_windows", False))
    for at, command in _commands(wl):
        if windows and POSIX_DEFINITE.search(command):
            problems.append(doc.diagnostic(at, f"pool '{pool.name}' runs Windows, where commands run under cmd /c "
                                           f"({WINDOWS_ENV}); this command uses POSIX shell syntax cmd cannot run "
                                           f"({POSIX_DEFINITE.search(command).group(0).strip()!r})", code="pool-os"))
        elif windows and POSIX_LIKELY.search(command):
            warnings.append(doc.diagnostic(at, f"pool '{pool.name}' runs Windows (cmd /c): "
                                           f"{POSIX_LIKELY.search(command).group(0).strip()!r} looks like POSIX shell "
                                           "syntax, which cmd reads differently (%VAR% expands a variable, & chains "
                                           "commands)", code="pool-os"))
        elif not windows and WINDOWS_DEFINITE.search(command):
            problems.append(doc.diagnostic(at, f"pool '{pool.name}' runs Linux, where commands run under /bin/sh -c; "
                                           "this command is written for Windows "
                                           f"({WINDOWS_DEFINITE.search(command).group(0).strip()!r})", code="pool-os"))
    if windows and (wl.input_paths or wl.blob_inputs or wl.url_inputs or any(g.kind == "foreach" for g in wl.groups)):
        problems.append(doc.diagnostic(("inputs",) if "inputs" in wl.raw else ("tasks",), f"pool '{pool.name}' runs "
                                       "Windows: bigcompute stages and verifies inputs with POSIX shell lines "
                                       "(sha256sum, cp), so workloads with inputs or foreach run on Linux pools only",
                                       key=True, code="pool-os"))
    return problems, warnings
