"""How long Batch's transitional states last in the emulator: pools `resizing` while their nodes are allocated one
by one, `stopping` after stop-resize, `deleting`; nodes `creating` then `starting` before their start task and
`idle`; jobs `deleting`, `terminating`, `disabling`. Code that meets these states on Azure meets them locally.

Durations are in Azure seconds and divided by --time-scale, like every other emulator timer. The `azure` profile
holds typical times of a Linux pool on Azure (Batch publishes no guarantee: allocation "may take several minutes",
https://learn.microsoft.com/azure/batch/nodes-and-pools); `instant` (the in-process default, the tests' fast
mode) makes every transition end on the settling pass that sees it, so a poller may or may not observe it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.models import NodeDoc, NodeState


@dataclass(frozen=True)
class Durations:
    """Azure seconds each transition lasts (0: ends on the settling pass that sees it)."""

    pool_allocation: float = 0.0  # resizing: the missing nodes are allocated evenly over this time
    node_creating: float = 0.0  # creating: the VM is obtained, not yet joined to the pool
    node_starting: float = 0.0  # starting: Batch's agent starts on the VM (then the start task, then idle)
    pool_stopping: float = 0.0  # stopping: after stop-resize, before steady
    pool_deleting: float = 0.0  # deleting: nodes released, then the pool is gone
    job_deleting: float = 0.0  # deleting: tasks stopped, then the job and its tasks are gone
    job_terminating: float = 0.0  # terminating: tasks ended, then completed
    job_disabling: float = 0.0  # disabling: tasks requeued/ended/waited for, then disabled

    @classmethod
    def parse(cls, text: str) -> Durations:
        """`azure`, `instant`, or either followed by overrides: `azure,job-deleting=5,pool-allocation=30`.
        Overrides alone start from `azure`. Raises ValueError naming what is wrong."""
        parts = [p.strip() for p in text.split(",") if p.strip()]
        base = AZURE
        if parts and parts[0] in PROFILES:
            base = PROFILES[parts.pop(0)]
        names = {f.name.replace("_", "-"): f.name for f in fields(cls)}
        changes: dict[str, Any] = {}
        for part in parts:
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in names:
                raise ValueError(f"--transitions: {part!r} is neither a profile ({', '.join(PROFILES)}) nor "
                                 f"NAME=SECONDS with NAME one of {', '.join(names)}")
            try:
                seconds = float(value)
            except ValueError:
                raise ValueError(f"--transitions: {part!r}: {value!r} is not a number of seconds") from None
            if seconds < 0:
                raise ValueError(f"--transitions: {part!r}: a duration cannot be negative")
            changes[names[key.strip()]] = seconds
        return replace(base, **changes)


INSTANT = Durations()
AZURE = Durations(pool_allocation=60.0, node_creating=60.0, node_starting=60.0, pool_stopping=30.0,
                  pool_deleting=120.0, job_deleting=30.0, job_terminating=10.0, job_disabling=10.0)
PROFILES = {"azure": AZURE, "instant": INSTANT}


@dataclass(frozen=True)
class Timing:
    """The durations on the emulator's clock (divided by --time-scale)."""

    durations: Durations
    time_scale: float = 1.0

    def seconds(self, name: str) -> float:
        return float(getattr(self.durations, name)) / self.time_scale

    def due(self, doc: Any, name: str, now: float) -> bool:
        """Whether the transition `doc` is in has lasted `name`'s duration. Its end is kept on the doc (`_until`)
        from the first pass that sees it; the caller saves the doc and drops `_until` when it moves on."""
        if "_until" not in doc:
            doc["_until"] = now + self.seconds(name)
        return bool(now >= doc["_until"])


def advance_boot(node: NodeDoc, timing: Timing, now: float, boot: Callable[[NodeDoc], None]) -> bool:
    """Move a new node on: creating -> starting -> `boot` (its start task: waitingforstarttask, or idle at once).
    Every phase whose time is up is passed in one call (all of them at once in the fast mode). True when the
    node changed. A node under a node operation (`_pending`: the `start` of a deallocated node) is not booting, nor
    one `starting` while its agent sets it up (`_setup`: compute/node_setup)."""
    changed = False
    while node["state"] in _BOOTING and "_pending" not in node and "_setup" not in node:
        state = NodeState(node["state"])
        changed = changed or "_until" not in node
        if not timing.due(node, _BOOTING[state], now):
            return changed
        del node["_until"]
        node["stateTransitionTime"] = iso(now)
        if state == NodeState.CREATING:
            node["state"] = NodeState.STARTING
        else:
            node["state"] = NodeState.IDLE
            node["lastBootTime"] = iso(now)
            boot(node)
        changed = True
    return changed


_BOOTING = {NodeState.CREATING: "node_creating", NodeState.STARTING: "node_starting"}
