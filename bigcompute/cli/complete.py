"""Shell completion (click's: `eval "$(_BIGCOMPUTE_COMPLETE=bash_source bigcompute)"`, or zsh_source, fish_source)
of workload names and of a workload's task ids, read offline from the project's workload files."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from bigcompute.cli.paths import workload_names

TASKS_OFFERED = 1000  # a sweep of a million tasks offers its first ids that match, not all of them


def complete_workloads(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The workloads' names, and files (a workload file works wherever a name does)."""
    names = [CompletionItem(n, help=str(p)) for n, p in sorted(workload_names().items()) if n.startswith(incomplete)]
    return names + [CompletionItem(incomplete, type="file")]


def complete_tasks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The task ids of the workload named before (`logs WORKLOAD TASK`, `retry WORKLOAD --task ID`)."""
    from bigcompute.workload import WorkloadError, iter_tasks, load_workload

    given = ctx.params.get("workload") or _typed_workload(ctx)
    path = Path(given) if Path(given).is_file() else workload_names().get(given)
    if path is None:
        return []
    try:
        loaded = load_workload(path)
    except (WorkloadError, OSError):
        return []
    ids = (t.id for t in iter_tasks(loaded.workload, loaded.files) if t.id.startswith(incomplete))
    return [CompletionItem(i) for i in islice(ids, TASKS_OFFERED)]


def _typed_workload(ctx: click.Context) -> str:
    """The WORKLOAD argument as typed, when click parsed none: completing an option's value (`retry W --task ▮`)
    leaves the command's parameters unparsed, so read the words the shell passed (COMP_WORDS, for every shell
    click completes), skipping the options and their values."""
    import os

    from click.shell_completion import split_arg_string

    words = split_arg_string(os.environ.get("COMP_WORDS", ""))
    valued = {o for p in ctx.command.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts}
    after = words[words.index(ctx.info_name) + 1:] if ctx.info_name in words else []
    skip = False
    for word in after:
        if skip or word.startswith("-"):
            skip = not skip and word in valued
            continue
        return word
    return ""
