"""`bigcompute retry WORKLOAD [--task ID…]`: run a workload's failed tasks again (see runner/retry.py)."""

from __future__ import annotations

from pathlib import Path

import click

from bigcompute.cli.app import App
from bigcompute.cli.complete import complete_tasks, complete_workloads
from bigcompute.cli.deploy import reattach, render_apply
from bigcompute.cli.exit import EXIT_OK
from bigcompute.cli.options import format_option, max_tasks_option, target_options
from bigcompute.cli.paths import workload_paths
from bigcompute.runner.api import WatchOptions


@click.command("retry")
@click.argument("workload", shell_complete=complete_workloads)
@target_options
@max_tasks_option
@click.option("--task", "tasks", multiple=True, metavar="ID", shell_complete=complete_tasks,
              help="Only this failed task (repeatable); only while the job is active.")
@click.option("--wait", is_flag=True, help="Watch the job to the end; exit 1 when a task failed.")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="Seconds between progress polls.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --wait: stop watching after SECONDS (exit 5); the job keeps running.")
@format_option("text", "json")
def retry_command(workload, target_kind, stack, outputs_file, tasks, wait, poll_interval, timeout, fmt) -> None:
    """Run WORKLOAD's failed tasks again: reactivated in place while its job is active; once it has ended, as a new
    attempt of the same job that reuses the outputs of every task that succeeded."""
    def body(app: App) -> int:
        paths = (workload,) if Path(workload).is_file() else workload_paths(())
        app.command, app.reattach = "retry", reattach(paths, target_kind, stack, outputs_file)
        result = app.runner(target_kind, stack, outputs_file).retry(workload, tasks, wait=wait,
                                                                    watch=WatchOptions(poll_interval, timeout))
        return render_apply(app, result) if result.watch is not None or app.json else EXIT_OK
    App(fmt).run(body)
