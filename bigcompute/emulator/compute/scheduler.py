"""The dispatcher: one thread that settles transitional states and assigns active tasks to free node slots;
each attempt then runs on its own worker thread through the injected executor."""

from __future__ import annotations

import logging
import threading

from bigcompute.emulator.compute.executor import ExecResult, TaskRun
from bigcompute.emulator.compute.lifecycle import Lifecycle
from bigcompute.emulator.compute.multi_instance import MultiInstance
from bigcompute.emulator.compute.nodes import NodeLayout
from bigcompute.emulator.compute.packages import PackageError
from bigcompute.emulator.compute.runs import Runs
from bigcompute.emulator.compute.runtime import Running, Runtime
from bigcompute.emulator.compute.settle import Settler
from bigcompute.emulator.core.formats import parse_duration
from bigcompute.emulator.state.models import USABLE_NODE_STATES, JobDoc, NodeDoc, PoolDoc, PoolState, TaskDoc
from bigcompute.emulator.state.multi_instance import instances
from bigcompute.emulator.state.stores import Stores

log = logging.getLogger("bigcompute.emulator")
TICK = 0.1  # settling and timers (autoscale, wall clock, retention) run at least this often
Launch = tuple[Running, PoolDoc, NodeDoc, JobDoc, TaskDoc, bool]


class Scheduler:
    def __init__(self, *, stores: Stores, life: Lifecycle, runtime: Runtime, layout: NodeLayout, runs: Runs,
                 settler: Settler) -> None:
        self.stores = stores
        self.life = life
        self.runtime = runtime
        self.layout = layout
        self.runs = runs
        self.settler = settler
        self._cond = threading.Condition()
        self._dirty = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._prep_locks: dict[tuple[str, str], threading.Lock] = {}
        self.multi = MultiInstance(stores=stores, runs=runs)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="emulator-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread:
            self._thread.join(timeout=5)
        for r in list(self.runtime.tasks.values()):
            r.handle.kill()

    def wake(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._dirty:
                    self._cond.wait(TICK)
                if self._stopping:
                    return
                self._dirty = False
            try:
                self.settler.settle()
                with self.stores.tx():
                    launches = self.dispatch()
                for launch in launches:
                    self._thread_for(launch)
            except Exception:
                log.exception("scheduler pass failed")

    # --- dispatch ----------------------------------------------------------------------------------
    def dispatch(self) -> list[Launch]:
        """Claim active tasks for free slots; the caller runs the returned launches (outside the lock)."""
        launches: list[Launch] = []
        rt, stores = self.runtime, self.stores
        for pool in stores.pools.views():  # pools and jobs are only read here: shared parsed docs
            if pool["state"] != PoolState.ACTIVE:
                continue
            spt = pool["taskSlotsPerNode"]
            nodes = {n["id"]: n for n in pool["_nodes"] if n["state"] in USABLE_NODE_STATES
                     and n["schedulingState"] == "enabled" and "_pending" not in n}
            free = {nid: spt - rt.used(pool["id"], nid) for nid in nodes}
            total = sum(max(0, f) for f in free.values())
            if total <= 0:
                continue
            pack = (pool.get("taskSchedulingPolicy") or {}).get("nodeFillType") == "pack"
            for job in stores.jobs.active_views(pool["id"]):
                cap = total
                if job.get("maxParallelTasks", -1) >= 0:
                    cap = min(cap, job["maxParallelTasks"] - rt.running_in_job(job["id"]))
                if cap <= 0:
                    continue
                excluded = set(job.get("_prepFailed") or [])
                # A job manager task that cannot start yet (kept off spot nodes, or waiting for a whole node) must
                # not hold back the tasks queued after it: look one task further, still starting at most `cap`.
                extra = 1 if job.get("jobManagerTask") else 0
                for doc in stores.tasks.runnable(job["id"], cap + extra, spt):
                    if cap <= 0:
                        break
                    # runExclusive: a job manager task takes the whole node while it runs.
                    need = spt if doc.get("_exclusive") else doc.get("requiredSlots", 1)
                    width = instances(doc)
                    fits = [nid for nid, f in free.items() if f >= need and nid not in excluded
                            and (nodes[nid]["isDedicated"] or not doc.get("_dedicatedOnly"))]
                    if len(fits) < width or not fits:
                        continue  # a multi-instance task waits for `width` nodes free at once
                    fits.sort(key=lambda x: free[x], reverse=not pack)
                    chosen = fits[:width]
                    launches.append(self._claim(pool, nodes[chosen[0]], job, doc, need, tuple(chosen[1:])))
                    cap -= 1
                    for nid in chosen:
                        free[nid] -= need
                    total -= need * width
                    if total <= 0:
                        break
                if total <= 0:
                    break
        return launches

    def _claim(self, pool: PoolDoc, node: NodeDoc, job: JobDoc, doc: TaskDoc, slots: int,
               extra: tuple[str, ...] = ()) -> Launch:
        preparing = bool(job.get("jobPreparationTask")) and (job.get("_prep") or {}).get(node["id"]) != "done"
        rel = self.layout.task_rel(job["id"], doc["id"])
        attempt, text = self.life.claim(job["id"], doc, pool["id"], node, rel, preparing)
        r = Running(job["id"], doc["id"], pool["id"], node["id"], slots, attempt, claimed=text, extra_nodes=extra)
        self.runtime.add(r)
        return (r, pool, node, job, doc, preparing)

    def _thread_for(self, launch: Launch) -> None:
        threading.Thread(target=self._worker, args=(launch,), daemon=True).start()

    def _worker(self, launch: Launch) -> None:
        """Run the attempt, then keep the thread for the next task the freed slot takes: a thread per
        busy slot rather than per task."""
        next_launch: Launch | None = launch
        while next_launch is not None:
            launches = self._work(*next_launch)
            for extra in launches[1:]:
                self._thread_for(extra)
            next_launch = launches[0] if launches else None

    def _work(self, r: Running, pool: PoolDoc, node: NodeDoc, job: JobDoc,
              doc: TaskDoc, preparing: bool) -> list[Launch]:
        """One attempt. Its result and the freed slot's next claim are one transaction (one commit per task
        rather than two); the next launches start after that commit, as from the dispatcher."""
        final: TaskDoc | None = None
        run: TaskRun | None = None
        try:
            if preparing:
                ok = self._ensure_prep(pool, node, job["id"])
                with self.stores.tx():
                    if not ok:
                        self.life.requeue(r.job_id, r.task_id)
                        return self._refill(r)
                    if not self.life.started(r.job_id, r.task_id, r.attempt):
                        return self._refill(r)
            run = self.runs.task_run(pool, node, job, doc)
            if doc.get("multiInstanceSettings"):
                result = self.multi.run(r, pool, job, doc, run, self._prep_for)
            else:
                result = self.runs.executor.run(run, r.handle)
            self.runtime.count_run(r.pool_id, r.node_id, result.phase == "exit" and result.exit_code == 0)
            with self.stores.tx():
                final = self.life.finish(r.job_id, r.task_id, r.attempt, result, (r.claimed, doc))
                return self._refill(r)
        except PackageError as exc:  # a package reference that does not resolve: Batch's pre-processing error
            with self.stores.tx():
                self.life.finish(r.job_id, r.task_id, r.attempt, ExecResult(None, exc.failure, "preprocessing"))
                return self._refill(r)
        except Exception:
            log.exception("task %s/%s failed in the emulator", r.job_id, r.task_id)
            with self.stores.tx():
                self.life.finish(r.job_id, r.task_id, r.attempt, ExecResult(None, {
                    "category": "servererror", "code": "EmulatorError",
                    "message": "The local emulator could not run the task; see its log."}, "preprocessing"))
                return self._refill(r)
        finally:
            self.runtime.remove(r)
            if final is not None and run is not None:
                keep = parse_duration(final["constraints"].get("retentionTime"), "retentionTime")
                if keep is not None:
                    self.settler.retain(keep, run.task_dir)

    def _refill(self, done: Running) -> list[Launch]:
        """Free `done`'s slot and claim the next task(s) for it, inside the caller's transaction: no hop
        through the dispatcher thread. Settling (job completion checks) follows on the dispatcher's next tick."""
        self.runtime.remove(done)
        if self._stopping:
            return []
        try:
            with self.stores.savepoint():  # a failed dispatch must not undo the result just recorded
                return self.dispatch()
        except Exception:
            log.exception("dispatch after task completion failed")
            self.wake()
            return []

    # --- job preparation ------------------------------------------------------------------------------
    def _prep_for(self, pool: PoolDoc, node: NodeDoc, job_id: str) -> bool:
        """A subtask's node: the job preparation task first, as for any task of the job."""
        return not self.stores.jobs.get(job_id).get("jobPreparationTask") or self._ensure_prep(pool, node, job_id)

    def _ensure_prep(self, pool: PoolDoc, node: NodeDoc, job_id: str) -> bool:
        lock = self._prep_locks.setdefault((job_id.lower(), node["id"]), threading.Lock())
        with lock:
            job = self.stores.jobs.get(job_id)
            state = (job.get("_prep") or {}).get(node["id"])
            if state in ("done", "failed"):
                return state == "done"
            spec = job["jobPreparationTask"]
            info = self.runs.run_special("prep", spec, pool, node, job, "jobpreparation")
            ok = info["result"] == "success" or not spec.get("waitForSuccess", True)
            with self.stores.tx():
                job = self.stores.jobs.load(job_id)
                job.setdefault("_prep", {})[node["id"]] = "done" if ok else "failed"
                job.setdefault("_prepInfo", {})[node["id"]] = {
                    "poolId": pool["id"], "nodeId": node["id"], "nodeUrl": self.runs.node_url(pool, node),
                    "jobPreparationTaskExecutionInfo": info}
                if not ok:
                    job.setdefault("_prepFailed", []).append(node["id"])
                self.stores.jobs.save(job, touched=False)
            return ok
