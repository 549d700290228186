"""Node operations: reboot, reimage, deallocate and start, disable/enable scheduling, remove nodes.

An operation first deals with what runs on the node as its option says (`requeue`: back to active, counted in
requeueCount; `terminate`: completed as ended by request; `taskcompletion`/`retaineddata`: left to finish), then
marks the operation pending on the node. The settler performs it once nothing runs there (`settle_node`): the
node shows Batch's transitional state (rebooting, reimaging, deallocating, starting) for at least one settling
pass, so the SDK's pollers see it, then comes back idle with its start task run again, or deallocated.
"""

from __future__ import annotations

import shutil
import threading
from typing import Any

from bigcompute.emulator.compute import node_setup
from bigcompute.emulator.compute.lifecycle import Lifecycle
from bigcompute.emulator.compute.nodes import NodeLayout
from bigcompute.emulator.compute.runs import Runs
from bigcompute.emulator.compute.runtime import Runtime
from bigcompute.emulator.core.errors import BatchError, invalid_property, missing_property
from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.common import find_node
from bigcompute.emulator.state.models import AllocationState, NodeDoc, NodeState, PoolDoc, PoolState
from bigcompute.emulator.state.stores import Stores

OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")
MAX_REMOVE = 100  # BatchNodeRemoveOptions.nodeList: "A maximum of 100 nodes may be removed per request"
TRANSITION = 1.0  # seconds a node shows its transitional state at least (divided by --time-scale)
# The operation -> the state the node shows while it happens, and the state it ends in.
STATES = {"reboot": (NodeState.REBOOTING, NodeState.IDLE), "reimage": (NodeState.REIMAGING, NodeState.IDLE),
          "deallocate": (NodeState.DEALLOCATING, NodeState.DEALLOCATED), "start": (NodeState.STARTING, NodeState.IDLE)}
# Batch's code for an operation asked of a node already in another one (its published 409s).
_BUSY: dict[str, str] = {NodeState.REBOOTING: "NodeBeingRebooted", NodeState.REIMAGING: "NodeBeingReimaged",
         NodeState.STARTING: "NodeBeingStarted", NodeState.CREATING: "NodeBeingCreated", NodeState.DEALLOCATING: "OperationNotValidOnNode",
         NodeState.LEAVING_POOL: "OperationNotValidOnNode"}


class NodeOps:
    def __init__(self, *, stores: Stores, life: Lifecycle, runtime: Runtime, layout: NodeLayout, runs: Runs) -> None:
        self.stores = stores
        self.life = life
        self.runtime = runtime
        self.layout = layout
        self.runs = runs

    # --- requests (inside one transaction each) -----------------------------------------------------------
    def request(self, pool_id: str, node_id: str, op: str, option: str | None, prop: str) -> None:
        option = _option(option, prop)
        with self.stores.tx():
            pool, node = self._find(pool_id, node_id)
            self._check_free(node, op)
            self._stop_tasks(pool, node, option)
            node["_pending"] = op
            if option in ("requeue", "terminate"):  # nothing to wait for: the node shows the operation at once
                self._begin(node, op, self.stores.ctx.clock())
            self.stores.pools.save(pool)
        self.stores.ctx.wake()

    def set_scheduling(self, pool_id: str, node_id: str, enabled: bool, option: str | None) -> None:
        with self.stores.tx():
            pool, node = self._find(pool_id, node_id)
            if not enabled:
                self._stop_tasks(pool, node, _option(option, "nodeDisableSchedulingOption", OPTIONS[:3]))
            node["schedulingState"] = "enabled" if enabled else "disabled"
            self.stores.pools.save(pool)
        self.stores.ctx.wake()

    def remove(self, pool_id: str, body: dict[str, Any]) -> None:
        ids = body.get("nodeList")
        if not ids:
            raise missing_property("nodeList")
        if not isinstance(ids, list) or len(ids) > MAX_REMOVE:
            raise invalid_property("nodeList", f"nodeList must list 1 to {MAX_REMOVE} node ids.", len(ids))
        option = _option(body.get("nodeDeallocationOption"), "nodeDeallocationOption")
        with self.stores.tx():
            pool = self._pool(pool_id)
            if pool["allocationState"] != AllocationState.STEADY:
                raise BatchError(409, "PoolBeingResized", "The specified pool is being resized; nodes can be "
                                 "removed once its allocation state is steady.")
            nodes = [self._node(pool, node_id) for node_id in dict.fromkeys(ids)]
            for node in nodes:
                self._stop_tasks(pool, node, option)
                node["state"] = NodeState.LEAVING_POOL  # the settler removes it once nothing runs there
                node["stateTransitionTime"] = iso(self.stores.ctx.clock())
                if node["isDedicated"]:
                    pool["targetDedicatedNodes"] = max(0, pool["targetDedicatedNodes"] - 1)
                else:
                    pool["targetLowPriorityNodes"] = max(0, pool["targetLowPriorityNodes"] - 1)
            pool["allocationState"] = AllocationState.RESIZING
            pool["allocationStateTransitionTime"] = iso(self.stores.ctx.clock())
            pool.pop("resizeErrors", None)
            self.stores.pools.save(pool)
        self.stores.ctx.wake()

    # --- the settler's part --------------------------------------------------------------------------------
    def settle_node(self, pool: PoolDoc, node: NodeDoc, now: float) -> bool:
        """Move a node with a pending operation on; True when the node changed."""
        op = node.get("_pending")
        if op is None or self.runtime.on_node(pool["id"], node["id"]):
            return False  # taskcompletion / retaineddata: its tasks finish first (killed ones are leaving)
        if "_until" not in node:
            self._begin(node, op, now)
            return True
        if now < node["_until"]:
            return False
        after = STATES[op][1]
        del node["_pending"], node["_until"]
        if op == "reimage":
            self._wipe(pool, node)
        node.update({"state": after, "stateTransitionTime": iso(now)})
        node.pop("errors", None)  # a reboot or reimage is how an unusable node is mended
        if after == NodeState.IDLE:
            node["lastBootTime"] = iso(now)
            node.pop("startTaskInfo", None)
            self.boot(pool, node)
        return True

    def boot(self, pool: PoolDoc, node: NodeDoc) -> None:
        """Set up a node that (re)booted as its pool asks (node_setup: mounts, container runtime and images), then
        run the pool's start task. A node that cannot be set up is unusable with the reason in its errors; one that
        pulls images stays starting meanwhile. The pool's package references as they are now are the node's:
        "Changes to Package references affect all new Nodes joining the Pool, but do not affect Compute Nodes that
        are already in the Pool until they are rebooted or reimaged" (BatchPoolSpecification)."""
        node["_packages"] = list(pool.get("applicationPackageReferences") or [])
        errors = node_setup.setup_errors(pool)
        if errors:
            node.update({"state": NodeState.UNUSABLE, "errors": errors})
            return
        if node_setup.needs_prefetch(pool):
            node.update({"state": NodeState.STARTING, "_setup": True})
            threading.Thread(target=self._prefetch, args=(pool, node), daemon=True).start()
            return
        self._start_task(pool, node)

    def _prefetch(self, pool: PoolDoc, node: NodeDoc) -> None:
        errors = node_setup.prefetch(pool)
        with self.stores.tx():
            fresh = self.stores.pools.find(pool["id"])
            mine = next((n for n in fresh["_nodes"] if n["id"] == node["id"]), None) if fresh else None
            if fresh is None or mine is None or not mine.pop("_setup", False):
                return  # the pool or node went, or the node was set up again meanwhile
            mine["stateTransitionTime"] = iso(self.stores.ctx.clock())
            if errors:
                mine.update({"state": NodeState.UNUSABLE, "errors": errors})
            else:
                mine["state"] = NodeState.IDLE
                self._start_task(fresh, mine)
            self.stores.pools.save(fresh, touched=False)
        self.stores.ctx.wake()

    def _start_task(self, pool: PoolDoc, node: NodeDoc) -> None:
        """With waitForSuccess the node is waitingforstarttask until its start task ends (Batch's state for it),
        and takes no task meanwhile."""
        spec = pool.get("startTask")
        if not spec:
            return
        wait = spec.get("waitForSuccess", True)
        if wait:
            node["state"] = NodeState.WAITING_FOR_START_TASK
        threading.Thread(target=self._run_start, args=(pool, node, spec, wait), daemon=True).start()

    def _run_start(self, pool: PoolDoc, node: NodeDoc, spec: dict[str, Any], wait: bool) -> None:
        info = self.runs.run_special("start", spec, pool, node, None, "startup")
        with self.stores.tx():
            try:
                fresh = self.stores.pools.load(pool["id"])
            except Exception:
                return
            for n in fresh["_nodes"]:
                if n["id"] == node["id"]:
                    n["startTaskInfo"] = info
                    if wait and n["state"] == NodeState.WAITING_FOR_START_TASK:
                        n["state"] = NodeState.IDLE if info["result"] == "success" else NodeState.START_TASK_FAILED
            self.stores.pools.save(fresh, touched=False)
        self.stores.ctx.wake()

    def _begin(self, node: NodeDoc, op: str, now: float) -> None:
        node.update({"state": STATES[op][0], "stateTransitionTime": iso(now),
                     "_until": now + TRANSITION / self.stores.ctx.time_scale})

    def _wipe(self, pool: PoolDoc, node: NodeDoc) -> None:
        """A reimaged node starts from a fresh disk: its folders go, and every job prepares it again."""
        root = self.layout.root(pool["id"], node["id"])
        shutil.rmtree(root, ignore_errors=True)
        self.layout.create(pool["id"], node["id"])
        self.stores.jobs.forget_node(pool["id"], node["id"])

    # --- helpers -------------------------------------------------------------------------------------------
    def _pool(self, pool_id: str) -> PoolDoc:
        pool = self.stores.pools.load(pool_id)
        if pool["state"] == PoolState.DELETING:
            raise BatchError(409, "PoolBeingDeleted", "The specified pool has been marked for deletion.")
        return pool

    @staticmethod
    def _node(pool: PoolDoc, node_id: str) -> NodeDoc:
        return find_node(pool["_nodes"], node_id)

    def _find(self, pool_id: str, node_id: str) -> tuple[PoolDoc, NodeDoc]:
        pool = self._pool(pool_id)
        return pool, self._node(pool, node_id)

    @staticmethod
    def _check_free(node: NodeDoc, op: str) -> None:
        state = node["state"]
        busy = node.get("_pending") or state in _BUSY
        if op == "start":
            if state != NodeState.DEALLOCATED or node.get("_pending"):
                raise BatchError(409, "OperationNotValidOnNode", "Only a deallocated node can be started.")
        elif busy or state == NodeState.DEALLOCATED:
            code = _BUSY.get(STATES[node["_pending"]][0] if node.get("_pending") else state, "OperationNotValidOnNode")
            raise BatchError(409, code, f"The node is {state}; it cannot be asked to {op} now.")

    def _stop_tasks(self, pool: PoolDoc, node: NodeDoc, option: str) -> None:
        if option not in ("requeue", "terminate"):
            return
        for r in self.runtime.on_node(pool["id"], node["id"]):
            if option == "requeue":
                self.life.requeue(r.job_id, r.task_id)
            else:
                self.life.end(r.job_id, r.task_id, 137)
            r.handle.kill()


def _option(value: str | None, prop: str, allowed: tuple[str, ...] = OPTIONS) -> str:
    option = (value or "requeue").lower()
    if option not in allowed:
        raise invalid_property(prop, f"{prop} must be one of {', '.join(allowed)}.", value)
    return option
