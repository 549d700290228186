"""`bigcompute infra plan` and `infra diff`: review the infrastructure a stack declares, offline, without
credentials, and what a change (a pull request) does to it."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console

from bigcompute.config import ConfigError
from bigcompute.project import NoProject


@dataclass(frozen=True)
class PlanArgs:
    stack: str
    format: str = "table"
    project_dir: Path | None = None


def run_plan(args: PlanArgs, out: Console | None = None, err: Console | None = None) -> int:
    """0: the plan passes every policy rule; 2: a policy violation or an invalid stack file; 1: the program failed."""
    # imported here: the Pulumi SDK takes a moment to load and other commands never need it
    from bigcompute.infra.plan import build_plan
    from bigcompute.infra.render import render_json, render_table
    from bigcompute.infra.runtime import ProgramError

    out = out or Console(width=None if sys.stdout.isatty() else 200)
    err = err or Console(stderr=True, highlight=False)
    try:
        plan = build_plan(args.stack, args.project_dir)
    except NoProject as e:
        err.print(f"infra plan: {e}", markup=False, soft_wrap=True)
        return 2
    except ConfigError as e:
        if args.format == "json":
            out.print_json(json.dumps({"stack": args.stack, "errors": [d.as_json() for d in e.diagnostics]}))
        for diagnostic in e.diagnostics:
            err.print(str(diagnostic), markup=False, soft_wrap=True)
        return 2
    except ProgramError as e:
        err.print(f"the Pulumi program failed for stack '{args.stack}': {e}", markup=False, soft_wrap=True)
        return 1
    if args.format == "json":
        out.file.write(render_json(plan) + "\n")
    else:
        render_table(plan, out)
    for violation in plan.violations:
        err.print(f"policy violation [{violation.rule}] {violation.resource}: {violation.message}", markup=False,
                  soft_wrap=True)
    return 0 if plan.ok else 2


@click.group("infra")
def infra_group() -> None:
    """Review the Azure infrastructure of a stack offline (the Pulumi program under mocks)."""


@infra_group.command("plan")
@click.option("--stack", required=True, help="Stack name: stacks/Pulumi.<NAME>.yaml.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--project-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder with Pulumi.yaml and __main__.py (default: found from the current folder).")
def plan_command(stack: str, fmt: str, project_dir: Path | None) -> None:
    """Print the resources the stack declares, what matters for review, and any policy violation."""
    sys.exit(run_plan(PlanArgs(stack, fmt, project_dir)))


@dataclass(frozen=True)
class DiffArgs:
    stack: str
    base: str
    format: str = "text"
    project_dir: Path | None = None


def run_diff(args: DiffArgs, out: TextIO | None = None, err: Console | None = None) -> int:
    """0 whether or not anything changed (a review tool, not a gate); 2: invalid input (a bad ref, stack
    name or working-tree stack file); 1: a tree could not be planned."""
    # imported here, like run_plan's: only this command needs git, subprocesses and the Pulumi mocks
    from bigcompute.infra.diff import explain, render_markdown, render_text
    from bigcompute.infra.gitdiff import DiffError, load_sides
    from bigcompute.infra.plan import find_project

    out = out or sys.stdout
    err = err or Console(stderr=True, highlight=False)
    try:
        base, head = load_sides(args.project_dir or find_project(), args.stack, args.base)
    except NoProject as e:
        err.print(f"infra diff: {e}", markup=False, soft_wrap=True)
        return 2
    except DiffError as e:
        err.print(f"infra diff: {e}", markup=False, soft_wrap=True)
        return e.code
    result = explain(base.graph, head.graph, base.label, head.label)
    out.write(render_markdown(result) if args.format == "markdown" else render_text(result))
    return 0


@infra_group.command("diff")
@click.option("--stack", required=True, help="Stack name: stacks/Pulumi.<NAME>.yaml.")
@click.option("--base", "base_ref", required=True, metavar="GIT_REF",
              help="The git ref to compare the working tree with, e.g. origin/main or HEAD.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
@click.option("--project-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder with Pulumi.yaml and __main__.py (default: found from the current folder).")
def diff_command(stack: str, base_ref: str, fmt: str, project_dir: Path | None) -> None:
    """Show what the working tree changes in the stack's resources against GIT_REF: added, removed and
    changed resources and properties, and which changes replace a pool. Each side is planned with its own
    code (the ref's tree is exported to a temp folder). Exit 0 with or without changes."""
    sys.exit(run_diff(DiffArgs(stack, base_ref, fmt, project_dir)))
