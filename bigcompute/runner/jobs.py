"""The job of a workload: its Batch definition, its bigcompute metadata, and what state it is in."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from azure.batch import models as batch

from bigcompute.workload import Workload
from bigcompute.workload.inputs import repository_root
from bigcompute.workload.staging import Staging
from bigcompute.workload.wire import StorageContext, shell_command

# Metadata names: the contract that lets plan/prune/status recognise bigcompute's own jobs, and prune/delete
# touch only the jobs of this repository and stack (one Batch account is often shared by several).
MANAGED, WORKLOAD, SPEC, COMMIT, SUBMITTED, REPOSITORY, STACK, ATTEMPT = (
    "bigcompute.managed", "bigcompute.workload", "bigcompute.spec", "bigcompute.commit", "bigcompute.submitted",
    "bigcompute.repository", "bigcompute.stack", "bigcompute.attempt")


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
    repository: str | None = None  # None: created before jobs recorded their repository and stack
    stack: str | None = None
    attempt: int = 1  # `bigcompute retry` of an ended job runs the same spec again as attempt 2, 3, …
    kind: str = "job"  # or "schedule": a scheduled workload's job schedule (runner.schedules)

    @property
    def managed(self) -> bool:
        return self.workload is not None

    @property
    def scoped(self) -> bool:
        """Whether the job records the repository and stack that created it."""
        return self.repository is not None and self.stack is not None

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "deleting")


def job_info(job: batch.BatchJob) -> JobInfo:
    meta = {m.name: m.value for m in job.metadata or []}
    workload = meta.get(WORKLOAD) if meta.get(MANAGED) == "true" else None
    end = job.execution_info.end_time if job.execution_info else None
    attempt = meta.get(ATTEMPT, "1")
    return JobInfo(job.id, wire(job.state), workload, meta.get(SPEC), meta.get(SUBMITTED) == "true",
                   job.creation_time, end, meta.get(REPOSITORY), meta.get(STACK),
                   int(attempt) if attempt.isdigit() else 1)


def attempt_id(base: str, attempt: int) -> str:
    """The job of a spec's first attempt is `<name>-<8 hex>`; a retry's is `<name>-<8 hex>-r<attempt>`."""
    return base if attempt == 1 else f"{base}-r{attempt}"


def metadata(workload: Workload, spec_hash: str, submitted: bool, stack: str,
             attempt: int = 1) -> list[batch.BatchMetadataItem]:
    items = {MANAGED: "true", WORKLOAD: workload.name, SPEC: spec_hash, COMMIT: git_commit(workload.folder.resolve()),
             SUBMITTED: "true" if submitted else "false", REPOSITORY: repository_identity(workload.folder),
             STACK: stack}
    if attempt > 1:
        items[ATTEMPT] = str(attempt)
    items.update({f"label.{k}": v for k, v in workload.labels.items()})
    return [batch.BatchMetadataItem(name=k, value=v) for k, v in items.items()]


def job_model(workload: Workload, job_id: str, pool_id: str, spec_hash: str, stack: str,
              env: Mapping[str, str] | None = None, stage: Staging | None = None,
              ctx: StorageContext | None = None, attempt: int = 1) -> batch.BatchJobCreateOptions:
    """`stage` and `ctx`: the inputs the job preparation task stages on each node (see workload.staging)."""
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
        task_failure_mode=failure_mode(workload),
        uses_task_dependencies=workload.uses_dependencies,
        common_environment_settings=[batch.EnvironmentSetting(name=k, value=v) for k, v in common.items()] or None,
        job_preparation_task=preparation_task(workload, stage, ctx),
        job_release_task=release_task(workload),
        metadata=metadata(workload, spec_hash, submitted=False, stack=stack, attempt=attempt),
    )


def preparation_task(workload: Workload, stage: Staging | None,
                     ctx: StorageContext | None) -> batch.BatchJobPreparationTask | None:
    """The staging of shared inputs, then the workload's own `prepare` command, as one preparation task
    (Batch runs one per job). None when there is neither."""
    staged = stage is not None and ctx is not None and stage.active
    if not staged and not workload.prepare_command:
        return None
    script, resources = [], None
    if stage is not None and ctx is not None and staged:
        script.append(stage.prep_script())
        resources = [batch.ResourceFile(r) for r in stage.prep_resources(ctx)]
    if workload.prepare_command:
        script.append(workload.prepare_command)
    return batch.BatchJobPreparationTask(
        command_line=shell_command("; ".join(script), workload.windows),
        resource_files=resources,
        # Both Batch's defaults, spelled out because staging relies on them: no task of the job runs on a node
        # whose staging failed (waitForSuccess), and a rebooted node stages and verifies again (see staging).
        wait_for_success=True, rerun_on_node_reboot_after_success=True,
        user_identity=batch.UserIdentity(auto_user=batch.AutoUserSpecification(
            scope="task", elevation_level="admin")) if workload.prepare_elevated else None)


def release_task(workload: Workload) -> batch.BatchJobReleaseTask | None:
    """The workload's `release`. Batch runs it on each node where the job preparation task ran, and refuses a
    job with a release task but no preparation task ("jobReleaseTask ... can be specified only if
    jobPreparationTask is also specified", https://learn.microsoft.com/rest/api/batchservice/job/add#jobreleasetask):
    the workload checks refuse `release` without `prepare` (workload.checks.check_release)."""
    r = workload.release
    if r is None:
        return None
    return batch.BatchJobReleaseTask(
        command_line=shell_command(r.command, workload.windows), max_wall_clock_time=r.timeout,
        user_identity=batch.UserIdentity(auto_user=batch.AutoUserSpecification(
            scope="task", elevation_level="admin")) if r.elevated else None)


def failure_mode(workload: Workload) -> str:
    """With a merge, a failed task (after its retries) ends the job: the merge depends on every task, so it could
    never run, and the job would stay active, holding an active-job quota slot, until its maximum wall-clock time.
    `performexitoptionsjobaction` takes each failed task's exit option, whose jobAction defaults to `terminate`
    for every exit condition but success; Batch then ends the job with terminateReason `TaskFailed`.
    https://learn.microsoft.com/rest/api/batchservice/job/add#ontaskfailure and
    https://learn.microsoft.com/rest/api/batchservice/task/add#exitoptions (jobAction).
    An exit condition with a jobAction needs the same mode, or Batch refuses the task (400); each task then carries
    its jobAction explicitly (workload.exits), so a task without one never ends the job by Batch's default."""
    return "performexitoptionsjobaction" if workload.performs_job_actions else "noaction"


@cache
def git_commit(folder: Path) -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=folder, capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def repository_identity(folder: Path) -> str:
    """A stable name for the repository holding `folder`: its normalized `origin` URL when it has one (the same
    for every clone), else the absolute path of its root. The same for a workload's folder and the folder
    `bigcompute` runs in, so what apply records, prune and delete recognise."""
    start = folder.resolve()  # resolved first: a relative folder depends on the cwd
    root = repository_root(start)
    if not (root / ".git").exists():  # not a git checkout: the project root (Pulumi.yaml), else the cwd
        root = next((f for f in (start, *start.parents) if (f / "Pulumi.yaml").is_file()), Path.cwd().resolve())
    return _identity(root)


@cache
def _identity(root: Path) -> str:
    try:
        proc = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=root, capture_output=True,
                              text=True, timeout=5)
        url = proc.stdout.strip() if proc.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        url = ""
    return normalize_remote(url) if url else str(root)


def normalize_remote(url: str) -> str:
    """`host/path` of a git remote, whatever its spelling (https, ssh, scp-like), without any user or token."""
    scp = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)", url)
    if scp:
        host, path = scp.groups()
    else:
        try:
            parts = urlsplit(url)
            host, path = parts.hostname or "", parts.path
        except ValueError:  # not a URL after all (e.g. an unbalanced '[')
            host, path = "", url
    path = path.strip("/").removesuffix(".git").rstrip("/")
    return f"{host.lower()}/{path}" if host else f"/{path}"
