"""The dispatcher: one thread that settles transitional states and assigns active tasks to free node slots;
each attempt then runs on its own worker thread through the injected executor."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from bigcompute.emulator.db import loads
from bigcompute.emulator.executor import ExecResult, RunHandle, TaskRun
from bigcompute.emulator.isolation import elevated
from bigcompute.emulator.nodes import task_env
from bigcompute.emulator.runtime import Running
from bigcompute.emulator.wire import parse_duration

if TYPE_CHECKING:
    from bigcompute.emulator.state import BatchState

log = logging.getLogger("bigcompute.emulator")
TICK = 0.1  # settling and timers (autoscale, wall clock, retention) run at least this often
USABLE = ("idle", "running")
Launch = tuple[Running, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], bool]


class Scheduler:
    def __init__(self, st: BatchState) -> None:
        self.st = st
        self._cond = threading.Condition()
        self._dirty = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._prep_locks: dict[tuple[str, str], threading.Lock] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="emulator-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread:
            self._thread.join(timeout=5)
        for r in list(self.st.runtime.tasks.values()):
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
                self.st.settler.settle()
                with self.st.db.tx():
                    launches = self.dispatch()
                for launch in launches:
                    self._thread_for(launch)
            except Exception:
                log.exception("scheduler pass failed")

    # --- dispatch ----------------------------------------------------------------------------------
    def dispatch(self) -> list[Launch]:
        """Claim active tasks for free slots; the caller runs the returned launches (outside the lock)."""
        launches: list[Launch] = []
        conn, rt = self.st.db.conn, self.st.runtime
        view = self.st.db.view  # pools and jobs are only read here: shared parsed docs
        for pool in self.st.pools.views():
            if pool["state"] != "active":
                continue
            spt = pool["taskSlotsPerNode"]
            nodes = {n["id"]: n for n in pool["_nodes"] if n["state"] in USABLE}
            free = {nid: spt - rt.used(pool["id"], nid) for nid in nodes}
            total = sum(max(0, f) for f in free.values())
            if total <= 0:
                continue
            pack = (pool.get("taskSchedulingPolicy") or {}).get("nodeFillType") == "pack"
            jobs = conn.execute("SELECT doc FROM jobs WHERE pool_id=? COLLATE NOCASE AND state='active' "
                                "ORDER BY priority DESC, rowid", (pool["id"],)).fetchall()
            for (jtext,) in jobs:
                job = view(jtext)
                cap = total
                if job.get("maxParallelTasks", -1) >= 0:
                    cap = min(cap, job["maxParallelTasks"] - rt.running_in_job(job["id"]))
                if cap <= 0:
                    continue
                rows = conn.execute("SELECT doc FROM tasks WHERE job_id=? AND state='active' AND waiting=0 "
                                    "ORDER BY seq LIMIT ?", (job["id"], cap)).fetchall()
                excluded = set(job.get("_prepFailed") or [])
                for (text,) in rows:
                    doc = loads(text)
                    need = doc.get("requiredSlots", 1)
                    fits = [nid for nid, f in free.items() if f >= need and nid not in excluded]
                    if not fits:
                        continue
                    nid = (min if pack else max)(fits, key=lambda x: free[x])
                    launches.append(self._claim(pool, nodes[nid], job, doc))
                    free[nid] -= need
                    total -= need
                    if total <= 0:
                        break
                if total <= 0:
                    break
        return launches

    def _claim(self, pool: dict[str, Any], node: dict[str, Any], job: dict[str, Any], doc: dict[str, Any]) -> Launch:
        preparing = bool(job.get("jobPreparationTask")) and (job.get("_prep") or {}).get(node["id"]) != "done"
        rel = self.st.layout.task_rel(job["id"], doc["id"])
        attempt, text = self.st.life.claim(job["id"], doc, pool["id"], node, rel, preparing)
        r = Running(job["id"], doc["id"], pool["id"], node["id"], doc.get("requiredSlots", 1), attempt, claimed=text)
        self.st.runtime.add(r)
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

    def _work(self, r: Running, pool: dict[str, Any], node: dict[str, Any], job: dict[str, Any],
              doc: dict[str, Any], preparing: bool) -> list[Launch]:
        """One attempt. Its result and the freed slot's next claim are one transaction (one commit per task
        rather than two); the next launches start after that commit, as from the dispatcher."""
        final: dict[str, Any] | None = None
        run: TaskRun | None = None
        try:
            if preparing:
                ok = self._ensure_prep(pool, node, job["id"])
                with self.st.db.tx():
                    if not ok:
                        self.st.life.requeue(r.job_id, r.task_id)
                        return self._refill(r)
                    if not self.st.life.started(r.job_id, r.task_id, r.attempt):
                        return self._refill(r)
            run = self.task_run(pool, node, job, doc)
            result = self.st.executor.run(run, r.handle)
            with self.st.db.tx():
                final = self.st.life.finish(r.job_id, r.task_id, r.attempt, result, (r.claimed, doc))
                return self._refill(r)
        except Exception:
            log.exception("task %s/%s failed in the emulator", r.job_id, r.task_id)
            with self.st.db.tx():
                self.st.life.finish(r.job_id, r.task_id, r.attempt, ExecResult(None, {
                    "category": "servererror", "code": "EmulatorError",
                    "message": "The local emulator could not run the task; see its log."}, "preprocessing"))
                return self._refill(r)
        finally:
            self.st.runtime.remove(r)
            if final is not None and run is not None:
                keep = parse_duration(final["constraints"].get("retentionTime"), "retentionTime")
                if keep is not None:
                    self.st.settler.retain(keep, run.task_dir)

    def _refill(self, done: Running) -> list[Launch]:
        """Free `done`'s slot and claim the next task(s) for it, inside the caller's transaction: no hop
        through the dispatcher thread. Settling (job completion checks) follows on the dispatcher's next tick."""
        self.st.runtime.remove(done)
        if self._stopping:
            return []
        try:
            with self.st.db.savepoint():  # a failed dispatch must not undo the result just recorded
                return self.dispatch()
        except Exception:
            log.exception("dispatch after task completion failed")
            self.wake()
            return []

    def task_run(self, pool: dict[str, Any], node: dict[str, Any], job: dict[str, Any],
                 doc: dict[str, Any]) -> TaskRun:
        layout = self.st.layout
        task_dir = layout.task_dir(pool["id"], node["id"], job["id"], doc["id"])
        prep_dir = layout.task_dir(pool["id"], node["id"], job["id"], "jobpreparation") \
            if job.get("jobPreparationTask") else None
        settings = (job.get("commonEnvironmentSettings") or []) + (doc.get("environmentSettings") or [])
        env = self._env(pool, node, task_dir, job["id"], doc["id"], prep_dir, settings,
                        doc.get("applicationPackageReferences") or [])
        return TaskRun("task", doc["commandLine"], task_dir, env,
                       parse_duration(doc["constraints"].get("maxWallClockTime"), "maxWallClockTime"),
                       doc.get("resourceFiles") or [], doc.get("outputFiles") or [], elevated(doc.get("userIdentity")))

    def _env(self, pool: dict[str, Any], node: dict[str, Any], task_dir: Any, job_id: str | None,
             task_id: str | None, prep_dir: Any, settings: list[dict[str, str]], packages: list[Any]) -> dict[str, str]:
        return task_env(account=self.st.account, account_url=self.st.ctx.base_url, pool_id=pool["id"], node=node,
                        node_root=self.st.layout.root(pool["id"], node["id"]), task_dir=task_dir, job_id=job_id,
                        task_id=task_id, prep_dir=prep_dir, settings=settings,
                        packages=(pool.get("applicationPackageReferences") or []) + packages)

    # --- job preparation, release and start tasks --------------------------------------------------
    def run_special(self, kind: str, spec: dict[str, Any], pool: dict[str, Any], node: dict[str, Any],
                    job: dict[str, Any] | None, dirname: str) -> dict[str, Any]:
        """Run a start/prep/release task with its retries; returns Batch's execution info for it."""
        from bigcompute.emulator.wire import iso

        layout = self.st.layout
        if job is None:
            task_dir = layout.root(pool["id"], node["id"]) / "startup"
        else:
            task_dir = layout.task_dir(pool["id"], node["id"], job["id"], dirname)
        settings = ((job or {}).get("commonEnvironmentSettings") or []) + (spec.get("environmentSettings") or [])
        env = self._env(pool, node, task_dir, job["id"] if job else None, dirname if job else None, None, settings,
                        spec.get("applicationPackageReferences") or [])
        constraints = spec.get("constraints") or {}
        wall = parse_duration(constraints.get("maxWallClockTime"), "maxWallClockTime")
        if wall is None and kind == "release":
            wall = 900.0  # Batch caps release tasks at 15 minutes
        tries = spec.get("maxTaskRetryCount", constraints.get("maxTaskRetryCount", 0))
        info: dict[str, Any] = {"startTime": iso(self.st.ctx.clock()), "retryCount": 0, "state": "running"}
        while True:
            res = self.st.executor.run(TaskRun(kind, spec["commandLine"], task_dir, env, wall,
                                               spec.get("resourceFiles") or [],
                                               elevated=elevated(spec.get("userIdentity"))), RunHandle())
            ok = res.phase == "exit" and res.exit_code == 0
            if ok or res.phase != "exit" or (tries != -1 and info["retryCount"] >= tries):
                break
            info["retryCount"] += 1
        info.update(state="completed", endTime=iso(self.st.ctx.clock()), result="success" if ok else "failure",
                    taskRootDirectory=str(task_dir.relative_to(layout.root(pool["id"], node["id"]))))
        if res.exit_code is not None:
            info["exitCode"] = res.exit_code
        if not ok:
            info["failureInfo"] = res.failure or {"category": "usererror", "code": "FailureExitCode",
                                                  "message": "The task exited with an exit code representing a failure"}
        return info

    def _ensure_prep(self, pool: dict[str, Any], node: dict[str, Any], job_id: str) -> bool:
        lock = self._prep_locks.setdefault((job_id.lower(), node["id"]), threading.Lock())
        with lock:
            with self.st.db.lock:
                job = self.st.jobs.load(job_id)
            state = (job.get("_prep") or {}).get(node["id"])
            if state in ("done", "failed"):
                return state == "done"
            spec = job["jobPreparationTask"]
            info = self.run_special("prep", spec, pool, node, job, "jobpreparation")
            ok = info["result"] == "success" or not spec.get("waitForSuccess", True)
            with self.st.db.tx():
                job = self.st.jobs.load(job_id)
                job.setdefault("_prep", {})[node["id"]] = "done" if ok else "failed"
                job.setdefault("_prepInfo", {})[node["id"]] = {"poolId": pool["id"], "nodeId": node["id"],
                                                               "jobPreparationTaskExecutionInfo": info}
                if not ok:
                    job.setdefault("_prepFailed", []).append(node["id"])
                self.st.jobs.save(job, touched=False)
            return ok
