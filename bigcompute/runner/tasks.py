"""Task level and history: the tasks of a workload's job with the parameters each was expanded from, failures
grouped by identical error; and every job of the workload, superseded and deleted ones too (a deleted job's outputs
stay in storage until the stack's lifecycle rule deletes them, `storage.outputRetentionDays` after they were
written: components/storage.py)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable

from azure.core.exceptions import ResourceNotFoundError

from bigcompute.runner.clients import Clients
from bigcompute.runner.jobs import JobInfo, wire
from bigcompute.runner.monitor import ENDED, stderr_tail
from bigcompute.runner.plan import Plan, WorkloadPlan
from bigcompute.runner.results import FailureGroup, HistoryResult, JobRecord, TaskRow, TasksResult
from bigcompute.workload import iter_tasks
from bigcompute.workload.expand import PARAM_PREFIX

STATES = ("active", "preparing", "running", "completed", "succeeded", "failed")
GROUPED_TAILS = 200  # failed tasks whose stderr is read to group them; the others group by Batch's failure alone
SELECT = ["id", "state", "executionInfo", "nodeInfo"]


def task_rows(clients: Clients, wp: WorkloadPlan, job_id: str, state: str | None = None,
              spec: str | None = None) -> TasksResult:
    """The job's tasks (only those in `state`), each with its parameters when the job runs the current spec."""
    params = _parameters(wp) if spec in (None, wp.spec) else {}
    rows = [_row(t, params.get(t.id, {})) for t in clients.batch.list_tasks(job_id, select=SELECT)]
    shown = [r for r in rows if _in_state(r, state)]
    return TasksResult(wp.name, job_id, tuple(shown), tuple(failure_groups(clients, job_id, rows)), len(rows))


def _parameters(wp: WorkloadPlan) -> dict[str, dict[str, str]]:
    """Task id → its placeholder values by placeholder name (`i`, `file`, `index`), from the workload's own
    expansion (what made the task)."""
    return {t.id: {_placeholder(name): value for name, value in t.variables}
            for t in iter_tasks(wp.loaded.workload, wp.loaded.files)}


def _placeholder(variable: str) -> str:
    """BIGCOMPUTE_PARAM_i → i, BIGCOMPUTE_INDEX → index (see workload.expand.variable_names)."""
    return variable.removeprefix(PARAM_PREFIX) if variable.startswith(PARAM_PREFIX) else \
        variable.removeprefix("BIGCOMPUTE_").lower()


def _row(task, parameters: dict[str, str]) -> TaskRow:
    info, node = task.execution_info, task.node_info
    failure = info.failure_info if info else None
    return TaskRow(task.id, wire(task.state), parameters,
                   exit_code=info.exit_code if info else None,
                   result=wire(info.result) if info and info.result else None,
                   failure=f"{failure.code}: {failure.message}" if failure else None,
                   node=node.node_id if node else None,
                   started=info.start_time if info else None, ended=info.end_time if info else None,
                   retries=(info.retry_count or 0) if info else 0)


def _in_state(row: TaskRow, state: str | None) -> bool:
    if state is None:
        return True
    if state in ("succeeded", "failed"):  # Batch's states end at completed; the result says how
        return row.result == ("success" if state == "succeeded" else "failure")
    return row.state == state


def failure_groups(clients: Clients, job_id: str, rows: Iterable[TaskRow]) -> list[FailureGroup]:
    """Failed tasks grouped by identical error: Batch's failure, the exit code and the last line of stderr (read for
    the first GROUPED_TAILS failures); the largest group first."""
    groups: dict[str, list[str]] = defaultdict(list)
    outputs = clients.container("outputs")
    failed = [r for r in rows if r.result == "failure"]
    for i, r in enumerate(failed):
        ended = bool(r.failure and r.failure.startswith(f"{ENDED}:"))
        last = "" if ended or i >= GROUPED_TAILS else _last_line(stderr_tail(clients.batch, job_id, r.id, outputs))
        error = ", ".join(x for x in (f"exit code {r.exit_code}" if r.exit_code is not None else "", r.failure) if x)
        groups[f"{error} — {last}" if last else error].append(r.id)
    return [FailureGroup(e, tuple(ids)) for e, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def job_history(clients: Clients, plan: Plan, wp: WorkloadPlan, retention_days: int | None) -> HistoryResult:
    """The workload's jobs, oldest first: Batch's (this repository and stack's, and those that predate that record),
    then those Batch deleted whose outputs storage keeps."""
    outputs = clients.container("outputs")
    records = [_record(clients, j, wp, outputs) for j in plan.jobs_of(wp.name)]
    known = {r.job for r in records}
    records += [JobRecord(job, "deleted", None, _attempt(job), outputs=_output_count(outputs, job), deleted=True)
                for job in stored_jobs(outputs, wp.name) if job not in known]
    records.sort(key=lambda r: (r.created is None, str(r.created or ""), r.job))
    return HistoryResult(wp.name, tuple(records), retention_days)


def _record(clients: Clients, job: JobInfo, wp: WorkloadPlan, outputs) -> JobRecord:
    try:
        counts = clients.batch.get_job_task_counts(job.id).task_counts
        succeeded, failed = counts.succeeded, counts.failed
    except ResourceNotFoundError:  # deleted since it was listed
        succeeded = failed = None
    return JobRecord(job.id, job.state, job.spec, job.attempt, job.creation_time, job.end_time, job.id == wp.job_id,
                     succeeded, failed, _output_count(outputs, job.id))


def stored_jobs(outputs, workload: str) -> list[str]:
    """The job folders of the workload in the outputs container (`<name>-<8 hex>[-r<N>]/`)."""
    pattern = re.compile(rf"{re.escape(workload)}-[0-9a-f]{{8}}(-r\d+)?")
    found = (p.name.rstrip("/") for p in outputs.walk_blobs(name_starts_with=f"{workload}-", delimiter="/"))
    return sorted(name for name in found if pattern.fullmatch(name))


def _output_count(outputs, job: str) -> int | None:
    """Files the job's output manifest lists (None: it has none, e.g. it never completed under a watch)."""
    try:
        body = outputs.download_blob(f"{job}/manifest.json").readall()
    except ResourceNotFoundError:
        return None
    return sum(len(files) for files in json.loads(body).get("tasks", {}).values())


def _attempt(job: str) -> int:
    found = re.search(r"-r(\d+)$", job)
    return int(found.group(1)) if found else 1

