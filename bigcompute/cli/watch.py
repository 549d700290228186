"""`apply --wait`: one progress row per job (active/running/succeeded/failed, rate, ETA), polling task
counts so each poll costs the same whatever the job size; then only the failed tasks, with stderr tails."""

from __future__ import annotations

import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bigcompute.cli.exit import EXIT_FAILED, EXIT_OK
from bigcompute.cli.terminal import Terminal
from bigcompute.runner.clients import Clients
from bigcompute.runner.download import download
from bigcompute.runner.monitor import AccessRetry, Completion, Progress, blocked_tasks, failed_tasks, poll
from bigcompute.runner.plan import Plan, WorkloadPlan


def _describe(name: str, p: Progress) -> str:
    return f"{name}: {p.active} active, {p.running} running, {p.succeeded} ok, {p.failed} failed"


def watch_jobs(clients: Clients, plan: Plan, term: Terminal, interval: float) -> int:
    pending = {wp.job_id: wp for wp in plan.workloads}
    final: dict[str, Progress] = {}
    last_line: dict[str, str] = {}
    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with term.progress(*columns) as bar:
        rows = {job: bar.add_task(wp.name, total=wp.task_count, rate="") for job, wp in pending.items()}
        completions = {job: Completion(wp.task_count, lambda job=job: blocked_tasks(clients.batch, job))
                       for job, wp in pending.items()}
        retries = {job: AccessRetry(clients.batch, job) for job in pending}
        while pending:
            for job_id, wp in list(pending.items()):
                p = poll(clients.batch, job_id)
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
                time.sleep(interval)
    return _report(clients, plan, final, {job: c.blocked for job, c in completions.items()}, term)


def _report(clients: Clients, plan: Plan, final: dict[str, Progress], blocked: dict[str, list[str]],
            term: Terminal) -> int:
    code = EXIT_OK
    outputs = clients.container("outputs")
    for wp in plan.workloads:
        p = final[wp.job_id]
        if p.failed == 0 and p.succeeded >= wp.task_count:
            term.success(f"{wp.name}: all {p.succeeded:,} tasks succeeded (job {wp.job_id})")
            continue
        code = EXIT_FAILED
        term.error(f"{wp.name}: {p.failed:,} of {wp.task_count:,} tasks failed (job {wp.job_id})")
        shown = failed_tasks(clients.batch, wp.job_id, outputs)
        for f in shown:
            term.error(f"  task {f.id}: exit code {f.exit_code} — {f.failure}")
            term.quote("\n".join(f.stderr_tail.rstrip().splitlines()[-10:]), indent="      ")
        if p.failed > len(shown):
            term.error(f"  … and {p.failed - len(shown)} more failed tasks (`bigcompute logs {wp.name} TASK --stderr`)")
        if blocked[wp.job_id]:
            names = ", ".join(blocked[wp.job_id][:10]) + (" …" if len(blocked[wp.job_id]) > 10 else "")
            term.error(f"  {len(blocked[wp.job_id])} task(s) never ran because a task they depend on failed: {names}")
    return code


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
