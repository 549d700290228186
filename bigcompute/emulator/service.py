"""BatchState: the service facade the HTTP layer calls. It composes the state layer (the stores) with the
compute layer (node layout, executor, dispatcher, settler), hands each its collaborators explicitly, and
recovers after a restart. Nothing below imports it: the dependencies run wire -> service -> compute -> state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import uuid
from pathlib import Path
from typing import Any, cast

from bigcompute.emulator.compute import files, multi_instance, node_python, storage
from bigcompute.emulator.compute.executor import Executor, InstantExecutor
from bigcompute.emulator.compute.lifecycle import Lifecycle
from bigcompute.emulator.compute.node_ops import NodeOps
from bigcompute.emulator.compute.node_python import NodePython
from bigcompute.emulator.compute.nodes import NodeLayout, task_path
from bigcompute.emulator.compute.packages import Packages
from bigcompute.emulator.compute.recurrence import Recurrence
from bigcompute.emulator.compute.runs import Runs
from bigcompute.emulator.compute.runtime import Runtime
from bigcompute.emulator.compute.scheduler import Scheduler
from bigcompute.emulator.compute.settle import Settler
from bigcompute.emulator.compute.transitions import INSTANT, Durations, Timing
from bigcompute.emulator.core.errors import BatchError, missing_property
from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.core.identities import ManagedIdentities
from bigcompute.emulator.core.tokens import JobTokens
from bigcompute.emulator.state.common import find_node, public
from bigcompute.emulator.state.models import NodeDoc, NodeState, TaskState
from bigcompute.emulator.state.stores import Stores

log = logging.getLogger("bigcompute.emulator")
NODE_AGENT_VERSION = "1.0.0-local"  # nodeAgentInfo.version: the emulator stands for Batch's node agent


class BatchState:
    def __init__(self, *, account: str, data_dir: Path | None = None, executor: Executor | None = None,
                 time_scale: float = 1.0, transitions: Durations = INSTANT) -> None:
        """`transitions`: how long pools, nodes and jobs stay in Batch's transitional states (divided by
        `time_scale`); none by default in process (tests), `python -m bigcompute.emulator` takes Azure's."""
        self.account = account
        # Absolute: the node root is the marker that finds this instance's orphaned task processes after a
        # restart, and a relative one would match every emulator started from any checkout.
        self.data_dir = (Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="bigcompute-emu-"))).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stores = Stores.open(self.data_dir / "state.db", time_scale=time_scale)
        # Its own only: tasks may pass through the data dir to their node folders (isolation.open_to).
        for db_file in self.data_dir.glob("state.db*"):
            db_file.chmod(0o600)
        self.db, self.ctx = self.stores.db, self.stores.ctx
        self.pools, self.jobs, self.tasks = self.stores.pools, self.stores.jobs, self.stores.tasks
        self.life = Lifecycle(self.ctx, self.jobs, self.tasks)
        self.runtime = Runtime()
        self.layout = NodeLayout(self.data_dir / "nodes")
        executor = executor or InstantExecutor()
        self.packages = Packages(self.data_dir / "applications", self.stores.applications)
        self.runs = Runs(account=account, base_url=lambda: self.ctx.base_url, clock=lambda: self.ctx.clock(),
                         layout=self.layout, executor=executor, path=node_path(self.data_dir, executor),
                         packages=self.packages)
        self.node_ops = NodeOps(stores=self.stores, life=self.life, runtime=self.runtime, layout=self.layout,
                                runs=self.runs)
        self.settler = Settler(stores=self.stores, life=self.life, runtime=self.runtime, layout=self.layout,
                               runs=self.runs, node_ops=self.node_ops, timing=Timing(transitions, time_scale))
        self.scheduler = Scheduler(stores=self.stores, life=self.life, runtime=self.runtime, layout=self.layout,
                                   runs=self.runs, settler=self.settler)
        self.stores.set_wake(self.scheduler.wake)
        self.recurrence = Recurrence(self.stores)
        self.job_tokens = JobTokens(account)  # AZ_BATCH_AUTHENTICATION_TOKEN: issued to tasks, verified by the wire
        self.runs.job_token = self.job_tokens.issue
        self.identities = ManagedIdentities(account)  # pool identities' IMDS tokens and the account's role grants
        self.runs.node_key = self.identities.node_key
        self._recover()

    @property
    def executor(self) -> Executor:
        return self.runs.executor

    @executor.setter
    def executor(self, executor: Executor) -> None:
        """Swap how attempts run (tests hold or fail attempts on purpose); the next attempt uses it."""
        self.runs.executor = executor

    def set_base_url(self, url: str) -> None:
        self.ctx.base_url = url.rstrip("/")

    def start(self) -> None:
        self.scheduler.start()
        self.recurrence.start()

    def stop(self) -> None:
        self.recurrence.stop()
        self.scheduler.stop()
        self.stores.close()

    def reset(self) -> None:
        """Forget every resource (tests call this between cases through /_emulator/reset)."""
        for r in list(self.runtime.tasks.values()):
            r.handle.kill()
        self.runtime.ran.clear()
        self.stores.reset()

    # --- restart recovery ------------------------------------------------------------------------------
    def _recover(self) -> None:
        killed = kill_orphans(self.layout.nodes_root)
        with self.stores.tx():
            rows = self.tasks.keys_in_states(TaskState.RUNNING, TaskState.PREPARING)
            for job_id, task_id in rows:
                self.life.requeue(job_id, task_id)
            for pool in self.pools.all():
                for node in pool["_nodes"]:
                    if node["state"] == NodeState.WAITING_FOR_START_TASK:  # its start task died with the service
                        node["state"] = NodeState.IDLE
                    if node.pop("_setup", False):  # its image pulls died with the service: set up again
                        self.node_ops.boot(pool, node)
                self.pools.save(pool, touched=False)
        if rows or killed:
            log.warning("recovered after restart: %d task(s) requeued, %d orphan process group(s) ended",
                        len(rows), killed)

    # --- task operations that also touch running processes ---------------------------------------------
    def terminate_task(self, job_id: str, task_id: str) -> None:
        with self.stores.tx():
            self.tasks.load(job_id, task_id)
            r = self.runtime.get(job_id, task_id)
            self.life.end(job_id, task_id, 137 if r else None)
        if r:
            r.handle.kill()
        self.scheduler.wake()

    def delete_task(self, job_id: str, task_id: str) -> None:
        self.tasks.delete(job_id, task_id)
        r = self.runtime.get(job_id, task_id)
        if r:
            r.handle.kill()
        self.scheduler.wake()

    def reactivate_task(self, job_id: str, task_id: str) -> None:
        with self.stores.tx():
            self.life.reactivate(job_id, task_id)
        self.scheduler.wake()

    def subtasks(self, job_id: str, task_id: str) -> list[dict[str, Any]]:
        return multi_instance.subtasks(self.tasks.get(job_id, task_id))

    def task_dir(self, job_id: str, task_id: str) -> Path | None:
        doc = self.tasks.get(job_id, task_id)
        info = doc.get("nodeInfo")
        if not info:
            return None
        return self.layout.root(info["poolId"], info["nodeId"]) / info["taskRootDirectory"]

    # --- files under a task's folder or a node's root (never outside it) ----------------------------------
    @staticmethod
    def list_files(root: Path | None, recursive: bool) -> list[files.FileInfo]:
        return files.listing(root, recursive)

    @staticmethod
    def file(root: Path | None, path: str) -> files.FileInfo:
        return files.resolve(root, path)

    @staticmethod
    def delete_file(root: Path | None, path: str) -> None:
        files.remove(files.resolve(root, path))

    # --- node files and conditions tests ask for ---------------------------------------------------------
    def node_root(self, pool_id: str, node_id: str) -> Path:
        pool = self.pools.get(pool_id)
        find_node(pool["_nodes"], node_id)
        return self.layout.root(pool["id"], node_id)

    def upload_node_logs(self, pool_id: str, node_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Batch uploads its node agent's logs; a local node's are its start task's stdout and stderr."""
        if not body.get("containerUrl"):
            raise missing_property("containerUrl")
        if not body.get("startTime"):
            raise missing_property("startTime")
        root = self.node_root(pool_id, node_id)
        directory = f"{pool_id}/{node_id}/{uuid.uuid4()}"
        logs = sorted(p for p in (root / "startup").glob("*.txt") if p.is_file())
        try:
            storage.upload_files(body["containerUrl"], directory, logs)
        except Exception as exc:  # Batch's answer when the container cannot be written
            raise BatchError(403, "IOError", f"The logs could not be uploaded to the container: {exc}") from exc
        return {"virtualDirectoryName": directory, "numberOfFilesUploaded": len(logs)}

    def make_unusable(self, pool_id: str, node_id: str, error: dict[str, Any]) -> None:
        """The node turns unusable with `error` (a Batch ComputeNodeError), as when it loses its connection
        to Batch: no task is sent to it any more. For tests of what meets such a node (`bigcompute doctor`)."""
        with self.stores.tx():
            pool = self.pools.load(pool_id)
            node = find_node(pool["_nodes"], node_id)
            node.update({"state": NodeState.UNUSABLE, "stateTransitionTime": iso(self.ctx.clock()), "errors": [error]})
            self.pools.save(pool)

    def fail_next_resize(self, pool_id: str, error: dict[str, Any]) -> None:
        """The pool's next growth allocates nothing and ends steady with `error` in resizeErrors (a quota or
        capacity failure on Azure). Once: the resize after it allocates."""
        with self.stores.tx():
            pool = self.pools.load(pool_id)
            pool["_failResize"] = error
            self.pools.save(pool, touched=False)
        self.scheduler.wake()

    def nodes_view(self, pool_id: str) -> list[NodeDoc]:
        pool = self.pools.get(pool_id)
        image = (pool.get("virtualMachineConfiguration") or {}).get("imageReference") or {}
        out = []
        for node in pool["_nodes"]:
            used = self.runtime.used(pool["id"], node["id"])
            running = self.runtime.on_node(pool["id"], node["id"])
            view = cast(NodeDoc, public(node))
            if node["state"] == NodeState.IDLE and running:
                view["state"] = NodeState.RUNNING
            view.update({"url": f"{self.ctx.base_url}/pools/{pool['id']}/nodes/{node['id']}", "vmSize": pool["vmSize"],
                         "runningTasksCount": len(running), "runningTaskSlotsCount": used,
                         # What Batch reports of the VM and its agent; a local node has no inbound endpoints.
                         "virtualMachineInfo": {"imageReference": image},
                         "nodeAgentInfo": {"version": NODE_AGENT_VERSION, "lastUpdateTime": node["allocationTime"]},
                         "endpointConfiguration": {"inboundEndpoints": []}})
            ran, succeeded = self.runtime.runs_on(pool["id"], node["id"])
            view["totalTasksRun"] = node.get("totalTasksRun", 0) + ran
            view["totalTasksSucceeded"] = node.get("totalTasksSucceeded", 0) + succeeded
            view.update(_pool_given(pool))
            out.append(view)
        return out


def _pool_given(pool: Any) -> NodeDoc:
    """What a node shows of its pool's settings: the start task it ran, and an IPv6 address (this machine's
    loopback) when the pool asked for dual-stack addresses."""
    given: NodeDoc = {}
    if pool.get("startTask"):
        given["startTask"] = pool["startTask"]
    families = (((pool.get("networkConfiguration") or {}).get("publicIPAddressConfiguration") or {})
                .get("ipFamilies") or [])
    if any(str(f).lower() == "ipv6" for f in families):
        given["ipv6Address"] = "::1"
    return given


def node_path(data_dir: Path, executor: Executor) -> str:
    """Tasks' PATH. An executor that runs processes gets the node's Python with its packages (built once per
    data dir); one that runs none needs no interpreter."""
    packages = getattr(executor, "node_packages", None)
    if packages is None:
        return task_path()
    return NodePython(node_python.root(data_dir), packages).ensure().path()


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
