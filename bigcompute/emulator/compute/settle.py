"""Moves jobs and pools through Batch's transitional states, each lasting its duration (`transitions.Timing`;
none in the tests' fast mode), resizes pools node by node, runs timers (autoscale evaluation, job wall clock,
retention) and samples metrics."""

from __future__ import annotations

import contextlib
import heapq
import shutil
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, cast

from bigcompute.emulator.compute.lifecycle import Lifecycle
from bigcompute.emulator.compute.node_ops import NodeOps
from bigcompute.emulator.compute.nodes import NodeLayout, new_node
from bigcompute.emulator.compute.runs import Runs
from bigcompute.emulator.compute.runtime import Runtime
from bigcompute.emulator.compute.transitions import INSTANT, Timing, advance_boot
from bigcompute.emulator.core.formats import iso, parse_duration
from bigcompute.emulator.state.jobs import pool_of
from bigcompute.emulator.state.models import (
    AllocationState,
    JobDoc,
    JobState,
    NodeDoc,
    NodeState,
    PoolDoc,
    PoolState,
    TaskState,
)
from bigcompute.emulator.state.stores import Stores

DEFAULT_RESIZE_TIMEOUT = 900.0  # resizeTimeout when a pool has none: 15 minutes
# Batch's resize error when the nodes could not be allocated within the resize timeout (PoolResizeErrorCodes).
ALLOCATION_TIMED_OUT = {"code": "AllocationTimedOut", "message": "The Batch service was unable to allocate the "
                        "desired number of compute nodes within the resize timeout."}
SAMPLE_EVERY = 30.0  # Batch samples task metrics roughly every 30 s (divided by --time-scale)
MAX_SAMPLES = 2000


class Settler:
    def __init__(self, *, stores: Stores, life: Lifecycle, runtime: Runtime, layout: NodeLayout, runs: Runs,
                 node_ops: NodeOps, timing: Timing | None = None) -> None:
        self.stores = stores
        self.timing = timing or Timing(INSTANT, stores.ctx.time_scale)
        self.life = life
        self.runtime = runtime
        self.layout = layout
        self.runs = runs
        self.node_ops = node_ops
        self._releasing: set[str] = set()
        self._retention: list[tuple[float, str]] = []
        self._retention_lock = threading.Lock()
        self._last_sample: dict[str, float] = {}

    def settle(self) -> None:
        now = self.stores.ctx.clock()
        with self.stores.tx():
            self._jobs(now)
            self._pools(now)
        self._expire(now)

    # --- jobs ------------------------------------------------------------------------------------------
    def _jobs(self, now: float) -> None:
        for job in self.stores.jobs.unsettled():
            state = job["state"]
            if state == JobState.ACTIVE:
                self._active_job(job, now)
            elif state == JobState.TERMINATING:
                self._terminate(job, now)
            elif state == JobState.DELETING:
                if self._releases_first(job):
                    continue
                self._delete_job(job, now)
            elif state == JobState.DISABLING:
                self._disable(job, now)
            elif state == JobState.ENABLING:
                self.stores.jobs.transition(job, JobState.ACTIVE)
                self.stores.jobs.save(job)

    def _delete_job(self, job: JobDoc, now: float) -> None:
        """Its tasks stop at once; the job (shown `deleting`, refusing changes) goes once its time is up."""
        fresh = "_until" not in job
        if fresh:
            self._kill_all(job["id"], update=False)
        if self.timing.due(job, "job_deleting", now):
            self.stores.jobs.purge(job["id"])
            self._remove_job_dirs(job["id"])
        elif fresh:
            self.stores.jobs.save(job, touched=False)

    def _disable(self, job: JobDoc, now: float) -> None:
        how = job.get("_disableTasks", "requeue")
        if how == "wait" and self.runtime.running_in_job(job["id"]):
            return
        for r in self.runtime.of_job(job["id"]):
            (self.life.requeue if how == "requeue" else self.life.end)(r.job_id, r.task_id)
            r.handle.kill()
        fresh = "_until" not in job
        if self.timing.due(job, "job_disabling", now):
            job.pop("_until")
            self.stores.jobs.transition(job, JobState.DISABLED)
            self.stores.jobs.save(job)
        elif fresh:
            self.stores.jobs.save(job, touched=False)

    def _active_job(self, job: JobDoc, now: float) -> None:
        limit = parse_duration(job["constraints"].get("maxWallClockTime"), "maxWallClockTime")
        created = job.get("_created") or now
        if "_created" not in job:
            job["_created"] = now
            self.stores.jobs.save(job, touched=False)
        if limit is not None and now - created > limit:
            self._start_terminate(job, "MaxWallClockTimeExpiry", now)
        elif job.get("onAllTasksComplete") == "terminatejob" and not self.stores.tasks.has_pending(job["id"]):
            self._start_terminate(job, "AllTasksComplete", now)

    def _start_terminate(self, job: JobDoc, reason: str, now: float) -> None:
        self.stores.jobs.transition(job, JobState.TERMINATING)
        job["executionInfo"]["terminateReason"] = reason
        self.stores.jobs.save(job)
        self._terminate(job, now)

    def _terminate(self, job: JobDoc, now: float) -> None:
        if job["id"].lower() in self._releasing:
            return
        self._kill_all(job["id"], update=True)
        nodes = [n for n, s in (job.get("_prep") or {}).items() if s == "done"]
        if not job.get("jobReleaseTask") or not nodes:
            fresh = "_until" not in job
            if self.timing.due(job, "job_terminating", now):
                job.pop("_until")
                self.stores.jobs.complete(job)
            elif fresh:
                self.stores.jobs.save(job, touched=False)
            return
        self._releasing.add(job["id"].lower())
        threading.Thread(target=self._release, args=(job, nodes), daemon=True).start()

    def _releases_first(self, job: JobDoc) -> bool:
        """Deleting a job that had not ended runs its release task first: Batch runs it when "the user calls the
        Delete Job API while the Job is still active" (JobReleaseTask,
        https://learn.microsoft.com/rest/api/batchservice/job/add#jobreleasetask). A completed job's already ran."""
        if job["id"].lower() in self._releasing:
            return True
        nodes = [n for n, s in (job.get("_prep") or {}).items() if s == "done"]
        if not job.get("jobReleaseTask") or not nodes or job.get("_releasedOnDelete") or \
                job.get("previousState") == JobState.COMPLETED:
            return False
        self._kill_all(job["id"], update=False)
        job["_releasedOnDelete"] = True
        self.stores.jobs.save(job, touched=False)
        self._releasing.add(job["id"].lower())
        threading.Thread(target=self._release, args=(job, nodes), daemon=True).start()
        return True

    def _release(self, job: JobDoc, node_ids: list[str]) -> None:
        try:
            pool_id = pool_of(job) or ""
            pool = self.stores.pools.get(pool_id)
            nodes = {n["id"]: n for n in pool["_nodes"]}
            infos = {nid: self.runs.run_special("release", job["jobReleaseTask"], pool, nodes[nid], job,
                                                        "jobrelease") for nid in node_ids if nid in nodes}
            with self.stores.tx():
                fresh = self.stores.jobs.load(job["id"])
                for nid, info in infos.items():
                    fresh.setdefault("_prepInfo", {}).setdefault(nid, {})["jobReleaseTaskExecutionInfo"] = info
                if fresh["state"] == JobState.TERMINATING:
                    self.stores.jobs.complete(fresh)
                else:
                    self.stores.jobs.save(fresh, touched=False)
        finally:
            self._releasing.discard(job["id"].lower())
            self.stores.ctx.wake()

    def _kill_all(self, job_id: str, *, update: bool) -> None:
        for r in self.runtime.of_job(job_id):
            if update:
                self.life.end(r.job_id, r.task_id, 137)
            r.handle.kill()
        if update:  # preparing tasks waiting on a prep lock are ended too
            for doc in self.stores.tasks.in_states(job_id, TaskState.PREPARING, TaskState.RUNNING):
                self.life.end(job_id, doc["id"])

    def _remove_job_dirs(self, job_id: str) -> None:
        root = self.layout.nodes_root
        for path in root.glob(f"*/*/{self.layout.job_rel(job_id)}"):
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(OSError):  # workitems/<job> (or a schedule's folder once its last job went)
                path.parent.rmdir()

    # --- pools -----------------------------------------------------------------------------------------
    def _pools(self, now: float) -> None:
        for pool in self.stores.pools.all():
            if pool["state"] == PoolState.DELETING:
                self._delete_pool(pool, now)
                continue
            changed = False
            if pool.get("enableAutoScale"):
                self._sample(pool, now)
                if now >= pool.get("_nextEval", 0):
                    self.stores.pools.evaluate_and_apply(pool, now)
                    changed = True
            boot = partial(self.node_ops.boot, pool)
            for node in pool["_nodes"]:
                changed = self.node_ops.settle_node(pool, node, now) or changed
                changed = advance_boot(node, self.timing, now, boot) or changed
            if pool["allocationState"] != AllocationState.STEADY or \
                    any(n["state"] == NodeState.LEAVING_POOL for n in pool["_nodes"]):
                changed = self._resize(pool, now) or changed
            if changed:
                self.stores.pools.save(pool)

    def _delete_pool(self, pool: PoolDoc, now: float) -> None:
        """Batch requeues the pool's running tasks, shrinks it to zero, then removes it (Pool - Delete)."""
        fresh = "_until" not in pool
        if fresh:
            for r in self.runtime.on_node(pool["id"]):
                self.life.requeue(r.job_id, r.task_id)
                r.handle.kill()
        if self.timing.due(pool, "pool_deleting", now):
            self.stores.pools.purge(pool["id"])
            self.stores.usage.pool_gone(pool["id"], now)
            shutil.rmtree(self.layout.nodes_root / pool["id"].lower(), ignore_errors=True)
        elif fresh:
            self.stores.pools.save(pool, touched=False)

    def _resize(self, pool: PoolDoc, now: float) -> bool:
        """One pass of a resize: allocate the nodes now due, release the excess; True when the pool changed."""
        rt, option = self.runtime, pool.get("_dealloc", "requeue")
        nodes = pool["_nodes"]
        before = (len(nodes), pool.get("_until"), pool.get("_allocAt"))
        if pool["allocationState"] == AllocationState.STOPPING:
            if not self.timing.due(pool, "pool_stopping", now):
                return before[1] is None
            staying = [n for n in nodes if n["state"] != NodeState.LEAVING_POOL]
            pool["targetDedicatedNodes"] = sum(1 for n in staying if n["isDedicated"])
            pool["targetLowPriorityNodes"] = sum(1 for n in staying if not n["isDedicated"])
        removed: list[NodeDoc] = []
        failed = False
        for dedicated, target in ((True, pool["targetDedicatedNodes"]), (False, pool["targetLowPriorityNodes"])):
            live = [n for n in nodes if n["isDedicated"] == dedicated and n["state"] != NodeState.LEAVING_POOL]
            if len(live) < target and "_failResize" in pool:
                # A failure asked for (BatchState.fail_next_resize): Batch stops allocating, records the
                # error and goes steady short of the target.
                pool["resizeErrors"] = [pool.pop("_failResize")]
                failed = True
            elif len(live) < target and now > pool.get("_allocBy", now):
                pool["resizeErrors"] = [ALLOCATION_TIMED_OUT]  # resizeTimeout passed: Batch gives up, steady
                failed = True
            while not failed and len(live) < target and self._allocation_due(pool, target - len(live), now):
                pool["_nodeSeq"] += 1
                node = new_node(pool["id"], pool["_nodeSeq"], dedicated, now)
                node["state"] = NodeState.CREATING
                self.layout.create(pool["id"], node["id"])
                self.stores.usage.joined(pool["id"], node["id"], pool["vmSize"], now)
                nodes.append(node)
                live.append(node)
                advance_boot(node, self.timing, now, partial(self.node_ops.boot, pool))
            excess = sorted(live, key=lambda n: rt.used(pool["id"], n["id"]))[: max(0, len(live) - target)]
            for node in excess:
                running = rt.on_node(pool["id"], node["id"])
                if running and option in ("taskcompletion", "retaineddata"):
                    node["state"] = NodeState.LEAVING_POOL
                    node["stateTransitionTime"] = iso(now)
                    continue
                for r in running:
                    (self.life.requeue if option == "requeue" else self.life.end)(r.job_id, r.task_id)
                    r.handle.kill()
                removed.append(node)
        for node in nodes:
            if node["state"] == NodeState.LEAVING_POOL and not rt.on_node(pool["id"], node["id"]):
                removed.append(node)
        for node in removed:
            nodes.remove(node)
            self.stores.usage.left(pool["id"], node["id"], now)
            shutil.rmtree(self.layout.root(pool["id"], node["id"]), ignore_errors=True)
        pool["currentDedicatedNodes"] = sum(1 for n in nodes if n["isDedicated"])
        pool["currentLowPriorityNodes"] = sum(1 for n in nodes if not n["isDedicated"])
        reached = (pool["currentDedicatedNodes"], pool["currentLowPriorityNodes"]) == (
            pool["targetDedicatedNodes"], pool["targetLowPriorityNodes"])
        if (reached or failed) and pool["allocationState"] != AllocationState.STEADY:
            pool["allocationState"] = AllocationState.STEADY
            pool["allocationStateTransitionTime"] = iso(now)
            for key in ("_until", "_allocAt", "_allocStep", "_allocBy"):
                cast(dict[str, Any], pool).pop(key, None)
            return True
        return bool(removed) or before != (len(nodes), pool.get("_until"), pool.get("_allocAt"))

    def _allocation_due(self, pool: PoolDoc, missing: int, now: float) -> bool:
        """Whether the next node may be allocated now: a resize spreads the missing nodes evenly over the
        allocation time, so they appear one after another while the pool shows `resizing`."""
        if "_allocAt" not in pool:
            pool["_allocStep"] = self.timing.seconds("pool_allocation") / max(1, missing)
            pool["_allocAt"] = now + pool["_allocStep"]
            timeout = parse_duration(pool.get("resizeTimeout"), "resizeTimeout") or DEFAULT_RESIZE_TIMEOUT
            pool["_allocBy"] = now + timeout / self.stores.ctx.time_scale
        if now < pool["_allocAt"]:
            return False
        pool["_allocAt"] += pool["_allocStep"]
        return True

    # --- metrics and retention ---------------------------------------------------------------------------
    def _sample(self, pool: PoolDoc, now: float) -> None:
        every = SAMPLE_EVERY / self.stores.ctx.time_scale
        if now - self._last_sample.get(pool["id"], 0) < every:
            return
        self._last_sample[pool["id"]] = now
        counts = self.stores.tasks.pending_by_state(pool["id"])
        active = counts.get("active", 0)
        running = counts.get("running", 0) + counts.get("preparing", 0)
        samples = self.stores.ctx.metrics.setdefault(pool["id"], [])
        samples.append({"time": now, "ActiveTasks": active, "RunningTasks": running, "PendingTasks": active + running})
        del samples[:-MAX_SAMPLES]

    def retain(self, seconds: float, task_dir: Path) -> None:
        with self._retention_lock:
            heapq.heappush(self._retention, (time.time() + seconds, str(task_dir)))

    def _expire(self, now: float) -> None:
        with self._retention_lock:
            due = []
            while self._retention and self._retention[0][0] <= now:
                due.append(heapq.heappop(self._retention)[1])
        for path in due:
            shutil.rmtree(path, ignore_errors=True)
