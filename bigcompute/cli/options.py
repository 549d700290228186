"""Options shared by the runner's commands; each names the environment variable it reads, shown in `--help`."""

from __future__ import annotations

import click

from bigcompute.workload import DEFAULT_MAX_TASKS


def target_options(fn):
    fn = click.option("--outputs", "outputs_file", type=click.Path(dir_okay=False), envvar="BIGCOMPUTE_OUTPUTS",
                      show_envvar=True, help="Azure target: stack outputs JSON instead of `pulumi stack output`.")(fn)
    fn = click.option("--stack", default="dev", show_default=True, envvar="BIGCOMPUTE_STACK", show_envvar=True,
                      help="Stack whose pools and outputs to use.")(fn)
    fn = click.option("--target", "target_kind", type=click.Choice(["local", "azure"]), default="local",
                      show_default=True, envvar="BIGCOMPUTE_TARGET", show_envvar=True, help="Where to run.")(fn)
    return fn


def format_option(*choices: str):
    """`--format`, the first choice by default; json is the same shape on every command (errors included)."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=choices[0], show_default=True,
                        help="Output format; with json, a failure is also a JSON object on stdout.")


MAX_TASKS = "bigcompute.max_tasks"


def max_tasks_option(fn):
    """`--max-tasks` on every command that expands workloads; kept in the click context, where the App reads it."""
    return click.option("--max-tasks", type=click.IntRange(min=1), default=DEFAULT_MAX_TASKS, show_default=True,
                        envvar="BIGCOMPUTE_MAX_TASKS", show_envvar=True, expose_value=False, callback=_remember,
                        help="Largest number of tasks one workload may expand to.")(fn)


def _remember(ctx: click.Context, param: click.Parameter, value: int) -> int:
    ctx.meta[MAX_TASKS] = value
    return value


def max_tasks() -> int:
    """The --max-tasks of the command that runs (the default outside one)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(MAX_TASKS, DEFAULT_MAX_TASKS) if ctx else DEFAULT_MAX_TASKS
