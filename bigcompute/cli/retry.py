"""`bigcompute retry WORKLOAD [--task ID…]`: run a workload's failed tasks again (see runner/retry.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from bigcompute.cli.deploy import ApplyArgs, apply_one, guarded, open_plan
from bigcompute.cli.exit import EXIT_FAILED, EXIT_INVALID, EXIT_OK, Exit
from bigcompute.cli.jobs import find_workload
from bigcompute.cli.options import target_args, target_options
from bigcompute.cli.paths import workload_paths
from bigcompute.cli.terminal import Terminal
from bigcompute.cli.watch import WatchArgs, watch_jobs
from bigcompute.runner.download import write_manifest
from bigcompute.runner.errors import DeployError
from bigcompute.runner.retry import NotRetryable, plan_retry, reactivate


@click.command("retry")
@click.argument("workload")
@target_options
@click.option("--task", "tasks", multiple=True, metavar="ID",
              help="Only this failed task (repeatable); only while the job is active.")
@click.option("--wait", is_flag=True, help="Watch the job to the end; exit 1 when a task failed.")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="Seconds between progress polls.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --wait: stop watching after SECONDS (exit 5); the job keeps running.")
def retry_command(workload, target_kind, stack, outputs_file, tasks, wait, poll_interval, timeout) -> None:
    """Run WORKLOAD's failed tasks again: reactivated in place while its job is active; once it has ended, as a new
    attempt of the same job that reuses the outputs of every task that succeeded."""
    def body(term: Terminal) -> int:
        paths = (workload,) if Path(workload).is_file() else workload_paths(())
        args = target_args(target_kind, stack, outputs_file)
        clients, plan = open_plan(paths, args)
        try:
            wp = find_workload(plan, workload)
            try:
                retry = plan_retry(clients, wp, plan.jobs_of(wp.name), tuple(tasks))
            except NotRetryable as e:
                raise Exit(EXIT_INVALID, f"error: {e}") from None
            if retry.reactivate:
                reactivate(clients, wp.job_id, retry.reactivate)
                term.success(f"{wp.name}: reactivated {len(retry.reactivate)} failed task(s) of job {wp.job_id}: "
                             f"{', '.join(retry.reactivate[:10])}")
            elif retry.attempt is not None:
                if plan.headroom < 1:
                    raise DeployError(f"the account has no room for another active job ({plan.active_jobs} of "
                                      f"{plan.quota} in use)")
                wp = retry.attempt
                term.step(f"{wp.name}: job {retry.job.id} has ended ({retry.job.state}), and Batch reactivates tasks "
                          f"only in an active job: attempt {wp.attempt} reruns {wp.runs:,} task(s) and reuses "
                          f"{len(wp.reuse):,} that succeeded")
                apply_one(clients, wp, term)
            else:
                term.success(f"{wp.name}: nothing to retry: no task of job {wp.job_id} failed")
                return EXIT_OK
            if not wait:
                return EXIT_OK
            again = ApplyArgs(paths, args, True, None, False, poll_interval).reattach()
            code = watch_jobs(clients, replace(plan, workloads=(wp,)), term, WatchArgs(poll_interval, timeout, again))
            if code in (EXIT_OK, EXIT_FAILED):
                write_manifest(clients.container("outputs"), wp.job_id)
            return code
        finally:
            clients.close()
    Exit.run(lambda: guarded(body))
