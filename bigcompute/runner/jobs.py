"""The job of a workload: its Batch definition, its bigcompute metadata, and what state it is in."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from azure.batch import models as batch

from bigcompute.workload import Workload
from bigcompute.workload.wire import shell_command

# Metadata names: the contract that lets plan/prune/status recognise bigcompute's own jobs.
MANAGED, WORKLOAD, SPEC, COMMIT, SUBMITTED = (
    "bigcompute.managed", "bigcompute.workload", "bigcompute.spec", "bigcompute.commit", "bigcompute.submitted")


def wire(value: object) -> str:
    """An SDK enum (or an unknown value passed through as str) as Batch spells it on the wire."""
    return str(getattr(value, "value", value))


@dataclass(frozen=True)
class JobInfo:
    id: str
    state: str
    workload: str | None
    spec: str | None
    submitted: bool
    creation_time: object = None
    end_time: object = None

    @property
    def managed(self) -> bool:
        return self.workload is not None


def job_info(job: batch.BatchJob) -> JobInfo:
    meta = {m.name: m.value for m in job.metadata or []}
    workload = meta.get(WORKLOAD) if meta.get(MANAGED) == "true" else None
    end = job.execution_info.end_time if job.execution_info else None
    return JobInfo(job.id, wire(job.state), workload, meta.get(SPEC), meta.get(SUBMITTED) == "true",
                   job.creation_time, end)


def metadata(workload: Workload, spec_hash: str, submitted: bool) -> list[batch.BatchMetadataItem]:
    items = {MANAGED: "true", WORKLOAD: workload.name, SPEC: spec_hash, COMMIT: git_commit(workload.folder),
             SUBMITTED: "true" if submitted else "false"}
    items.update({f"label.{k}": v for k, v in workload.labels.items()})
    return [batch.BatchMetadataItem(name=k, value=v) for k, v in items.items()]


def job_model(workload: Workload, job_id: str, pool_id: str, spec_hash: str,
              env: Mapping[str, str] | None = None) -> batch.BatchJobCreateOptions:
    prep = None
    if workload.prepare_command:
        prep = batch.BatchJobPreparationTask(
            command_line=shell_command(workload.prepare_command), wait_for_success=True,
            user_identity=batch.UserIdentity(auto_user=batch.AutoUserSpecification(
                scope="task", elevation_level="admin")) if workload.prepare_elevated else None)
    common = {**workload.env, **(env or {})}
    return batch.BatchJobCreateOptions(
        id=job_id,
        display_name=(workload.description or workload.name)[:1024],
        priority=workload.job.priority,
        max_parallel_tasks=workload.job.max_parallel_tasks,
        constraints=batch.BatchJobConstraints(max_wall_clock_time=workload.job.max_wall_clock_time),
        pool_info=batch.BatchPoolInfo(pool_id=pool_id),
        # noaction until every task is in; then terminatejob, so the job frees its quota slot.
        all_tasks_complete_mode="noaction",
        uses_task_dependencies=workload.uses_dependencies,
        common_environment_settings=[batch.EnvironmentSetting(name=k, value=v) for k, v in common.items()] or None,
        job_preparation_task=prep,
        metadata=metadata(workload, spec_hash, submitted=False),
    )


@cache
def git_commit(folder: Path) -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=folder, capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"
