"""Moves jobs and pools through Batch's transitional states promptly (so SDK pollers finish), resizes
pools node by node, runs timers (autoscale evaluation, job wall clock, retention) and samples metrics."""

from __future__ import annotations

import contextlib
import heapq
import shutil
import threading
import time
from pathlib import Path

from bigcompute.emulator.compute.lifecycle import Lifecycle
from bigcompute.emulator.compute.node_ops import NodeOps
from bigcompute.emulator.compute.nodes import NodeLayout, new_node
from bigcompute.emulator.compute.runs import Runs
from bigcompute.emulator.compute.runtime import Runtime
from bigcompute.emulator.core.formats import iso, parse_duration
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

SAMPLE_EVERY = 30.0  # Batch samples task metrics roughly every 30 s (divided by --time-scale)
MAX_SAMPLES = 2000


class Settler:
    def __init__(self, *, stores: Stores, life: Lifecycle, runtime: Runtime, layout: NodeLayout, runs: Runs,
                 node_ops: NodeOps) -> None:
        self.stores = stores
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
                self._terminate(job)
            elif state == JobState.DELETING:
                self._kill_all(job["id"], update=False)
                self.stores.jobs.purge(job["id"])
                self._remove_job_dirs(job["id"])
            elif state == JobState.DISABLING:
                how = job.get("_disableTasks", "requeue")
                if how == "wait" and self.runtime.running_in_job(job["id"]):
                    continue
                for r in self.runtime.of_job(job["id"]):
                    (self.life.requeue if how == "requeue" else self.life.end)(r.job_id, r.task_id)
                    r.handle.kill()
                self.stores.jobs.transition(job, JobState.DISABLED)
                self.stores.jobs.save(job)
            elif state == JobState.ENABLING:
                self.stores.jobs.transition(job, JobState.ACTIVE)
                self.stores.jobs.save(job)

    def _active_job(self, job: JobDoc, now: float) -> None:
        limit = parse_duration(job["constraints"].get("maxWallClockTime"), "maxWallClockTime")
        created = job.get("_created") or now
        if "_created" not in job:
            job["_created"] = now
            self.stores.jobs.save(job, touched=False)
        if limit is not None and now - created > limit:
            self._start_terminate(job, "MaxWallClockTimeExpiry")
        elif job.get("onAllTasksComplete") == "terminatejob" and not self.stores.tasks.has_pending(job["id"]):
            self._start_terminate(job, "AllTasksComplete")

    def _start_terminate(self, job: JobDoc, reason: str) -> None:
        self.stores.jobs.transition(job, JobState.TERMINATING)
        job["executionInfo"]["terminateReason"] = reason
        self.stores.jobs.save(job)
        self._terminate(job)

    def _terminate(self, job: JobDoc) -> None:
        if job["id"].lower() in self._releasing:
            return
        self._kill_all(job["id"], update=True)
        nodes = [n for n, s in (job.get("_prep") or {}).items() if s == "done"]
        if not job.get("jobReleaseTask") or not nodes:
            self.stores.jobs.complete(job)
            return
        self._releasing.add(job["id"].lower())
        threading.Thread(target=self._release, args=(job, nodes), daemon=True).start()

    def _release(self, job: JobDoc, node_ids: list[str]) -> None:
        try:
            pool_id = job["poolInfo"]["poolId"]
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
                for r in self.runtime.on_node(pool["id"]):
                    self.life.requeue(r.job_id, r.task_id)
                    r.handle.kill()
                self.stores.pools.purge(pool["id"])
                shutil.rmtree(self.layout.nodes_root / pool["id"].lower(), ignore_errors=True)
                continue
            changed = False
            if pool.get("enableAutoScale"):
                self._sample(pool, now)
                if now >= pool.get("_nextEval", 0):
                    self.stores.pools.evaluate_and_apply(pool, now)
                    changed = True
            for node in pool["_nodes"]:
                changed = self.node_ops.settle_node(pool, node, now) or changed
            if pool["allocationState"] != AllocationState.STEADY or \
                    any(n["state"] == NodeState.LEAVING_POOL for n in pool["_nodes"]):
                self._resize(pool, now)
                changed = True
            if changed:
                self.stores.pools.save(pool)

    def _resize(self, pool: PoolDoc, now: float) -> None:
        rt, option = self.runtime, pool.get("_dealloc", "requeue")
        nodes = pool["_nodes"]
        if pool["allocationState"] == AllocationState.STOPPING:
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
            while not failed and len(live) < target:
                pool["_nodeSeq"] += 1
                node = new_node(pool["id"], pool["_nodeSeq"], dedicated, now)
                self.layout.create(pool["id"], node["id"])
                nodes.append(node)
                live.append(node)
                self.node_ops.boot(pool, node)
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
            shutil.rmtree(self.layout.root(pool["id"], node["id"]), ignore_errors=True)
        pool["currentDedicatedNodes"] = sum(1 for n in nodes if n["isDedicated"])
        pool["currentLowPriorityNodes"] = sum(1 for n in nodes if not n["isDedicated"])
        reached = (pool["currentDedicatedNodes"], pool["currentLowPriorityNodes"]) == (
            pool["targetDedicatedNodes"], pool["targetLowPriorityNodes"])
        if (reached or failed) and pool["allocationState"] != AllocationState.STEADY:
            pool["allocationState"] = AllocationState.STEADY
            pool["allocationStateTransitionTime"] = iso(now)

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
