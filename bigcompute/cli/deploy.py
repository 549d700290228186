"""`bigcompute plan` and `bigcompute apply`: workloads become Batch jobs, declaratively."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from bigcompute.cli.app import App, as_json
from bigcompute.cli.complete import complete_workloads
from bigcompute.cli.exit import EXIT_CHANGES, EXIT_FAILED, EXIT_INVALID, EXIT_OK, Exit
from bigcompute.cli.options import format_option, max_tasks_option, target_options
from bigcompute.cli.parameters import given_values, parameter_options
from bigcompute.cli.paths import outputs_dir, workload_paths
from bigcompute.cli.render import plan_json, plan_markdown, plan_table, prune_table, unscoped_note
from bigcompute.cli.render_explain import (
    explanation_json,
    explanation_markdown,
    explanation_text,
    header_line,
)
from bigcompute.cli.render_run import render_download, render_watch
from bigcompute.runner.api import Removal, WatchOptions


def reattach(paths: tuple[str, ...], target_kind: str, stack: str, outputs_file: str | None) -> str:
    """The command that watches these jobs again (apply is idempotent: it adds nothing, then waits)."""
    where = ["--stack", stack] + (["--target", "azure"] if target_kind == "azure" else []) + \
        (["--outputs", outputs_file] if outputs_file else [])
    return shlex.join(["bigcompute", "apply", "--wait", *paths, *where])


def approver(app: App, yes: bool):
    """Shows what would be removed and skipped, then asks (unless --yes). Called before any side effect: refusing
    or declining changes nothing."""
    def approve(removal: Removal) -> bool:
        term = app.term
        for c in removal.doomed:
            term.step(f"will {'terminate and ' if c.active else ''}delete job {c.job} ({c.reason}; {c.state})")
        for c in removal.skipped:
            term.warn(f"skipping job {c.job} ({c.reason}): it is still {c.state}; --force terminates it")
        if not removal.doomed or yes:
            return True
        if not term.can_ask:
            term.error(f"refusing to delete {len(removal.doomed)} job(s) without confirmation (no terminal to ask "
                       "on): check the list above and pass --yes; nothing was changed")
            raise Exit(EXIT_INVALID)
        if not term.confirm(f"Delete {len(removal.doomed)} job(s)?"):
            term.error("nothing was changed")
            raise Exit(EXIT_FAILED)
        return True
    return approve


def run_plan(app: App, paths: tuple[str, ...], target: tuple, given=(), detailed_exitcode: bool = False) -> int:
    plan = app.runner(*target).plan(paths, given)
    why, term = plan.explanation, app.term
    if app.fmt == "json":
        term.write(plan_json(plan, explanation_json(why)))
    elif app.fmt == "markdown":
        term.write(f"{header_line(why)}\n\n{plan_markdown(plan)}{explanation_markdown(why)}")
    else:
        term.write(header_line(why) + "\n")
        term.table(plan_table(plan))
        term.write(explanation_text(why))
        if plan.prune:
            term.table(prune_table(plan))
        if plan.not_prunable:
            term.warn(unscoped_note(plan))
    return EXIT_CHANGES if detailed_exitcode and why.has_changes else EXIT_OK


def render_apply(app: App, result) -> int:
    """An apply's or retry's result: how the watched jobs ended, the downloads, the jobs removed; its exit code."""
    code = render_watch(app.term, result.watch, app.reattach) if result.watch is not None else EXIT_OK
    for d in getattr(result, "downloads", ()):  # a retry downloads nothing and removes nothing
        render_download(app.term, d)
    for message in getattr(result, "removed", ()):
        app.term.step(message)
    if app.json:
        app.emit_json({**app_json(result), "exit_code": code})
    return code


def app_json(result) -> dict:
    """An apply's or retry's result for scripts: what was submitted, how each watched job ended (its failed tasks
    with their stderr tails), the downloads, the jobs removed."""
    body = as_json(result)
    body.pop("reports", None)  # the HTML report's material: --report writes it
    watch = result.watch
    if watch is not None:
        body["watch"] = {"timed_out": [{"workload": w, "job": j, "progress": as_json(p)}
                                       for w, j, p in watch.timed_out],
                         "jobs": [{**as_json(j), "succeeded": j.succeeded, "never_ran": j.never_ran}
                                  for j in watch.jobs]}
    return body


@click.command("plan")
@click.argument("workloads", nargs=-1, type=click.Path(), shell_complete=complete_workloads)
@target_options
@max_tasks_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@click.option("--detailed-exitcode", is_flag=True,
              help=f"Exit {EXIT_CHANGES} when apply would change something (a new, changed or half-submitted job), "
                   "0 when not; 1 and 2 keep their meaning (like `terraform plan -detailed-exitcode`, whose 2 is "
                   "taken here by invalid input).")
@parameter_options
def plan_command(workloads, target_kind, stack, outputs_file, fmt, detailed_exitcode, sets, values_file) -> None:
    """Show what apply would do, changing nothing: where (target, stack, accounts), which jobs it creates and
    why (the fields and input files that changed), what becomes of the jobs they supersede, what may be pruned,
    and what the run should cost (from the workload's task history, else the pool's hourly cost)."""
    given = given_values(sets, values_file)
    App(fmt).run(lambda app: run_plan(app, workload_paths(workloads), (target_kind, stack, outputs_file), given,
                                      detailed_exitcode))


@click.command("apply")
@click.argument("workloads", nargs=-1, type=click.Path(), shell_complete=complete_workloads)
@target_options
@max_tasks_option
@click.option("--wait", is_flag=True, help="Watch the jobs to the end; exit 1 when a task failed, 4 when the target "
              "stops answering, 130 on Ctrl-C (the jobs keep running). While nothing runs, says why.")
@click.option("--download", type=click.Path(file_okay=False), help="With --wait: fetch outputs into DIR/<workload>/.")
@click.option("--prune", is_flag=True,
              help="Delete this repository's and stack's jobs that the applied workloads supersede; with the whole "
                   "workloads folder, also those of removed workloads. Asks first.")
@click.option("--force", is_flag=True, help="With --prune: also terminate active jobs (else they are skipped).")
@click.option("--yes", is_flag=True, help="Prune without asking (for CI).")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="Seconds between progress polls.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --wait: stop watching after SECONDS (exit 5); the jobs keep running.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --wait: write the run's HTML report (timeline per node, task durations, failures, cost).")
@click.option("--webhook", metavar="URL", envvar="BIGCOMPUTE_WEBHOOK", show_envvar=True,
              help="With --wait: POST each run's summary (JSON: counts, failures, times, cost; no secrets) here once "
                   "it ended. Prefer the variable: the URL often holds a token.")
@format_option("text", "json")
@parameter_options
def apply_command(workloads, target_kind, stack, outputs_file, wait, download, prune, force, yes,
                  poll_interval, timeout, report_file, webhook, fmt, sets, values_file) -> None:
    """Turn workload files into Batch jobs and tasks (idempotent: unchanged workloads create nothing)."""
    def body(app: App) -> int:
        if (report_file or webhook) and not wait:
            raise Exit(EXIT_INVALID, "--report and --webhook need --wait: a run is reported once it ended")
        paths = workload_paths(workloads)
        app.reattach = reattach(paths, target_kind, stack, outputs_file)
        runner = app.runner(target_kind, stack, outputs_file)
        result = runner.apply(paths, tuple(given_values(sets, values_file)), wait=wait,
                              watch=WatchOptions(poll_interval, timeout), prune=prune, force=force,
                              approve=approver(app, yes), download=Path(download) if download else None,
                              outputs=outputs_dir() if wait and not download else None,
                              report=report_file is not None, webhook=webhook)
        code = render_apply(app, result)
        if report_file and result.reports:
            from bigcompute.cli.render_report import write_report  # Jinja2 loads only for a report

            write_report(app.term, Path(report_file), list(result.reports))
        return code
    App(fmt).run(body)

