"""Watch jobs to their end (`apply --wait`, `retry --wait`): poll each job's task counts (each poll costs the
same whatever the job's size), say why nothing runs while tasks wait, retry once the tasks storage refused; at the
end, list only the failed tasks, with their stderr tails. Tells its caller through events; returns an outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bigcompute.runner.clients import Clients
from bigcompute.runner.events import Listener, Message, Phase, Polled, Waiting, Watching
from bigcompute.runner.monitor import (
    AccessRetry,
    Completion,
    FailedTask,
    Progress,
    blocked_tasks,
    failed_tasks,
    poll,
)
from bigcompute.runner.options import WatchOptions
from bigcompute.runner.plan import WorkloadPlan
from bigcompute.runner.waiting import check_reachable, pool_report


@dataclass(frozen=True)
class JobOutcome:
    """How one watched job ended."""

    workload: str
    job: str
    runs: int  # tasks the job holds
    reused: int  # tasks not run again: their outputs came from earlier jobs
    progress: Progress
    failed: tuple[FailedTask, ...] = ()  # the first failed tasks, with stderr tails (stopped ones: `ended`)
    blocked: tuple[str, ...] = ()  # tasks that never ran because a task they depend on failed

    @property
    def succeeded(self) -> bool:
        return self.progress.failed == 0 and self.progress.succeeded >= self.runs

    @property
    def stopped(self) -> list[str]:
        return [f.id for f in self.failed if f.ended]

    @property
    def never_ran(self) -> int:
        """Tasks left active in a job a failure ended, or never added because it ended while they were added."""
        p = self.progress
        return max(self.runs - p.succeeded - p.failed - p.running, 0) if p.ended_by_failure else 0

    @property
    def more_failed(self) -> int:
        return max(self.progress.failed - len(self.failed), 0)


@dataclass(frozen=True)
class WatchOutcome:
    jobs: tuple[JobOutcome, ...] = ()  # every job, once all ended
    timed_out: tuple[tuple[str, str, Progress | None], ...] = ()  # (workload, job, last counts) still running
    timeout: float | None = None

    @property
    def failed(self) -> bool:
        return any(not j.succeeded for j in self.jobs)


class Stall:
    """While tasks wait and none runs, say why every `every` seconds, and only what changed: the pools' size and
    state and what is wrong with them (doctor's pool checks)."""

    def __init__(self, clients: Clients, emit: Listener, after: float, every: float = 30.0):
        self.clients, self.emit, self.after, self.every = clients, emit, after, every
        self.since: float | None = None
        self.last_check = 0.0
        self.shown: set[str] = set()

    def update(self, progress: list[Progress], pools: set[str]) -> None:
        now = time.monotonic()
        if not any(p.active for p in progress) or any(p.running for p in progress):
            self.since = None
            return
        self.since = self.since or now
        if now - self.since < self.after or now - self.last_check < self.every:
            return
        self.last_check = now
        for f in pool_report(self.clients, pools, waiting_jobs=len(progress)):
            said = Waiting(f.check, f.detail, f.action or "", f.status)
            if said.text() not in self.shown:
                self.shown.add(said.text())
                self.emit(said)


def watch_jobs(clients: Clients, workloads: tuple[WorkloadPlan, ...], emit: Listener,
               options: WatchOptions) -> WatchOutcome:
    """Watch the jobs to their end, or until `options.timeout` passes. Ctrl-C propagates (KeyboardInterrupt) after
    the Phase event that says a watch was under way."""
    emit(Phase("watching"))
    stall = Stall(clients, emit, options.stall_after if options.stall_after is not None else 5 * options.interval)
    pending = {wp.job_id: wp for wp in workloads}
    final: dict[str, Progress] = {}
    last: dict[str, Progress] = {}
    started = time.monotonic()
    emit(Watching(tuple((wp.name, job, wp.runs) for job, wp in pending.items())))
    completions = {job: Completion(wp.runs, lambda job=job: blocked_tasks(clients.batch, job))
                   for job, wp in pending.items()}
    retries = {job: AccessRetry(clients.batch, job) for job in pending}
    while pending:
        if options.timeout is not None and time.monotonic() - started > options.timeout:
            return WatchOutcome(timed_out=tuple((wp.name, job, last.get(job)) for job, wp in pending.items()),
                                timeout=options.timeout)
        check_reachable(clients)
        for job_id, wp in list(pending.items()):
            p = last[job_id] = poll(clients.batch, job_id)
            for said in retries[job_id].check(p):
                emit(Message(f"{wp.name}: {said}"))
            emit(Polled(wp.name, job_id, p, p.completed / max(time.monotonic() - started, 1e-6)))
            if completions[job_id].done(p):
                final[job_id] = p
                del pending[job_id]
        if pending:
            stall.update([last[j] for j in pending], {wp.loaded.workload.pool for wp in pending.values()})
            time.sleep(options.interval)
    outputs = clients.container("outputs")
    return WatchOutcome(tuple(_outcome(clients, wp, final[wp.job_id], completions[wp.job_id].blocked, outputs)
                              for wp in workloads))


def _outcome(clients: Clients, wp: WorkloadPlan, p: Progress, blocked: list[str], outputs) -> JobOutcome:
    failed = () if p.failed == 0 and p.succeeded >= wp.runs else tuple(failed_tasks(clients.batch, wp.job_id, outputs))
    return JobOutcome(wp.name, wp.job_id, wp.runs, len(wp.reuse), p, failed, tuple(blocked))
