"""`--set` and `--values`: the values of workloads' `parameters:`, for validate, expand, plan and apply.
Kept apart from the runner's options: `validate` never loads the Batch SDK."""

from __future__ import annotations

import click

from bigcompute.cli.exit import EXIT_INVALID, Exit
from bigcompute.document import DocumentError
from bigcompute.workload.parameters import Given, load_values, parse_set


def parameter_options(fn):
    """`--set NAME=VALUE` (repeatable) and `--values FILE`: values of the workloads' `parameters:`."""
    fn = click.option("--values", "values_file", type=click.Path(dir_okay=False),
                      help="YAML file of parameter values (NAME: VALUE); --set wins over it.")(fn)
    fn = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                      help="Value of a workload parameter (repeatable); checked against its declaration.")(fn)
    return fn


def given_values(sets: tuple[str, ...], values_file: str | None) -> list[Given]:
    """The values of --values, then of --set (later wins); a malformed one exits 2, located, before anything."""
    given, problems = [], []
    if values_file:
        try:
            given += load_values(values_file)
        except DocumentError as e:
            problems += e.diagnostics
    from_set, bad = parse_set(sets)
    given += from_set
    problems += bad
    if problems:
        raise Exit(EXIT_INVALID, "\n".join(map(str, problems)) + f"\n{len(problems)} problem(s) found; nothing was "
                   "changed")
    return given
