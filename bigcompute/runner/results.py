"""What the runner's commands return: plain values, no SDK object in them, for any front end to render (the CLI
as tables, lines or JSON). Light: importing this module loads no SDK."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PlannedWorkload:
    """One workload of a plan: its job and what apply does with it."""

    workload: str
    job: str
    status: str  # new | unchanged | resume | changed
    supersedes: tuple[str, ...]
    tasks: int
    pool: str
    upload_files: int
    upload_bytes: int
    blob_inputs: int
    blob_bytes: int
    parameters: dict[str, Any]
    reused: int
    reuse_note: str | None


@dataclass(frozen=True)
class PruneCandidate:
    job: str
    workload: str | None
    reason: str
    state: str
    active: bool  # then only --force removes it (terminating it first)


@dataclass(frozen=True)
class PlanResult:
    workloads: tuple[PlannedWorkload, ...]
    active_jobs: int
    quota: int
    new_jobs: int
    prune: tuple[PruneCandidate, ...]
    not_prunable: tuple[str, ...]  # jobs that predate the repository/stack record: never pruned automatically
    explanation: Any  # runner.explain.Explanation: header, changes, superseded jobs, cost


@dataclass(frozen=True)
class Removal:
    """What a destructive command would remove, shown and approved before anything changes."""

    doomed: tuple[PruneCandidate, ...]
    skipped: tuple[PruneCandidate, ...]  # active, and not forced


@dataclass(frozen=True)
class Submitted:
    workload: str
    job: str
    up_to_date: bool
    added: int = 0
    existing: int = 0


@dataclass(frozen=True)
class Downloaded:
    workload: str
    job: str
    folder: Path  # FOLDER/<workload>
    files: int
    fetched: int
    removed: tuple[str, ...]  # files of an earlier job the folder held, which this job does not have
    current: bool = True  # False: the job of an earlier spec (or one named with --job)


@dataclass(frozen=True)
class ApplyResult:
    submitted: tuple[Submitted, ...]
    watch: Any = None  # runner.watcher.WatchOutcome, with --wait
    downloads: tuple[Downloaded, ...] = ()
    removed: tuple[str, ...] = ()  # one sentence per pruned job
    active_jobs: int = 0
    quota: int = 0
    reports: tuple[Any, ...] = ()  # runner.report.RunReport of each run, when asked (--report, --webhook)


@dataclass(frozen=True)
class RetryResult:
    workload: str
    job: str  # the job that runs the retried tasks
    action: str  # reactivated | attempt | nothing
    reactivated: tuple[str, ...] = ()
    ended_job: str | None = None  # attempt: the ended job it follows
    ended_state: str | None = None
    attempt: int = 1
    runs: int = 0
    reused: int = 0
    submitted: Submitted | None = None
    watch: Any = None


@dataclass(frozen=True)
class TaskRow:
    """One task of a job, with the parameters (placeholder values) it was expanded from."""

    id: str
    state: str
    parameters: dict[str, str]
    exit_code: int | None = None
    result: str | None = None  # success | failure
    failure: str | None = None  # Batch's failure code and message
    node: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    retries: int = 0

    @property
    def seconds(self) -> float | None:
        return (self.ended - self.started).total_seconds() if self.started and self.ended else None


@dataclass(frozen=True)
class FailureGroup:
    """Failed tasks sharing one error: the same failure and the same last stderr line."""

    error: str
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class TasksResult:
    workload: str
    job: str
    tasks: tuple[TaskRow, ...]
    failures: tuple[FailureGroup, ...]
    total: int  # tasks of the job, before any --state filter


@dataclass(frozen=True)
class JobRecord:
    """One job of a workload's history; `deleted`: Batch no longer has it, its outputs are still in storage."""

    job: str
    state: str
    spec: str | None
    attempt: int
    created: datetime | None = None
    ended: datetime | None = None
    current: bool = False  # the job of the workload's current definition
    succeeded: int | None = None
    failed: int | None = None
    outputs: int | None = None  # output files its manifest lists (None: no manifest)
    deleted: bool = False


@dataclass(frozen=True)
class HistoryResult:
    workload: str
    jobs: tuple[JobRecord, ...]
    retention_days: int | None  # outputs of jobs are deleted this long after they were written (Azure lifecycle)


@dataclass(frozen=True)
class LogView:
    """What `logs` shows: which job, task and stream; `chunks` yields its text (and follows, when asked)."""

    workload: str
    job: str
    task: str
    stream: str
    chunks: Any = field(repr=False, compare=False, default=())


@dataclass(frozen=True)
class LocalContents:
    """The local target's pools and jobs, for `local status`."""

    pools: tuple[dict[str, Any], ...]
    jobs: tuple[dict[str, Any], ...]
