"""Pools: create/get/list/delete, resize, autoscale settings. Nodes live in the pool doc (`_nodes`)."""

from __future__ import annotations

from typing import Any, cast

from bigcompute.emulator.core.errors import (
    BatchError,
    exists,
    invalid_property,
    missing_property,
    unsupported_locally,
)
from bigcompute.emulator.core.formats import iso, parse_duration
from bigcompute.emulator.core.identities import pool_identity
from bigcompute.emulator.state import autoscale as autoscale_adapter
from bigcompute.emulator.state.applications import ApplicationStore
from bigcompute.emulator.state.common import Ctx, DocStore, new_doc, public, set_state
from bigcompute.emulator.state.db import dumps, loads
from bigcompute.emulator.state.models import AllocationState, PoolDoc, PoolState
from bigcompute.emulator.state.pool_features import check_mounts
from bigcompute.emulator.state.validate import (
    check_id,
    check_packages,
    check_runnable,
    check_vm_configuration,
)

MAX_FORMULA = 8192
MIN_INTERVAL, MAX_INTERVAL, DEFAULT_INTERVAL = 300.0, 168 * 3600.0, 900.0
ENABLE_SPACING = 30.0  # Batch refuses enable-autoscale calls closer than this for one pool
_CREATE_KEYS = (
    "id", "displayName", "vmSize", "virtualMachineConfiguration", "resizeTimeout", "targetDedicatedNodes",
    "targetLowPriorityNodes", "enableAutoScale", "autoScaleFormula", "autoScaleEvaluationInterval",
    "enableInterNodeCommunication", "networkConfiguration", "startTask", "applicationPackageReferences",
    "taskSlotsPerNode", "taskSchedulingPolicy", "userAccounts", "metadata", "mountConfiguration", "identity",
    "upgradePolicy",
)
# PATCH (update) and POST updateproperties (replace): what every GA version lets a pool change at any time.
_UPDATE_KEYS = ("startTask", "applicationPackageReferences", "metadata", "targetNodeCommunicationMode")
# 2025-06-01 also lets an empty pool change these; locally a pool is recreated instead (refused, not ignored).
_EMPTY_POOL_KEYS = (
    "displayName", "vmSize", "taskSlotsPerNode", "taskSchedulingPolicy", "enableInterNodeCommunication",
    "virtualMachineConfiguration", "networkConfiguration", "resourceTags", "userAccounts", "mountConfiguration",
    "upgradePolicy",
)


class PoolStore(DocStore[PoolDoc]):
    table, kind = "pools", "Pool"

    def __init__(self, ctx: Ctx, applications: ApplicationStore) -> None:
        super().__init__(ctx)
        self.applications = applications

    def find(self, pool_id: str) -> PoolDoc | None:
        """The pool, or None when there is none of that id (inside the caller's transaction)."""
        row = self.ctx.db.conn.execute("SELECT doc FROM pools WHERE id=?", (pool_id,)).fetchone()
        return None if row is None else cast(PoolDoc, loads(row[0]))

    def purge(self, pool_id: str) -> None:
        """The end of a deletion: the row goes (its nodes' processes are the caller's to end)."""
        self.ctx.db.conn.execute("DELETE FROM pools WHERE id=?", (pool_id,))

    def ids(self) -> list[str]:
        with self.ctx.db.lock:
            return [r[0] for r in self.ctx.db.conn.execute("SELECT id FROM pools ORDER BY id")]

    def all(self) -> list[PoolDoc]:
        return [cast(PoolDoc, loads(r[0])) for r in self.ctx.db.conn.execute("SELECT doc FROM pools ORDER BY id")]

    def views(self) -> list[PoolDoc]:
        """Every pool, read-only (shared parsed docs: see ViewCache)."""
        view = self.ctx.db.view
        return [cast(PoolDoc, view(r[0])) for r in self.ctx.db.conn.execute("SELECT doc FROM pools ORDER BY id")]

    def create(self, spec: dict[str, Any]) -> PoolDoc:
        pool_id = check_id(spec.get("id"))
        if not spec.get("vmSize"):
            raise missing_property("vmSize")
        now = self.ctx.clock()
        doc = cast(PoolDoc, new_doc({k: spec[k] for k in _CREATE_KEYS if k in spec}, f"{self.ctx.base_url}/pools/{pool_id}",
                                     now, PoolState.ACTIVE))
        slots = doc.setdefault("taskSlotsPerNode", 1)
        if not isinstance(slots, int) or not 1 <= slots <= 256:
            raise invalid_property("taskSlotsPerNode", "taskSlotsPerNode must be between 1 and 256.", slots)
        if spec.get("startTask"):
            check_runnable(spec["startTask"], "startTask.")
        self._check_packages(spec)
        check_vm_configuration(spec.get("virtualMachineConfiguration"))
        # Accepted as Batch accepts it; a local node mounts nothing, so its nodes turn unusable with a mount
        # error (compute/node_setup.py) instead of running tasks without their file systems.
        check_mounts(spec.get("mountConfiguration"))
        if "identity" in spec:  # set through ARM on Azure: see core/identities.py
            doc["identity"] = pool_identity(spec["identity"])
        doc.setdefault("resizeTimeout", "PT15M")
        doc.setdefault("taskSchedulingPolicy", {"nodeFillType": "spread"})
        # Local nodes are one machine: they can always reach each other, so true is honoured as it is.
        doc.setdefault("enableInterNodeCommunication", False)
        # Read-only in Batch: the mode in effect, "classic" unless the pool asked for "simplified".
        doc["currentNodeCommunicationMode"] = "simplified" if spec.get("targetNodeCommunicationMode") == "simplified" \
            else "classic"
        doc.update({"allocationState": AllocationState.RESIZING, "allocationStateTransitionTime": iso(now),
                    "currentDedicatedNodes": 0, "currentLowPriorityNodes": 0, "_nodes": [], "_nodeSeq": 0})
        if doc.get("enableAutoScale"):
            if "targetDedicatedNodes" in spec or "targetLowPriorityNodes" in spec:
                raise invalid_property("targetDedicatedNodes", "Target node counts cannot be set when "
                                       "enableAutoScale is true.")
            self._apply_autoscale_settings(doc, spec, now, first=True)
        else:
            doc["enableAutoScale"] = False
            doc.setdefault("targetDedicatedNodes", 0)
            doc.setdefault("targetLowPriorityNodes", 0)
        with self.ctx.db.tx() as c:
            if c.execute("SELECT 1 FROM pools WHERE id=?", (pool_id,)).fetchone():
                raise exists("Pool")
            if doc.get("enableAutoScale"):
                self.evaluate_and_apply(doc, now)
            c.execute("INSERT INTO pools (id, doc) VALUES (?, ?)", (pool_id, dumps(doc)))
        self.ctx.wake()
        return doc

    def delete(self, pool_id: str) -> None:
        def change(doc: PoolDoc) -> None:
            set_state(doc, PoolState.DELETING, self.ctx.clock())
            for key in ("_until", "_allocAt", "_allocStep", "_allocBy"):  # a resize under way stops; deletion has its own clock
                cast(dict[str, Any], doc).pop(key, None)

        # checked: "Update, Patch or Delete ... on a Pool in the deleting state" fails (Pool - Delete)
        self._mutate(pool_id, change)

    def resize(self, pool_id: str, body: dict[str, Any]) -> None:
        def change(doc: PoolDoc) -> None:
            if doc.get("enableAutoScale"):
                raise BatchError(409, "OperationNotValidOnPool", "The pool has autoscale enabled; it cannot be "
                                 "resized.")
            if doc["allocationState"] != AllocationState.STEADY:
                raise BatchError(409, "PoolBeingResized", "The specified pool is being resized; wait until its "
                                 "allocation state is steady.")
            for key in ("targetDedicatedNodes", "targetLowPriorityNodes"):
                value = body.get(key) or 0
                if not isinstance(value, int) or value < 0:
                    raise invalid_property(key, f"{key} must be a non-negative integer.", value)
                cast(dict[str, Any], doc)[key] = value
            doc["_dealloc"] = body.get("nodeDeallocationOption") or "requeue"
            self._start_resize(doc)

        self._mutate(pool_id, change)

    def stop_resize(self, pool_id: str) -> None:
        def change(doc: PoolDoc) -> bool:
            if doc["allocationState"] != AllocationState.RESIZING:
                return False  # steady, or already stopping
            doc["allocationState"] = AllocationState.STOPPING
            doc["allocationStateTransitionTime"] = iso(self.ctx.clock())
            return True

        self._mutate(pool_id, change)

    def enable_autoscale(self, pool_id: str, body: dict[str, Any]) -> None:
        now = self.ctx.clock()

        def change(doc: PoolDoc) -> None:
            if doc["allocationState"] != AllocationState.STEADY and not doc.get("enableAutoScale"):
                raise BatchError(409, "PoolBeingResized", "Autoscale cannot be enabled while a resize is in progress.")
            last = doc.get("_lastEnable")
            if last is not None and now - last < ENABLE_SPACING / self.ctx.time_scale:
                # Batch's 503, which clients retry after a pause (a 409 they would not).
                raise BatchError(503, "TooManyEnableAutoScaleRequests", "Too many Enable Pool AutoScale requests "
                                 "are issued on the pool: they must be at least 30 seconds apart.")
            was_enabled = bool(doc.get("enableAutoScale"))
            if not was_enabled and not body.get("autoScaleFormula"):
                raise missing_property("autoScaleFormula")
            self._apply_autoscale_settings(doc, body, now, first=not was_enabled)
            doc["_lastEnable"] = now
            self.evaluate_and_apply(doc, now)

        self._mutate(pool_id, change)

    def disable_autoscale(self, pool_id: str) -> None:
        def change(doc: PoolDoc) -> None:
            doc["enableAutoScale"] = False
            for key in ("autoScaleFormula", "autoScaleEvaluationInterval", "autoScaleRun", "_nextEval"):
                cast(dict[str, Any], doc).pop(key, None)

        self._mutate(pool_id, change, wake=False)

    def update(self, pool_id: str, body: dict[str, Any], *, replace: bool) -> PoolDoc:
        """PATCH (`replace=False`): the properties given replace the pool's, others stay. POST updateproperties
        (`replace=True`): startTask is removed when left out; the lists are required and replace. (Versions
        before 2025-06-01 also require certificateReferences, which 2025-06-01 dropped: not required here.)"""
        self._check_updatable(body)
        if replace:
            for key in ("applicationPackageReferences", "metadata"):
                if body.get(key) is None:
                    raise missing_property(key)
        if body.get("startTask"):
            check_runnable(body["startTask"], "startTask.")
        self._check_packages(body)

        def change(doc: PoolDoc) -> None:
            fields = cast(dict[str, Any], doc)  # the keys below are names from a list, not literals
            for key in _UPDATE_KEYS:
                if key in body and body[key] is not None:
                    fields[key] = body[key]
                elif replace:
                    fields.pop(key, None)

        return self._mutate(pool_id, change, wake=False)

    def _check_packages(self, spec: dict[str, Any]) -> None:
        """The pool's package references name packages the account has."""
        check_packages(spec.get("applicationPackageReferences"), "applicationPackageReferences")
        self.applications.check_pool_refs(spec.get("applicationPackageReferences"), "applicationPackageReferences")

    @staticmethod
    def _check_updatable(body: dict[str, Any]) -> None:
        if body.get("certificateReferences"):
            raise unsupported_locally("certificateReferences", "certificates are not installed on local nodes; "
                                      "pass secrets to tasks another way.")
        for key in _EMPTY_POOL_KEYS:
            if body.get(key) is not None:
                raise unsupported_locally(key, "a local pool cannot change it in place; delete and recreate the "
                                          "pool with the new value.")

    def evaluate_autoscale(self, pool_id: str, formula: str | None) -> dict[str, Any]:
        if not formula:
            raise missing_property("autoScaleFormula")
        self._check_formula(formula)
        with self.ctx.db.tx():
            doc = self.load(pool_id)
            if not doc.get("enableAutoScale"):
                raise BatchError(409, "OperationNotValidOnPool", "Autoscale is not enabled on the pool.")
            outcome = autoscale_adapter.evaluate(formula, doc, self.ctx.metrics.get(doc["id"], []), self.ctx.clock(),
                                                 self.ctx.time_scale, self.ctx.started)
        return outcome.run(self.ctx.clock())

    def evaluate_and_apply(self, doc: PoolDoc, now: float) -> None:
        """One scheduled evaluation: record autoScaleRun, and start a resize when the targets change."""
        outcome = autoscale_adapter.evaluate(doc["autoScaleFormula"], doc, self.ctx.metrics.get(doc["id"], []), now,
                                             self.ctx.time_scale, self.ctx.started)
        doc["autoScaleRun"] = outcome.run(now)
        interval = parse_duration(doc["autoScaleEvaluationInterval"], "autoScaleEvaluationInterval") or DEFAULT_INTERVAL
        doc["_nextEval"] = now + interval / self.ctx.time_scale
        if outcome.error is None:
            targets = (outcome.target_dedicated, outcome.target_low_priority)
            if targets != (doc.get("targetDedicatedNodes"), doc.get("targetLowPriorityNodes")):
                doc["targetDedicatedNodes"], doc["targetLowPriorityNodes"] = targets
                doc["_dealloc"] = outcome.node_deallocation_option or "requeue"
                self._start_resize(doc)

    def _start_resize(self, doc: PoolDoc) -> None:
        doc["allocationState"] = AllocationState.RESIZING
        doc["allocationStateTransitionTime"] = iso(self.ctx.clock())
        doc.pop("resizeErrors", None)

    def _apply_autoscale_settings(self, doc: PoolDoc, body: dict[str, Any], now: float, first: bool) -> None:
        formula = body.get("autoScaleFormula") or doc.get("autoScaleFormula")
        if not formula:
            raise missing_property("autoScaleFormula")
        self._check_formula(formula)
        interval_text = body.get("autoScaleEvaluationInterval") or doc.get("autoScaleEvaluationInterval") or "PT15M"
        interval = parse_duration(interval_text, "autoScaleEvaluationInterval")
        if interval is None or not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise invalid_property("autoScaleEvaluationInterval", "The autoscale evaluation interval must be "
                                   "between 5 minutes and 168 hours.", interval_text)
        doc.update({"enableAutoScale": True, "autoScaleFormula": formula, "autoScaleEvaluationInterval": interval_text})
        doc.setdefault("targetDedicatedNodes", 0)
        doc.setdefault("targetLowPriorityNodes", 0)

    @staticmethod
    def _check_formula(formula: str) -> None:
        if len(formula) > MAX_FORMULA:
            raise BatchError(400, "AutoScalingFormulaTooLong", "The autoscale formula exceeds the maximum length "
                             "of 8192 characters.")

    def check_changeable(self, doc: PoolDoc) -> None:
        if doc["state"] == PoolState.DELETING:
            raise BatchError(409, "PoolBeingDeleted", "The specified pool has been marked for deletion.")


def wire_pool(doc: PoolDoc) -> dict[str, Any]:
    return public(doc)
