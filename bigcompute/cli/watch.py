"""`apply --wait`: one progress row per job (active/running/succeeded/failed, rate, ETA), polling task
counts so each poll costs the same whatever the job size; then only the failed tasks, with stderr tails."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bigcompute.cli.exit import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TIMEOUT
from bigcompute.cli.terminal import Terminal
from bigcompute.runner.clients import Clients
from bigcompute.runner.download import download
from bigcompute.runner.monitor import AccessRetry, Completion, Progress, blocked_tasks, failed_tasks, poll
from bigcompute.runner.plan import Plan, WorkloadPlan
from bigcompute.runner.waiting import check_reachable, pool_report


def _describe(name: str, p: Progress) -> str:
    return f"{name}: {p.active} active, {p.running} running, {p.succeeded} ok, {p.failed} failed"


@dataclass(frozen=True)
class WatchArgs:
    interval: float = 2.0
    timeout: float | None = None  # seconds; then exit EXIT_TIMEOUT, the jobs still running
    reattach: str = "bigcompute apply --wait"  # the command that watches again, shown on a timeout or Ctrl-C
    stall_after: float | None = None  # seconds with tasks waiting and none running before saying why (5 polls)


class Stall:
    """While tasks wait and none runs, say why every `every` seconds, and only what changed: the pools' size and
    state and what is wrong with them (doctor's pool checks)."""

    def __init__(self, clients: Clients, term: Terminal, after: float, every: float = 30.0):
        self.clients, self.term, self.after, self.every = clients, term, after, every
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
            line = f"nothing runs: {f.check}: {f.detail}" + (f" → {f.action}" if f.action else "")
            if line in self.shown:
                continue
            self.shown.add(line)
            if f.status == "ok":
                self.term.step(line)
            else:
                self.term.warn(line)


def watch_jobs(clients: Clients, plan: Plan, term: Terminal, args: WatchArgs | float) -> int:
    """Watch the plan's jobs to their end; EXIT_TIMEOUT when `args.timeout` passes first, EXIT_INTERRUPTED on
    Ctrl-C (saying how to watch again: the jobs keep running)."""
    args = args if isinstance(args, WatchArgs) else WatchArgs(interval=args)
    try:
        return _watch(clients, plan, term, args)
    except KeyboardInterrupt:
        term.error(f"stopped watching; the jobs keep running on the target: watch them again with `{args.reattach}`")
        return EXIT_INTERRUPTED


def _watch(clients: Clients, plan: Plan, term: Terminal, args: WatchArgs) -> int:
    stall = Stall(clients, term, args.stall_after if args.stall_after is not None else 5 * args.interval)
    pending = {wp.job_id: wp for wp in plan.workloads}
    final: dict[str, Progress] = {}
    last: dict[str, Progress] = {}
    last_line: dict[str, str] = {}
    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with term.progress(*columns) as bar:
        rows = {job: bar.add_task(wp.name, total=wp.runs, rate="") for job, wp in pending.items()}
        completions = {job: Completion(wp.runs, lambda job=job: blocked_tasks(clients.batch, job))
                       for job, wp in pending.items()}
        retries = {job: AccessRetry(clients.batch, job) for job in pending}
        while pending:
            if args.timeout is not None and time.monotonic() - started > args.timeout:
                return _timed_out(pending, last, args, term)
            check_reachable(clients)
            for job_id, wp in list(pending.items()):
                p = last[job_id] = poll(clients.batch, job_id)
                for said in retries[job_id].check(p):
                    term.step(f"{wp.name}: {said}")
                rate = p.completed / max(time.monotonic() - started, 1e-6)
                bar.update(rows[job_id], completed=p.completed, description=_describe(wp.name, p),
                           rate=f"{rate:.1f} tasks/s")
                line = _describe(wp.name, p)
                if not term.interactive and line != last_line.get(job_id):
                    term.step(line)  # plain progress lines in CI logs, only when something changed
                    last_line[job_id] = line
                if completions[job_id].done(p):
                    final[job_id] = p
                    del pending[job_id]
            if pending:
                stall.update([last[j] for j in pending], {wp.loaded.workload.pool for wp in pending.values()})
                time.sleep(args.interval)
    return _report(clients, plan, final, {job: c.blocked for job, c in completions.items()}, term)


def _timed_out(pending: dict[str, WorkloadPlan], last: dict[str, Progress], args: WatchArgs,
               term: Terminal) -> int:
    for job_id, wp in pending.items():
        p = last.get(job_id)
        counts = f": {p.active} active, {p.running} running, {p.completed} done" if p else ""
        term.error(f"{wp.name}: job {job_id} is still running after {args.timeout:g} s{counts}")
    term.error(f"the jobs keep running on the target; watch them again with `{args.reattach}`")
    return EXIT_TIMEOUT


def _report(clients: Clients, plan: Plan, final: dict[str, Progress], blocked: dict[str, list[str]],
            term: Terminal) -> int:
    code = EXIT_OK
    outputs = clients.container("outputs")
    for wp in plan.workloads:
        p = final[wp.job_id]
        reused = f", {len(wp.reuse):,} more reused from earlier jobs" if wp.reuse else ""
        if p.failed == 0 and p.succeeded >= wp.runs:
            term.success(f"{wp.name}: all {p.succeeded:,} tasks succeeded{reused} (job {wp.job_id})")
            continue
        code = EXIT_FAILED
        shown = failed_tasks(clients.batch, wp.job_id, outputs)
        stopped = [f.id for f in shown if f.ended]
        # left active in the ended job, or never added because the job ended while its tasks were being added
        never_ran = max(wp.runs - p.succeeded - p.failed - p.running, 0) if p.ended_by_failure else 0
        term.error(f"{wp.name}: {p.failed - len(stopped):,} of {wp.runs:,} tasks failed"
                   + (f", {len(stopped)} stopped when the job ended" if stopped else "")
                   + (f", {never_ran} never ran" if never_ran else "") + f" (job {wp.job_id})")
        for f in (f for f in shown if not f.ended):
            term.error(f"  task {f.id}: exit code {f.exit_code} — {f.failure}")
            term.quote("\n".join(f.stderr_tail.rstrip().splitlines()[-10:]), indent="      ")
        if stopped:
            term.error(f"  {len(stopped)} task(s) were stopped when the job ended: {_names(stopped)}")
        if p.ended_by_failure:
            term.error("  a failed task ended the job (its merge could never run): Batch terminated it "
                       f"(terminateReason {p.terminate_reason}), so it no longer holds an active-job quota slot; "
                       f"`bigcompute retry {wp.name}` reruns the tasks that did not succeed")
        if p.failed > len(shown):
            term.error(f"  … and {p.failed - len(shown)} more failed tasks (`bigcompute logs {wp.name} TASK --stderr`)")
        if blocked[wp.job_id]:
            term.error(f"  {len(blocked[wp.job_id])} task(s) never ran because a task they depend on failed: "
                       f"{_names(blocked[wp.job_id])}")
    return code


def _names(ids: list[str]) -> str:
    return ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")


def collect_outputs(clients: Clients, wp: WorkloadPlan, body: dict, folder: Path, term: Terminal,
                    everything: bool) -> None:
    """Download the job's outputs listed in its manifest `body` into folder/<workload>/, with the manifest, which
    also records the job the folder's files come from."""
    patterns = () if everything else wp.loaded.workload.download
    target = folder / wp.name
    done = download(clients.container("outputs"), wp.job_id, body, target, patterns)
    if done.removed:
        term.step(f"{wp.name}: removed {len(done.removed)} file(s) of an earlier job that job {wp.job_id} does not "
                  f"have: {', '.join(done.removed)}")
    term.success(f"{wp.name}: {len(done.files)} output files of job {wp.job_id} in {target}/ "
                 f"({done.fetched} downloaded, {len(done.files) - done.fetched} already there), each checked "
                 "against its SHA-256")
