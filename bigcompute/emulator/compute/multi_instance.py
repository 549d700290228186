"""A multi-instance (MPI) task across its local nodes, as Batch runs one
(https://learn.microsoft.com/azure/batch/batch-mpi):

1. the primary (instance 0) runs on the first node the dispatcher gave it, one subtask on each other node;
2. every instance downloads the common resource files into its task folder (AZ_BATCH_TASK_SHARED_DIR) and
   runs the coordination command; background processes it leaves keep running;
3. only once the coordination command succeeded on every instance does the primary run the task's command
   line (the application command), with its own resource files and output files;
4. when the primary exits, the subtasks end; the primary's exit code is the task's. A failed coordination
   command fails the whole task (retried up to its retry limit, as Batch does).

Every instance sees the multi-instance variables of the node environment reference: AZ_BATCH_HOST_LIST (ip,ip),
AZ_BATCH_NODE_LIST (ip;ip), AZ_BATCH_MASTER_NODE (ip:port), AZ_BATCH_IS_CURRENT_NODE_MASTER, CCP_NODES and
AZ_BATCH_TASK_SHARED_DIR. Local nodes are all 127.0.0.1 and share one file system, so each node's task folder
has its own absolute path where Batch gives every node the same one; commands reading the variable work alike.
Subtasks (ids 1..n-1) are kept on the task as BatchSubtask records for GET …/subtasksinfo.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import replace
from typing import Any

from bigcompute.emulator.compute import storage
from bigcompute.emulator.compute.executor import ExecResult, RunHandle, TaskRun
from bigcompute.emulator.compute.runs import Runs
from bigcompute.emulator.compute.runtime import Running
from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.common import public
from bigcompute.emulator.state.models import JobDoc, NodeDoc, PoolDoc, TaskDoc
from bigcompute.emulator.state.stores import Stores

# AZ_BATCH_MASTER_NODE is `ip:port`; the reference documents the format, not the port. Nothing listens on it
# locally: it is what a coordination command would start a service on.
MASTER_PORT = 6000
_POLL = 0.05  # how often a terminate is looked for while coordination commands run

Prep = Callable[[PoolDoc, NodeDoc, str], bool]


def instance_env(ips: list[str], index: int, task_dir: str, cores: int = 1) -> dict[str, str]:
    """The multi-instance variables of one instance (index 0 is the primary, on the master node)."""
    return {"AZ_BATCH_HOST_LIST": ",".join(ips), "AZ_BATCH_NODE_LIST": ";".join(ips),
            "AZ_BATCH_MASTER_NODE": f"{ips[0]}:{MASTER_PORT}",
            "AZ_BATCH_IS_CURRENT_NODE_MASTER": "true" if index == 0 else "false",
            "AZ_BATCH_TASK_SHARED_DIR": task_dir,
            "CCP_NODES": " ".join([str(len(ips)), *(f"{ip} {cores}" for ip in ips)])}


class MultiInstance:
    def __init__(self, *, stores: Stores, runs: Runs) -> None:
        self.stores = stores
        self.runs = runs

    def run(self, r: Running, pool: PoolDoc, job: JobDoc, doc: TaskDoc, primary: TaskRun, prep: Prep) -> ExecResult:
        by_id = {n["id"]: n for n in pool["_nodes"]}
        nodes = [by_id[node_id] for node_id in r.nodes]
        ips = [n.get("ipAddress") or "127.0.0.1" for n in nodes]
        runs = [primary] + [self.runs.task_run(pool, n, job, doc) for n in nodes[1:]]
        for i, run in enumerate(runs):
            run.env.update(instance_env(ips, i, str(run.task_dir)))
        records = [self._record(pool, n, r.job_id, r.task_id, i) for i, n in enumerate(nodes) if i]
        self._save(r, records)
        handles = [RunHandle() for _ in runs]
        try:
            results = self._coordinate(r, pool, job["id"], doc, nodes, runs, handles, prep)
            failed = next((res for res in results if res.phase != "exit" or res.exit_code != 0), None)
            if r.handle.killed.is_set():
                result = ExecResult(137, None, "killed")
            elif failed is not None:
                result = failed
            else:
                result = self.runs.executor.run(primary, r.handle)
        finally:
            for handle in handles:  # the subtasks, and what their coordination commands left running, end
                handle.kill()
        self._save(r, [self._ended(rec, res) for rec, res in zip(records, results[1:], strict=True)])
        return result

    def _coordinate(self, r: Running, pool: PoolDoc, job_id: str, doc: TaskDoc, nodes: list[NodeDoc],
                    runs: list[TaskRun], handles: list[RunHandle], prep: Prep) -> list[ExecResult]:
        settings = doc["multiInstanceSettings"]
        common = settings.get("commonResourceFiles") or []

        def instance(i: int) -> ExecResult:
            if i and not prep(pool, nodes[i], job_id):
                return ExecResult(None, {"category": "usererror", "code": "JobPreparationTaskFailed",
                                         "message": "The job preparation task failed on a node of the task."},
                                  "preprocessing")
            run = runs[i]
            try:
                self._download(common, run)
            except Exception as exc:  # Batch's preprocessing error, as for the task's own resource files
                return ExecResult(None, {"category": "usererror", "code": "ResourceFileDownloadError",
                                         "message": f"Common resource file download failed: {exc}"}, "preprocessing")
            coordination = replace(run, command_line=settings["coordinationCommandLine"], resource_files=[],
                                   output_files=[], keep_background=True)
            return self.runs.executor.run(coordination, handles[i])

        with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="multi-instance") as pool_threads:
            futures = [pool_threads.submit(instance, i) for i in range(len(runs))]
            while wait_all(futures, timeout=_POLL).not_done:
                if r.handle.killed.is_set():
                    for handle in handles:
                        handle.kill()
            return [f.result() for f in futures]

    def _download(self, files: list[dict[str, Any]], run: TaskRun) -> None:
        """Common resource files go to the task folder itself (AZ_BATCH_TASK_SHARED_DIR), not its `wd`; only an
        executor that runs processes has a storage endpoint to read them from."""
        if not files or not hasattr(self.runs.executor, "blob_endpoint"):
            return
        os.makedirs(run.task_dir, exist_ok=True)
        storage.download_resource_files(files, run.task_dir, self.runs.executor.blob_endpoint)

    def _record(self, pool: PoolDoc, node: NodeDoc, job_id: str, task_id: str, index: int) -> dict[str, Any]:
        now = iso(self.runs.clock())
        url = self.runs.node_url(pool, node)
        rel = self.runs.layout.task_rel(job_id, task_id)
        return {"id": index, "state": "running", "stateTransitionTime": now, "startTime": now,
                "nodeInfo": {"affinityId": node.get("affinityId"), "nodeUrl": url, "poolId": pool["id"],
                             "nodeId": node["id"], "taskRootDirectory": rel, "taskRootDirectoryUrl": f"{url}/files/{rel}"}}

    def _ended(self, rec: dict[str, Any], res: ExecResult) -> dict[str, Any]:
        now = iso(self.runs.clock())
        ok = res.phase == "exit" and res.exit_code == 0
        done = {**rec, "previousState": rec["state"], "previousStateTransitionTime": rec["stateTransitionTime"],
                "state": "completed", "stateTransitionTime": now, "endTime": now,
                "result": "success" if ok else "failure"}
        if res.exit_code is not None:
            done["exitCode"] = res.exit_code
        if done["result"] == "failure":
            done["failureInfo"] = res.failure or {"category": "usererror", "code": "FailureExitCode",
                                                  "message": "The task exited with an exit code representing a failure"}
        return done

    def _save(self, r: Running, records: list[dict[str, Any]]) -> None:
        """The attempt's subtask records, unless a later attempt has recorded its own (a terminate counts as an
        attempt of its own, yet the subtasks it ended are this attempt's)."""
        with self.stores.tx(), contextlib.suppress(BatchError):  # deleted meanwhile: nothing to record
            doc = self.stores.tasks.load(r.job_id, r.task_id)
            if doc.get("_subtasksAttempt", 0) <= r.attempt:
                doc["_subtasks"], doc["_subtasksAttempt"] = records, r.attempt
                self.stores.tasks.save(r.job_id, doc, touched=False)


def subtasks(doc: TaskDoc) -> list[dict[str, Any]]:
    """GET …/subtasksinfo: the task's subtasks (not the primary); none for an ordinary task."""
    return [public(s) for s in doc.get("_subtasks") or []]
