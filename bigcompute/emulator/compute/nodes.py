"""Node layout, task environment and node views. Paths follow Batch's node directory layout (§A9)."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from bigcompute.emulator.compute.node_python import clean_path
from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.models import NodeDoc, NodeState

# What a task inherits from the emulator's own environment: enough to find programs and a home, nothing
# else, so no credential the emulator was started with (the account key included) reaches a task.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL", "TERM")
_NODE_DIRS = ("applications", "fsmounts", "shared", "startup", "volatile", "workitems")


@dataclass(frozen=True)
class NodeLayout:
    nodes_root: Path  # <data>/nodes
    _roots: dict[tuple[str, str], Path] = field(default_factory=dict, compare=False, repr=False)

    def root(self, pool_id: str, node_id: str) -> Path:
        key = (pool_id, node_id)
        root = self._roots.get(key)  # built once per node: paths are assembled for every task
        if root is None:
            root = self._roots[key] = self.nodes_root / pool_id.lower() / node_id
        return root

    def create(self, pool_id: str, node_id: str) -> Path:
        root = self.root(pool_id, node_id)
        for name in _NODE_DIRS:
            (root / name).mkdir(parents=True, exist_ok=True)
        return root

    @staticmethod
    def job_rel(job_id: str) -> str:
        """A job's folder: `workitems/<job>/job-1`, or `workitems/<schedule>/job-<n>` for the job `<schedule>:job-<n>`
        a job schedule created (the reference's node layout, §A9)."""
        schedule, sep, run = job_id.partition(":")
        return f"workitems/{schedule}/{run}" if sep else f"workitems/{job_id}/job-1"

    @classmethod
    def task_rel(cls, job_id: str, task_id: str) -> str:
        return f"{cls.job_rel(job_id)}/{task_id}"

    def task_dir(self, pool_id: str, node_id: str, job_id: str, task_id: str) -> Path:
        return self.root(pool_id, node_id) / self.task_rel(job_id, task_id)


def new_node(pool_id: str, seq: int, dedicated: bool, now: float) -> NodeDoc:
    node_id = f"tvm-{zlib.crc32(pool_id.lower().encode()):010d}_{seq}-{iso(now)[:10].replace('-', '')}t000000z"
    return {"id": node_id, "isDedicated": dedicated, "state": NodeState.IDLE, "schedulingState": "enabled",
            "stateTransitionTime": iso(now), "allocationTime": iso(now), "lastBootTime": iso(now),
            "ipAddress": "127.0.0.1", "affinityId": f"TVM:{node_id}", "totalTasksRun": 0, "totalTasksSucceeded": 0}


def task_path(node_bin: Path | None = None) -> str:
    """A task's PATH: the node's Python (`node_python`: what the pool's start task installed) first, then this
    machine's programs; never the emulator's own virtualenv."""
    return os.pathsep.join(p for p in (str(node_bin) if node_bin else "", clean_path()) if p)


def task_env(*, account: str, account_url: str, pool_id: str, node: NodeDoc, node_root: Path,
             task_dir: Path, job_id: str | None, task_id: str | None, prep_dir: Path | None,
             settings: list[dict[str, str]], package_env: dict[str, str], path: str) -> dict[str, str]:
    environ = os.environ
    env = {k: v for k in _INHERITED if (v := environ.get(k)) is not None}
    env["PATH"] = path
    root, tdir = str(node_root), str(task_dir)  # plain string joins: this runs for every task
    env.update({
        "AZ_BATCH_ACCOUNT_NAME": account, "AZ_BATCH_ACCOUNT_URL": account_url, "AZ_BATCH_POOL_ID": pool_id,
        "AZ_BATCH_NODE_ID": node["id"], "AZ_BATCH_NODE_IS_DEDICATED": str(node.get("isDedicated", True)).lower(),
        "AZ_BATCH_NODE_ROOT_DIR": root, "AZ_BATCH_NODE_SHARED_DIR": f"{root}/shared",
        "AZ_BATCH_NODE_STARTUP_DIR": f"{root}/startup", "AZ_BATCH_NODE_MOUNTS_DIR": f"{root}/fsmounts",
        "AZ_BATCH_TASK_DIR": tdir, "AZ_BATCH_TASK_WORKING_DIR": f"{tdir}/wd",
        "AZ_BATCH_CERTIFICATES_DIR": f"{tdir}/certs",
        "AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES": "1000000000",
    })
    if job_id is not None:
        env["AZ_BATCH_JOB_ID"] = job_id
    if task_id is not None:
        env["AZ_BATCH_TASK_ID"] = task_id
    if prep_dir is not None:
        env["AZ_BATCH_JOB_PREP_DIR"] = str(prep_dir)
        env["AZ_BATCH_JOB_PREP_WORKING_DIR"] = str(prep_dir / "wd")
    env.update(package_env)  # AZ_BATCH_APP_PACKAGE_*: the installed packages' folders (compute/packages.py)
    for item in settings:
        env[item["name"]] = item.get("value") or ""
    return env
