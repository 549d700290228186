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

from bigcompute.cli.app import App
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
    App().run(lambda app: run_plan(PlanArgs(stack, fmt, project_dir)))


@dataclass(frozen=True)
class DiffArgs:
    stack: str
    base: str
    format: str = "text"  # text | markdown (a job summary) | github (a pull-request comment: details folded)
    project_dir: Path | None = None
    trace: str | None = None  # simulate each changed autoscale pool before and after on this trace CSV...
    arrivals: str | None = None  # ... or on these synthetic arrivals
    runs: int = 1


def run_diff(args: DiffArgs, out: TextIO | None = None, err: Console | None = None) -> int:
    """0 whether or not anything changed (a review tool, not a gate); 2: invalid input (a bad ref, stack
    name or working-tree stack file; a bad trace raises Exit 2 before any planning); 1: a tree could not be
    planned."""
    # imported here, like run_plan's: only this command needs git, subprocesses and the Pulumi mocks
    from bigcompute.infra.diff import explain, render_markdown, render_text
    from bigcompute.infra.gitdiff import DiffError, load_sides
    from bigcompute.infra.operator import markdown_lead, summarize, text_lead
    from bigcompute.infra.plan import find_project

    out = out or sys.stdout
    err = err or Console(stderr=True, highlight=False)
    trace = _trace(args)  # a bad trace is refused before minutes of planning
    try:
        base, head = load_sides(args.project_dir or find_project(), args.stack, args.base)
    except NoProject as e:
        err.print(f"infra diff: {e}", markup=False, soft_wrap=True)
        return 2
    except DiffError as e:
        err.print(f"infra diff: {e}", markup=False, soft_wrap=True)
        return e.code
    result = explain(base.graph, head.graph, base.label, head.label)
    summary = summarize(base.config, head.config, base.config_error or head.config_error)
    simulated = _simulate(base, head, summary, trace, args) if trace is not None else []
    if args.format == "text":
        path = f"stacks/Pulumi.{args.stack}.yaml"
        lead = text_lead(summary, head.config, path) + [line for label, text in simulated
                                                          for line in (f"{label}:", *_indent(text))]
        out.write(render_text(result, lead))
    else:
        blocks = markdown_lead(summary, head.config) + [
            f"<details><summary>{label}</summary>\n\n```text\n{text}\n```\n</details>" for label, text in simulated]
        out.write(render_markdown(result, blocks, fold=args.format == "github"))
    return 0


def _indent(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()]


def _trace(args: DiffArgs):
    from bigcompute.cli.autoscale_simulate import read_trace

    return read_trace(args.trace, args.arrivals) if args.trace or args.arrivals else None


def _simulate(base, head, summary, trace, args: DiffArgs) -> list[tuple[str, str]]:
    """Each changed autoscale pool before and after on the trace, with the simulator's --compare machinery
    (the same draws and billed span for both sides)."""
    from bigcompute.cli.autoscale_simulate import simulate_items
    from bigcompute.cli.autoscale_sources import pool_formula

    out = []
    for change in summary.pools:
        was = base.config.pool(change.pool) if base.config else None
        now = head.config.pool(change.pool) if head.config else None
        if change.action != "change" or was is None or now is None or was.formula() is None or now.formula() is None:
            continue
        items = [pool_formula(was, f"{change.pool} at {base.label}"), pool_formula(now, f"{change.pool} in the "
                                                                                       "working tree")]
        name = args.trace or args.arrivals
        out.append((f"simulated before and after on {name}: {change.pool}",
                    simulate_items(items, trace, {"runs": args.runs}).bands_text()))
    return out


@infra_group.command("diff")
@click.option("--stack", required=True, help="Stack name: stacks/Pulumi.<NAME>.yaml.")
@click.option("--base", "base_ref", required=True, metavar="GIT_REF",
              help="The git ref to compare the working tree with, e.g. origin/main or HEAD.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "github"]), default="text",
              show_default=True, help="markdown: a job summary; github: a pull-request comment (the resource "
              "tables folded under the change and its cost).")
@click.option("--trace", help="Simulate each changed autoscale pool before and after on this trace CSV "
              "(time,count,duration[,slots]; `autoscale history` exports one from a pool).")
@click.option("--arrivals", help="... or on synthetic arrivals, e.g. steady:rate=30/h,duration=PT10M,for=P1D.")
@click.option("--runs", type=click.IntRange(min=1, max=1000), default=1, show_default=True,
              help="With --trace/--arrivals: runs with random draws (p10/p50/p90).")
@click.option("--project-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder with Pulumi.yaml and __main__.py (default: found from the current folder).")
def diff_command(stack: str, base_ref: str, fmt: str, trace: str | None, arrivals: str | None, runs: int,
                 project_dir: Path | None) -> None:
    """Show what the working tree changes in the stack against GIT_REF: first the change the operator made to
    each pool (scaling, size, prices; cost and vCPUs at maximum), then the added, removed and changed resources
    and properties, and which changes replace a pool. Each side is planned with its own code (the ref's tree is
    exported to a temp folder). Exit 0 with or without changes."""
    App().run(lambda app: run_diff(DiffArgs(stack, base_ref, fmt, project_dir, trace, arrivals, runs)))
