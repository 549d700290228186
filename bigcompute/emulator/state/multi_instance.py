"""Multi-instance (MPI) tasks at add time: their settings, and the pool they would run on.

Batch's rules (https://learn.microsoft.com/azure/batch/batch-mpi, "Requirements for multi-instance tasks", and
the SDK's MultiInstanceSettings / BatchTaskCreateOptions docstrings):
- `coordinationCommandLine` is required; `numberOfInstances` defaults to 1;
- requiredSlots "For multi-instance Tasks, this must be 1";
- the pool needs inter-node communication and taskSlotsPerNode 1. Batch itself accepts such a task on any pool
  and leaves it active forever ("the task is never scheduled"); the emulator refuses it at once, with Batch's
  InvalidPropertyValue, so a local run fails instead of hanging.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bigcompute.emulator.core.errors import invalid_property, missing_property

PROP = "multiInstanceSettings"


def check_settings(spec: dict[str, Any]) -> None:
    settings = spec[PROP]
    if not isinstance(settings, dict):
        raise invalid_property(PROP, f"{PROP} must be an object.")
    count = settings.get("numberOfInstances", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise invalid_property(f"{PROP}.numberOfInstances", "numberOfInstances must be a positive integer.", count)
    if not settings.get("coordinationCommandLine"):
        raise missing_property(f"{PROP}.coordinationCommandLine")
    if spec.get("requiredSlots", 1) != 1:
        raise invalid_property("requiredSlots", "For multi-instance tasks, requiredSlots must be 1.",
                               spec.get("requiredSlots"))


def instances(spec: Mapping[str, Any]) -> int:
    """How many nodes the task needs at once: 1 for an ordinary task."""
    return (spec.get(PROP) or {}).get("numberOfInstances", 1)


def check_pool(spec: Mapping[str, Any], pool: Mapping[str, Any] | None) -> None:
    """The job's pool, when it exists (a task may be added before its pool): one that never schedules it."""
    if pool is None or not spec.get(PROP):
        return
    if not pool.get("enableInterNodeCommunication"):
        raise invalid_property(PROP, f"The pool {pool['id']} does not enable inter-node communication: a "
                               "multi-instance task would never be scheduled on it.")
    if pool.get("taskSlotsPerNode", 1) != 1:
        raise invalid_property(PROP, f"The pool {pool['id']} has taskSlotsPerNode {pool['taskSlotsPerNode']}: a "
                               "multi-instance task is scheduled only on a pool with taskSlotsPerNode 1.")
