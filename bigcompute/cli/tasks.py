"""`bigcompute tasks | history | report`: a workload's tasks with their parameters and failures grouped by error,
its jobs over time (superseded and deleted ones too), and the HTML report of a run."""

from __future__ import annotations

from pathlib import Path

import click

from bigcompute.cli.app import App, as_json
from bigcompute.cli.complete import complete_workloads
from bigcompute.cli.exit import EXIT_OK
from bigcompute.cli.options import format_option, max_tasks_option, target_options
from bigcompute.cli.render import simple_table
from bigcompute.cli.render_report import write_report
from bigcompute.cli.render_run import names

STATES = ("active", "preparing", "running", "completed", "succeeded", "failed")
JOB_OPTION = click.option("--job", metavar="JOB", help="A job of the workload's history instead of its current one "
                          "(`bigcompute history WORKLOAD` lists them).")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _params(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"


def render_tasks(app: App, found) -> None:
    rows = [(t.id, t.state if not t.result else t.result, _params(t.parameters), t.node or "-",
             f"{t.seconds:.1f}" if t.seconds is not None else "-",
             t.exit_code if t.exit_code is not None else "-", t.retries) for t in found.tasks]
    app.term.table(simple_table(f"tasks of {found.workload}, job {found.job} ({len(found.tasks)} of {found.total})",
                                ["task", "state", "parameters", "node", "seconds", "exit code", "retries"], rows))
    for group in found.failures:
        app.term.error(f"{len(group.tasks)} task(s) failed with: {group.error}")
        app.term.quote(f"  {names(group.tasks)}")


@click.command("tasks")
@click.argument("workload", shell_complete=complete_workloads)
@target_options
@max_tasks_option
@click.option("--state", type=click.Choice(STATES), help="Only the tasks in this state (succeeded and failed are "
              "completed tasks by their result).")
@JOB_OPTION
@format_option("table", "json")
def tasks_command(workload, target_kind, stack, outputs_file, state, job, fmt) -> None:
    """WORKLOAD's tasks (a name or a workload file), each with the parameters it was expanded from, its state, node,
    duration, exit code and retries; failed tasks grouped by identical error."""
    def body(app: App) -> int:
        found = app.runner(target_kind, stack, outputs_file).tasks(workload, state, job)
        if app.json:
            app.emit_json({**as_json(found), "tasks": [{**as_json(t), "seconds": t.seconds} for t in found.tasks]})
        else:
            render_tasks(app, found)
        return EXIT_OK
    App(fmt).run(body)


@click.command("history")
@click.argument("workload", shell_complete=complete_workloads)
@target_options
@max_tasks_option
@format_option("table", "json")
def history_command(workload, target_kind, stack, outputs_file, fmt) -> None:
    """WORKLOAD's jobs, oldest first: the current one, those it superseded, retries' attempts, and jobs Batch no
    longer has whose outputs storage keeps (`download --job JOB` fetches them; on Azure the stack's lifecycle rule
    deletes outputs `storage.outputRetentionDays` after they were written)."""
    def body(app: App) -> int:
        found = app.runner(target_kind, stack, outputs_file).history(workload)
        if app.json:
            app.emit_json(found)
            return EXIT_OK
        rows = [(r.job + (" (current)" if r.current else ""), r.state, r.attempt, _when(r.created), _when(r.ended),
                 "-" if r.succeeded is None else r.succeeded, "-" if r.failed is None else r.failed,
                 "-" if r.outputs is None else r.outputs) for r in found.jobs]
        app.term.table(simple_table(f"history of {found.workload}", ["job", "state", "attempt", "created", "ended",
                                                                     "succeeded", "failed", "output files"], rows))
        if any(r.deleted for r in found.jobs):
            kept = (f"until the lifecycle rule deletes them, {found.retention_days} days after they were written"
                    if found.retention_days else "on the local target until `bigcompute local down --purge`")
            app.term.step(f"deleted jobs: Batch no longer has them; their outputs stay in storage {kept}")
        return EXIT_OK
    App(fmt).run(body)


@click.command("report")
@click.argument("workload", shell_complete=complete_workloads)
@target_options
@max_tasks_option
@JOB_OPTION
@click.option("--to", "file", type=click.Path(dir_okay=False), required=True, help="The HTML file to write.")
def report_command(workload, target_kind, stack, outputs_file, job, file) -> None:
    """Write the HTML report of WORKLOAD's run: a timeline per node, task durations, failures grouped by error,
    busy node-hours and their cost at the stack's prices (like Nextflow's -with-report)."""
    def body(app: App) -> int:
        run = app.runner(target_kind, stack, outputs_file).report(workload, job)
        write_report(app.term, Path(file), [run])
        return EXIT_OK
    App().run(body)
