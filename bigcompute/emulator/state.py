"""BatchState: the store the handlers call. Composes the per-resource stores, the task lifecycle, the
scheduler and the node layout, and recovers after a restart."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

from bigcompute.emulator.common import Ctx
from bigcompute.emulator.db import Database
from bigcompute.emulator.executor import Executor, InstantExecutor
from bigcompute.emulator.jobs import JobStore
from bigcompute.emulator.lifecycle import Lifecycle
from bigcompute.emulator.models import TaskState
from bigcompute.emulator.nodes import NodeLayout
from bigcompute.emulator.pools import PoolStore
from bigcompute.emulator.runtime import Runtime
from bigcompute.emulator.scheduler import Scheduler
from bigcompute.emulator.settle import Settler
from bigcompute.emulator.tasks import TaskStore

log = logging.getLogger("bigcompute.emulator")


class BatchState:
    def __init__(self, *, account: str, data_dir: Path | None = None, executor: Executor | None = None,
                 time_scale: float = 1.0) -> None:
        self.account = account
        # Absolute: the node root is the marker that finds this instance's orphaned task processes after a
        # restart, and a relative one would match every emulator started from any checkout.
        self.data_dir = (Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="bigcompute-emu-"))).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.data_dir / "state.db")
        # Its own only: tasks may pass through the data dir to their node folders (isolation.open_to).
        for db_file in self.data_dir.glob("state.db*"):
            db_file.chmod(0o600)
        self.executor: Executor = executor or InstantExecutor()
        self.ctx = Ctx(self.db, time_scale=time_scale)
        self.pools = PoolStore(self.ctx)
        self.jobs = JobStore(self.ctx)
        self.tasks = TaskStore(self.ctx, self.jobs)
        self.life = Lifecycle(self.ctx, self.jobs, self.tasks)
        self.runtime = Runtime()
        self.layout = NodeLayout(self.data_dir / "nodes")
        self.scheduler = Scheduler(self)
        self.settler = Settler(self)
        self.ctx.wake = self.scheduler.wake
        self._recover()

    def set_base_url(self, url: str) -> None:
        self.ctx.base_url = url.rstrip("/")

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.db.close()

    def reset(self) -> None:
        """Forget every resource (tests call this between cases through /_emulator/reset)."""
        for r in list(self.runtime.tasks.values()):
            r.handle.kill()
        self.db.reset()
        self.ctx.metrics.clear()

    # --- restart recovery ------------------------------------------------------------------------------
    def _recover(self) -> None:
        killed = kill_orphans(self.layout.nodes_root)
        with self.db.tx() as c:
            rows = c.execute("SELECT job_id, id FROM tasks WHERE state IN (?, ?)",
                             (TaskState.RUNNING, TaskState.PREPARING)).fetchall()
            for job_id, task_id in rows:
                self.life.requeue(job_id, task_id)
            for pool in self.pools.all():
                for node in pool["_nodes"]:
                    if node["state"] == "starting":  # its start task died with the service
                        node["state"] = "idle"
                self.pools.save(pool, touched=False)
        if rows or killed:
            log.warning("recovered after restart: %d task(s) requeued, %d orphan process group(s) ended",
                        len(rows), killed)

    # --- task operations that also touch running processes ---------------------------------------------
    def terminate_task(self, job_id: str, task_id: str) -> None:
        with self.db.tx():
            self.tasks.load(job_id, task_id)
            r = self.runtime.get(job_id, task_id)
            self.life.end(job_id, task_id, 137 if r else None)
        if r:
            r.handle.kill()
        self.scheduler.wake()

    def delete_task(self, job_id: str, task_id: str) -> None:
        with self.db.tx() as c:
            self.tasks.load(job_id, task_id)
            c.execute("DELETE FROM tasks WHERE job_id=? AND id=?", (job_id, task_id))
        r = self.runtime.get(job_id, task_id)
        if r:
            r.handle.kill()
        self.scheduler.wake()

    def reactivate_task(self, job_id: str, task_id: str) -> None:
        with self.db.tx():
            self.life.reactivate(job_id, task_id)
        self.scheduler.wake()

    def task_dir(self, job_id: str, task_id: str) -> Path | None:
        with self.db.lock:
            doc = self.tasks.load(job_id, task_id)
        info = doc.get("nodeInfo")
        if not info:
            return None
        return self.layout.root(info["poolId"], info["nodeId"]) / info["taskRootDirectory"]

    def nodes_view(self, pool_id: str) -> list[dict[str, Any]]:
        with self.db.lock:
            pool = self.pools.load(pool_id)
        out = []
        for node in pool["_nodes"]:
            used = self.runtime.used(pool["id"], node["id"])
            running = self.runtime.on_node(pool["id"], node["id"])
            view = {k: v for k, v in node.items() if not k.startswith("_")}
            if node["state"] == "idle" and running:
                view["state"] = "running"
            view.update(url=f"{self.ctx.base_url}/pools/{pool['id']}/nodes/{node['id']}", vmSize=pool["vmSize"],
                        runningTasksCount=len(running), runningTaskSlotsCount=used)
            out.append(view)
        return out


def kill_orphans(nodes_root: Path) -> int:
    """End process groups left by a previous service process: they carry our node root in their env."""
    marker = f"AZ_BATCH_NODE_ROOT_DIR={nodes_root}/".encode()
    groups: set[int] = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes():
                groups.add(os.getpgid(int(proc.name)))
        except (OSError, ValueError):
            continue
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    return len(groups)
