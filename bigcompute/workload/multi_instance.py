"""Multi-instance (MPI) task groups: what Batch refuses or would never schedule, checked before deploy, and
the task's `multiInstanceSettings` as Batch's JSON.

The rules come from "Use multi-instance tasks to run MPI applications in Batch"
(https://learn.microsoft.com/azure/batch/batch-mpi, MPI below) and the SDK's models (azure.batch.models):
- the pool needs inter-node communication and taskSlotsPerNode 1, or "the task is never scheduled--it
  remains indefinitely in the 'active' state" (MPI, Requirements for multi-instance tasks);
- requiredSlots "For multi-instance Tasks, this must be 1" (BatchTaskCreateOptions.required_slots);
- a pool with inter-node communication holds at most 100 nodes in Batch-service allocation mode
  (https://learn.microsoft.com/azure/batch/batch-quota-limit#pool-size-limits): a task needing more nodes
  than its pool can have never runs;
- commonResourceFiles land in the task's root directory, AZ_BATCH_TASK_SHARED_DIR, on every node; the task's
  own resource files and outputs are the primary's only (MultiInstanceSettings, OutputFile docstrings).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from bigcompute.document import Diagnostic, Document
from bigcompute.workload.globs import glob_match
from bigcompute.workload.inputs import InputFile
from bigcompute.workload.model import MultiInstance, TaskGroup, Workload
from bigcompute.workload.staging import FAILED_LINES, checksum_line

MPI_DOC = "https://learn.microsoft.com/azure/batch/batch-mpi"
POOL_SIZE_DOC = "https://learn.microsoft.com/azure/batch/batch-quota-limit#pool-size-limits"
SHARED_DIR_VAR = "AZ_BATCH_TASK_SHARED_DIR"


class PoolFacts(Protocol):
    """What a multi-instance task needs to know of its pool (a stack's PoolConfig): whether its nodes talk to
    each other, its task slots per node, and the most nodes it can have (None: unknown, e.g. a raw formula)."""

    @property
    def name(self) -> str: ...
    @property
    def inter_node_communication(self) -> bool: ...
    @property
    def task_slots_per_node(self) -> int: ...
    @property
    def local_slots(self) -> int: ...
    @property
    def local_nodes(self) -> int: ...
    @property
    def max_nodes(self) -> int | None: ...


def check_groups(doc: Document, wl: Workload, files: Sequence[InputFile]) -> Iterator[Diagnostic]:
    """Each multi-instance group alone: its slots are 1, and each common input glob matches an input file."""
    for g in wl.multi_instance_groups:
        at = ("tasks", g.index)
        slots, where = _slots(wl, g)
        if slots not in (None, 1):
            yield doc.diagnostic(where, f"slots: {slots} on a multi-instance task: Batch requires requiredSlots 1 "
                                 f"for multi-instance tasks ({MPI_DOC}); each instance takes a whole node",
                                 code="multi-instance")
        paths = [f.relpath for f in files] + [u.path for u in wl.url_inputs]
        for j, pattern in enumerate(g.multi_instance.common_inputs if g.multi_instance else ()):
            if not any(glob_match(pattern, p) for p in paths):
                yield doc.diagnostic((*at, "multiInstance", "commonInputs", j),
                                     f"common input '{pattern}' matches no input file of the workload: list the "
                                     "files (or URLs) under `inputs:` too", code="multi-instance")


def _slots(wl: Workload, g: TaskGroup) -> tuple[int | None, tuple]:
    if g.settings.slots is not None:
        return g.settings.slots, ("tasks", g.index, "settings", "slots")
    return wl.defaults.slots, ("defaults", "slots")


def check_pool(doc: Document, wl: Workload, pool: PoolFacts) -> Iterator[Diagnostic]:
    """The workload's multi-instance groups against the pool the stack declares for them."""
    for g in wl.multi_instance_groups:
        at = ("tasks", g.index, "multiInstance")
        nodes = g.multi_instance.nodes if g.multi_instance else 1
        if not pool.inter_node_communication:
            yield doc.diagnostic(at, f"pool '{wl.pool}' does not enable inter-node communication: Batch never "
                                 f"schedules a multi-instance task there ({MPI_DOC}); set "
                                 "`interNodeCommunication: true` on the pool in the stack", key=True,
                                 code="multi-instance-pool")
        if pool.task_slots_per_node != 1 or pool.local_slots != 1:
            field, slots = (("taskSlotsPerNode", pool.task_slots_per_node) if pool.task_slots_per_node != 1
                            else ("local.taskSlotsPerNode", pool.local_slots))
            yield doc.diagnostic(at, f"pool '{wl.pool}' runs {slots} tasks per node ({field}): Batch never "
                                 f"schedules a multi-instance task on a pool whose taskSlotsPerNode is not 1 "
                                 f"({MPI_DOC}); set {field}: 1 on the pool in the stack", key=True,
                                 code="multi-instance-pool")
        if pool.max_nodes is not None and nodes > pool.max_nodes:
            yield doc.diagnostic((*at, "nodes"), f"nodes: {nodes} is more than pool '{wl.pool}' can have "
                                 f"({pool.max_nodes}): the task would never start", code="multi-instance-pool")
        if nodes > pool.local_nodes:
            yield doc.diagnostic((*at, "nodes"), f"nodes: {nodes} is more than the {pool.local_nodes} local node(s) of "
                                 f"pool '{wl.pool}' (local.nodes): on the local target the task would never start; "
                                 f"set local.nodes to at least {nodes} on the pool in the stack",
                                 code="multi-instance-pool")


def common_files(mi: MultiInstance, relpaths: Sequence[str]) -> list[str]:
    """The paths (input files, URL inputs' landing paths) the common input globs match, sorted."""
    return sorted(p for p in relpaths if any(glob_match(pattern, p) for pattern in mi.common_inputs))


def settings(mi: MultiInstance, wl: Workload, digests: Mapping[str, str], url_of: Callable[[str], str],
             identity: dict | None) -> dict[str, Any]:
    """`multiInstanceSettings` of one task: `url_of(relpath)` is the stored blob of an input file; a URL input
    is downloaded from its URL. The coordination command first checks the common files it received against
    their SHA-256 (every input file; a URL input with `sha256`), as a task checks its own inputs."""
    urls = {u.path: u for u in wl.url_inputs}
    resources, lines = [], ""
    for path in common_files(mi, [*digests, *urls]):
        if path in digests:
            resources.append({"httpUrl": url_of(path), "filePath": path,
                              **({"identityReference": identity} if identity else {})})
            lines += checksum_line(path, digests[path])
        else:
            resources.append({"httpUrl": urls[path].url, "filePath": path})
            lines += checksum_line(path, urls[path].sha256) if urls[path].sha256 else ""
    steps = []
    if lines:
        steps.append(f'r=$(cd "${SHARED_DIR_VAR}" && printf %s {shlex.quote(lines)} | sha256sum -c --quiet --strict '
                     f'2>&1) || {{ printf "%s\\n" "$r" | {FAILED_LINES} >&2; exit 1; }}')
    steps.append(mi.coordination or "true")
    body: dict[str, Any] = {"numberOfInstances": mi.nodes,
                            "coordinationCommandLine": f"/bin/sh -c {shlex.quote('; '.join(steps))}"}
    if resources:
        body["commonResourceFiles"] = resources
    return body
