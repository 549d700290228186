"""`bigcompute status | pools | logs | download | delete`: look at and tidy up what apply created."""

from __future__ import annotations

from pathlib import Path

import click

from bigcompute.cli.app import App, as_json
from bigcompute.cli.complete import complete_tasks, complete_workloads
from bigcompute.cli.deploy import approver
from bigcompute.cli.exit import EXIT_OK
from bigcompute.cli.options import format_option, max_tasks_option, target_options
from bigcompute.cli.paths import outputs_dir, workload_paths
from bigcompute.cli.render import simple_table
from bigcompute.cli.render_run import render_download


@click.command("status")
@click.argument("workloads", nargs=-1, type=click.Path(), shell_complete=complete_workloads)
@target_options
@max_tasks_option
@format_option("table", "json")
def status_command(workloads, target_kind, stack, outputs_file, fmt) -> None:
    """A row per workload: job, state, task counts, started, duration."""
    def body(app: App) -> int:
        rows = app.runner(target_kind, stack, outputs_file).status(workload_paths(workloads))
        if app.json:
            app.emit_json(rows)
        else:
            app.term.table(simple_table("bigcompute status", ["workload", "job", "state", "active", "running",
                                                              "succeeded", "failed", "started", "duration"],
                                        [(r.workload, r.job or "-", r.state, r.active, r.running, r.succeeded,
                                          r.failed, r.started.strftime("%Y-%m-%d %H:%M:%S") if r.started else "-",
                                          f"{r.duration_s:.0f}s" if r.duration_s is not None else "-")
                                         for r in rows]))
            for r in rows:
                if r.schedule is not None:
                    app.term.table(schedule_runs_table(r))
        return EXIT_OK
    App(fmt).run(body)


def schedule_runs_table(row):
    """A scheduled workload's runs (its latest jobs), and when the next one is due."""
    s = row.schedule
    assert s is not None
    due = f"next run {s.next_run:%Y-%m-%d %H:%M:%S}" if s.next_run else "no run due"
    when = lambda t: t.strftime("%Y-%m-%d %H:%M:%S") if t else "-"  # noqa: E731
    return simple_table(f"{row.workload}: runs of job schedule {row.job} ({s.state}, {due})",
                        ["job", "state", "active", "running", "succeeded", "failed", "started", "ended",
                         "job manager"],
                        [(r.job, r.state, r.active, r.running, r.succeeded, r.failed, when(r.started), when(r.ended),
                          r.manager) for r in s.runs])


@click.command("pools")
@target_options
@format_option("table", "json")
def pools_command(target_kind, stack, outputs_file, fmt) -> None:
    """The ops view of pool sizing, and drift between live pools and the stack file."""
    def body(app: App) -> int:
        rows = app.runner(target_kind, stack, outputs_file).pools()
        if app.json:
            app.emit_json(rows)
        else:
            app.term.table(simple_table("bigcompute pools", ["pool", "vm size", "dedicated (cur/target)",
                                                             "spot (cur/target)", "allocation", "nodes", "autoscale",
                                                             "next evaluation", "drift"],
                                        [(r.name, r.vm_size or "-", "{}/{}".format(*r.dedicated),
                                          "{}/{}".format(*r.spot), r.allocation_state,
                                          ", ".join(f"{k} {v}" for k, v in r.node_states.items()) or "-",
                                          r.autoscale, r.next_evaluation or "-", "; ".join(r.drift) or "none")
                                         for r in rows]))
        return EXIT_OK
    App(fmt).run(body)


@click.command("logs")
@click.argument("workload", shell_complete=complete_workloads)
@click.argument("task", required=False, shell_complete=complete_tasks)
@target_options
@max_tasks_option
@click.option("--stderr", "stream", flag_value="stderr.txt", default="stdout.txt", help="Show stderr instead.")
@click.option("--follow", is_flag=True, help="Keep printing output until the task completes.")
@click.option("--tail", type=click.IntRange(min=0), metavar="N", help="Only the last N lines (then --follow goes on).")
@click.option("--job", metavar="JOB", help="A job of the workload's history instead of its current one.")
@format_option("text", "json")
def logs_command(workload, task, target_kind, stack, outputs_file, stream, follow, tail, job, fmt) -> None:
    """Print a task's stdout (or --stderr); TASK defaults to the first failed task, else the merge, else the first.
    Which job, task and stream it shows is said first, on stderr."""
    def body(app: App) -> int:
        view = app.runner(target_kind, stack, outputs_file).logs(workload, task, stream, follow=follow, tail=tail,
                                                                 job=job)
        app.term.step(f"{view.workload}: {view.stream} of task {view.task} of job {view.job}"
                      + (f", last {tail} line(s)" if tail is not None else ""))
        if app.json:  # the whole text once the task is done (--follow) or as it is now
            app.emit_json({**as_json(view), "text": "".join(view.chunks)})
            return EXIT_OK
        for chunk in view.chunks:
            app.term.write_untrusted(chunk)
        return EXIT_OK
    App(fmt).run(body)


@click.command("download")
@click.argument("workload", shell_complete=complete_workloads)
@target_options
@max_tasks_option
@click.option("--to", "folder", type=click.Path(file_okay=False), default=None,
              help="Folder to download into (default: the project's out/).")
@click.option("--all", "everything", is_flag=True, help="Every output, not only the workload's `download:` list.")
@click.option("--job", metavar="JOB", help="A job of the workload's history instead of its current one, deleted ones "
              "too while storage keeps their outputs (`bigcompute history WORKLOAD` lists them).")
@format_option("text", "json")
def download_command(workload, target_kind, stack, outputs_file, folder, everything, job, fmt) -> None:
    """Fetch a workload's outputs into FOLDER/<workload>/, using the job's output manifest."""
    def body(app: App) -> int:
        done = app.runner(target_kind, stack, outputs_file).download(
            workload, Path(folder) if folder else outputs_dir(), everything=everything, job=job)
        render_download(app.term, done)
        if app.json:
            app.emit_json(done)
        return EXIT_OK
    App(fmt).run(body)


@click.command("delete")
@click.argument("workload", shell_complete=complete_workloads)
@target_options
@max_tasks_option
@click.option("--force", is_flag=True, help="Also terminate active jobs (else they are skipped).")
@click.option("--yes", is_flag=True, help="Delete without asking (for CI).")
def delete_command(workload, target_kind, stack, outputs_file, force, yes) -> None:
    """Terminate and delete WORKLOAD's jobs created from this repository on this stack (shown first, then asked)."""
    def body(app: App) -> int:
        for message in app.runner(target_kind, stack, outputs_file).delete(workload, force=force,
                                                                          approve=approver(app, yes)):
            app.term.step(message)
        return EXIT_OK
    App().run(body)
