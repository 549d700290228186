"""Moves jobs and pools through Batch's transitional states promptly (so SDK pollers finish), resizes
pools node by node, runs timers (autoscale evaluation, job wall clock, retention) and samples metrics."""

from __future__ import annotations

import heapq
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bigcompute.emulator.db import loads
from bigcompute.emulator.models import JobState
from bigcompute.emulator.nodes import new_node
from bigcompute.emulator.wire import iso, parse_duration

if TYPE_CHECKING:
    from bigcompute.emulator.state import BatchState

SAMPLE_EVERY = 30.0  # Batch samples task metrics roughly every 30 s (divided by --time-scale)
MAX_SAMPLES = 2000
_PENDING = ("active", "preparing", "running")


class Settler:
    def __init__(self, st: BatchState) -> None:
        self.st = st
        self._releasing: set[str] = set()
        self._retention: list[tuple[float, str]] = []
        self._retention_lock = threading.Lock()
        self._last_sample: dict[str, float] = {}

    def settle(self) -> None:
        now = self.st.ctx.clock()
        with self.st.db.tx():
            self._jobs(now)
            self._pools(now)
        self._expire(now)

    # --- jobs ------------------------------------------------------------------------------------------
    def _jobs(self, now: float) -> None:
        conn = self.st.db.conn
        for (text,) in conn.execute("SELECT doc FROM jobs WHERE state NOT IN ('completed', 'disabled')").fetchall():
            job = loads(text)
            state = job["state"]
            if state == JobState.ACTIVE:
                self._active_job(job, now)
            elif state == JobState.TERMINATING:
                self._terminate(job)
            elif state == JobState.DELETING:
                self._kill_all(job["id"], update=False)
                conn.execute("DELETE FROM tasks WHERE job_id=?", (job["id"],))
                conn.execute("DELETE FROM jobs WHERE id=?", (job["id"],))
                self._remove_job_dirs(job["id"])
            elif state == JobState.DISABLING:
                how = job.get("_disableTasks", "requeue")
                if how == "wait" and self.st.runtime.running_in_job(job["id"]):
                    continue
                for r in self.st.runtime.of_job(job["id"]):
                    (self.st.life.requeue if how == "requeue" else self.st.life.end)(r.job_id, r.task_id)
                    r.handle.kill()
                self.st.jobs.transition(job, JobState.DISABLED)
                self.st.jobs.save(job)
            elif state == JobState.ENABLING:
                self.st.jobs.transition(job, JobState.ACTIVE)
                self.st.jobs.save(job)

    def _active_job(self, job: dict[str, Any], now: float) -> None:
        limit = parse_duration(job["constraints"].get("maxWallClockTime"), "maxWallClockTime")
        created = job.get("_created") or now
        if "_created" not in job:
            job["_created"] = now
            self.st.jobs.save(job, touched=False)
        if limit is not None and now - created > limit:
            self._start_terminate(job, "MaxWallClockTimeExpiry")
        elif job.get("onAllTasksComplete") == "terminatejob":
            pending = self.st.db.conn.execute(
                "SELECT 1 FROM tasks WHERE job_id=? AND state IN (?, ?, ?) LIMIT 1", (job["id"], *_PENDING)).fetchone()
            if pending is None:
                self._start_terminate(job, "AllTasksComplete")

    def _start_terminate(self, job: dict[str, Any], reason: str) -> None:
        self.st.jobs.transition(job, JobState.TERMINATING)
        job["executionInfo"]["terminateReason"] = reason
        self.st.jobs.save(job)
        self._terminate(job)

    def _terminate(self, job: dict[str, Any]) -> None:
        if job["id"].lower() in self._releasing:
            return
        self._kill_all(job["id"], update=True)
        nodes = [n for n, s in (job.get("_prep") or {}).items() if s == "done"]
        if not job.get("jobReleaseTask") or not nodes:
            self.st.jobs.complete(job)
            return
        self._releasing.add(job["id"].lower())
        threading.Thread(target=self._release, args=(job, nodes), daemon=True).start()

    def _release(self, job: dict[str, Any], node_ids: list[str]) -> None:
        try:
            pool_id = job["poolInfo"]["poolId"]
            with self.st.db.lock:
                pool = self.st.pools.load(pool_id)
            nodes = {n["id"]: n for n in pool["_nodes"]}
            infos = {nid: self.st.scheduler.run_special("release", job["jobReleaseTask"], pool, nodes[nid], job,
                                                        "jobrelease") for nid in node_ids if nid in nodes}
            with self.st.db.tx():
                fresh = self.st.jobs.load(job["id"])
                for nid, info in infos.items():
                    fresh.setdefault("_prepInfo", {}).setdefault(nid, {})["jobReleaseTaskExecutionInfo"] = info
                if fresh["state"] == JobState.TERMINATING:
                    self.st.jobs.complete(fresh)
                else:
                    self.st.jobs.save(fresh, touched=False)
        finally:
            self._releasing.discard(job["id"].lower())
            self.st.scheduler.wake()

    def _kill_all(self, job_id: str, *, update: bool) -> None:
        for r in self.st.runtime.of_job(job_id):
            if update:
                self.st.life.end(r.job_id, r.task_id, 137)
            r.handle.kill()
        if update:  # preparing tasks waiting on a prep lock are ended too
            for (text,) in self.st.db.conn.execute("SELECT doc FROM tasks WHERE job_id=? AND state IN (?, ?)",
                                                   (job_id, "preparing", "running")).fetchall():
                self.st.life.end(job_id, loads(text)["id"])

    def _remove_job_dirs(self, job_id: str) -> None:
        root = self.st.layout.nodes_root
        for path in root.glob(f"*/*/workitems/{job_id}"):
            shutil.rmtree(path, ignore_errors=True)

    # --- pools -----------------------------------------------------------------------------------------
    def _pools(self, now: float) -> None:
        for pool in self.st.pools.all():
            if pool["state"] == "deleting":
                for r in self.st.runtime.on_node(pool["id"]):
                    self.st.life.requeue(r.job_id, r.task_id)
                    r.handle.kill()
                self.st.db.conn.execute("DELETE FROM pools WHERE id=?", (pool["id"],))
                shutil.rmtree(self.st.layout.nodes_root / pool["id"].lower(), ignore_errors=True)
                continue
            changed = False
            if pool.get("enableAutoScale"):
                self._sample(pool, now)
                if now >= pool.get("_nextEval", 0):
                    self.st.pools.evaluate_and_apply(pool, now)
                    changed = True
            if pool["allocationState"] != "steady" or any(n["state"] == "leavingpool" for n in pool["_nodes"]):
                self._resize(pool, now)
                changed = True
            if changed:
                self.st.pools.save(pool)

    def _resize(self, pool: dict[str, Any], now: float) -> None:
        rt, option = self.st.runtime, pool.get("_dealloc", "requeue")
        nodes: list[dict[str, Any]] = pool["_nodes"]
        if pool["allocationState"] == "stopping":
            pool["targetDedicatedNodes"] = sum(1 for n in nodes if n["isDedicated"] and n["state"] != "leavingpool")
            pool["targetLowPriorityNodes"] = sum(1 for n in nodes if not n["isDedicated"] and n["state"] != "leavingpool")
        for dedicated, target in ((True, pool["targetDedicatedNodes"]), (False, pool["targetLowPriorityNodes"])):
            live = [n for n in nodes if n["isDedicated"] == dedicated and n["state"] != "leavingpool"]
            while len(live) < target:
                pool["_nodeSeq"] += 1
                node = new_node(pool["id"], pool["_nodeSeq"], dedicated, now)
                self.st.layout.create(pool["id"], node["id"])
                nodes.append(node)
                live.append(node)
                self._start_task(pool, node)
            excess = sorted(live, key=lambda n: rt.used(pool["id"], n["id"]))[: max(0, len(live) - target)]
            for node in excess:
                running = rt.on_node(pool["id"], node["id"])
                if running and option in ("taskcompletion", "retaineddata"):
                    node["state"] = "leavingpool"
                    node["stateTransitionTime"] = iso(now)
                    continue
                for r in running:
                    (self.st.life.requeue if option == "requeue" else self.st.life.end)(r.job_id, r.task_id)
                    r.handle.kill()
                node["state"] = "removed"
        for node in nodes:
            if node["state"] == "leavingpool" and not rt.on_node(pool["id"], node["id"]):
                node["state"] = "removed"
        for node in [n for n in nodes if n["state"] == "removed"]:
            nodes.remove(node)
            shutil.rmtree(self.st.layout.root(pool["id"], node["id"]), ignore_errors=True)
        pool["currentDedicatedNodes"] = sum(1 for n in nodes if n["isDedicated"])
        pool["currentLowPriorityNodes"] = sum(1 for n in nodes if not n["isDedicated"])
        if (pool["currentDedicatedNodes"], pool["currentLowPriorityNodes"]) == (
                pool["targetDedicatedNodes"], pool["targetLowPriorityNodes"]) and pool["allocationState"] != "steady":
            pool["allocationState"] = "steady"
            pool["allocationStateTransitionTime"] = iso(now)

    def _start_task(self, pool: dict[str, Any], node: dict[str, Any]) -> None:
        spec = pool.get("startTask")
        if not spec:
            return
        wait = spec.get("waitForSuccess", True)
        if wait:
            node["state"] = "starting"
        threading.Thread(target=self._run_start, args=(pool, node, spec, wait), daemon=True).start()

    def _run_start(self, pool: dict[str, Any], node: dict[str, Any], spec: dict[str, Any], wait: bool) -> None:
        info = self.st.scheduler.run_special("start", spec, pool, node, None, "startup")
        with self.st.db.tx():
            try:
                fresh = self.st.pools.load(pool["id"])
            except Exception:
                return
            for n in fresh["_nodes"]:
                if n["id"] == node["id"]:
                    n["startTaskInfo"] = info
                    if wait and n["state"] == "starting":
                        n["state"] = "idle" if info["result"] == "success" else "starttaskfailed"
            self.st.pools.save(fresh, touched=False)
        self.st.scheduler.wake()

    # --- metrics and retention ---------------------------------------------------------------------------
    def _sample(self, pool: dict[str, Any], now: float) -> None:
        every = SAMPLE_EVERY / self.st.ctx.time_scale
        if now - self._last_sample.get(pool["id"], 0) < every:
            return
        self._last_sample[pool["id"]] = now
        counts = dict(self.st.db.conn.execute(
            "SELECT t.state, COUNT(*) FROM tasks t JOIN jobs j ON j.id=t.job_id WHERE j.pool_id=? COLLATE NOCASE "
            "AND j.state='active' AND t.state IN (?, ?, ?) GROUP BY t.state", (pool["id"], *_PENDING)).fetchall())
        active = counts.get("active", 0)
        running = counts.get("running", 0) + counts.get("preparing", 0)
        samples = self.st.ctx.metrics.setdefault(pool["id"], [])
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
