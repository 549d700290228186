"""Turns a task, a job preparation/release task or a start task into one executor run on a node: its folder,
its environment, its limits. Shared by the dispatcher (tasks, preparation) and the settler (start, release)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bigcompute.emulator.compute.executor import Executor, RunHandle, TaskRun
from bigcompute.emulator.compute.isolation import elevated
from bigcompute.emulator.compute.nodes import NodeLayout, task_env
from bigcompute.emulator.compute.packages import Packages
from bigcompute.emulator.core.formats import iso, parse_duration
from bigcompute.emulator.core.identities import IMDS_ENV, IMDS_PATH
from bigcompute.emulator.core.tokens import JOB_SCOPE
from bigcompute.emulator.state.models import JobDoc, NodeDoc, PoolDoc, TaskDoc

RELEASE_WALL_CLOCK = 900.0  # Batch caps job release tasks at 15 minutes


class Runs:
    def __init__(self, *, account: str, base_url: Callable[[], str], clock: Callable[[], float],
                 layout: NodeLayout, executor: Executor, path: str, packages: Packages) -> None:
        self.account = account
        self.packages = packages  # installs the pool's and the task's application packages on the node
        self.path = path  # every task's PATH: the node's Python, then the machine's programs
        self._base_url = base_url  # known once the server listens
        self.clock = clock
        self.layout = layout
        self.executor = executor
        self.job_token: Callable[[str], str] | None = None  # issues a task's job-scoped token (the service's)
        self.node_key: Callable[[str, str], str] | None = None  # a node's IMDS path segment (the service's)

    def task_run(self, pool: PoolDoc, node: NodeDoc, job: JobDoc,
                 doc: TaskDoc) -> TaskRun:
        layout = self.layout
        task_dir = layout.task_dir(pool["id"], node["id"], job["id"], doc["id"])
        prep_dir = layout.task_dir(pool["id"], node["id"], job["id"], "jobpreparation") \
            if job.get("jobPreparationTask") else None
        settings = (job.get("commonEnvironmentSettings") or []) + (doc.get("environmentSettings") or [])
        env = self._env(pool, node, task_dir, job["id"], doc["id"], prep_dir, settings,
                        doc.get("applicationPackageReferences") or [])
        if self.job_token and JOB_SCOPE in (doc.get("authenticationTokenSettings") or {}).get("access", []):
            env["AZ_BATCH_AUTHENTICATION_TOKEN"] = self.job_token(job["id"])
        return TaskRun("task", doc["commandLine"], task_dir, env,
                       parse_duration(doc["constraints"].get("maxWallClockTime"), "maxWallClockTime"),
                       doc.get("resourceFiles") or [], doc.get("outputFiles") or [], elevated(doc.get("userIdentity")),
                       doc.get("containerSettings"))

    def _env(self, pool: PoolDoc, node: NodeDoc, task_dir: Path, job_id: str | None,
             task_id: str | None, prep_dir: Path | None, settings: list[dict[str, str]],
             packages: list[Any]) -> dict[str, str]:
        node_root = self.layout.root(pool["id"], node["id"])
        booted_with = node.get("_packages", pool.get("applicationPackageReferences") or [])
        installed = self.packages.install(node_root, booted_with + packages)
        env = task_env(account=self.account, account_url=self._base_url(), pool_id=pool["id"], node=node,
                       node_root=node_root, task_dir=task_dir, job_id=job_id, task_id=task_id, prep_dir=prep_dir,
                       settings=settings, package_env=installed, path=self.path)
        if self.node_key and (pool.get("identity") or {}).get("userAssignedIdentities"):
            # 169.254.169.254 cannot be bound here: the node's IMDS is the emulator's, at the address the Azure
            # identity libraries (and the job manager of scheduled workloads) take in place of IMDS's
            env[IMDS_ENV] = f"{self._base_url()}{IMDS_PATH}/{self.node_key(pool['id'], node['id'])}"
        return env

    def node_url(self, pool: PoolDoc, node: NodeDoc) -> str:
        return f"{self._base_url()}/pools/{pool['id']}/nodes/{node['id']}"

    def run_special(self, kind: str, spec: dict[str, Any], pool: PoolDoc, node: NodeDoc,
                    job: JobDoc | None, dirname: str) -> dict[str, Any]:
        """Run a start/prep/release task with its retries; returns Batch's execution info for it."""
        layout = self.layout
        if job is None:
            task_dir = layout.root(pool["id"], node["id"]) / "startup"
        else:
            task_dir = layout.task_dir(pool["id"], node["id"], job["id"], dirname)
        settings = ((job or {}).get("commonEnvironmentSettings") or []) + (spec.get("environmentSettings") or [])
        env = self._env(pool, node, task_dir, job["id"] if job else None, dirname if job else None, None, settings,
                        spec.get("applicationPackageReferences") or [])
        constraints = spec.get("constraints") or {}
        # a start or preparation task's limits are in `constraints`; a release task's maxWallClockTime is its own
        # (JobReleaseTask, https://learn.microsoft.com/rest/api/batchservice/job/add#jobreleasetask)
        wall = parse_duration(constraints.get("maxWallClockTime") or spec.get("maxWallClockTime"), "maxWallClockTime")
        if wall is None and kind == "release":
            wall = RELEASE_WALL_CLOCK
        tries = spec.get("maxTaskRetryCount", constraints.get("maxTaskRetryCount", 0))
        info: dict[str, Any] = {"startTime": iso(self.clock()), "retryCount": 0, "state": "running"}
        while True:
            res = self.executor.run(TaskRun(kind, spec["commandLine"], task_dir, env, wall,
                                            spec.get("resourceFiles") or [],
                                            elevated=elevated(spec.get("userIdentity"))), RunHandle())
            ok = res.phase == "exit" and res.exit_code == 0
            if ok or res.phase != "exit" or (tries != -1 and info["retryCount"] >= tries):
                break
            info["retryCount"] += 1
        rel = task_dir.relative_to(layout.root(pool["id"], node["id"])).as_posix()
        info.update(state="completed", endTime=iso(self.clock()), result="success" if ok else "failure",
                    taskRootDirectory=rel)
        if job is not None:  # job preparation and release tasks: where their files are on the node
            info["taskRootDirectoryUrl"] = f"{self.node_url(pool, node)}/files/{rel}"
        if res.exit_code is not None:
            info["exitCode"] = res.exit_code
        if not ok:
            info["failureInfo"] = res.failure or {"category": "usererror", "code": "FailureExitCode",
                                                  "message": "The task exited with an exit code representing a failure"}
        return info
