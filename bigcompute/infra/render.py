"""Render a plan for people (a rich table) or machines (JSON)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bigcompute.infra.plan import Plan
from bigcompute.infra.review import physical_name, review, short_type


def render_json(plan: Plan) -> str:
    return json.dumps(plan.as_json(), indent=2, sort_keys=False, default=str)


def render_pools(plan: Plan, console: Console) -> None:
    """One line per pool: what a pull request that resizes or reshapes a pool changes."""
    pools = sorted(plan.graph.resources("azure-native:batch:Pool"), key=lambda n: str(n.inputs.get("poolName")))
    replacing = sorted({p for node in pools for p in node.replace_on_changes})
    table = Table(title="pools", caption=f"a change to {', '.join(replacing)} replaces the pool (deleted, then "
                  "created under the same id); scale settings, formulas, start tasks, packages, metadata, tags and the "
                  "identity update in place (Pool - Update, PATCH)")
    for column in ("pool", "vm size", "task slots", "scale", "network"):
        table.add_column(column, no_wrap=column in ("pool", "vm size"))
    for node in pools:
        lines = dict(review(node))
        table.add_row(str(node.inputs.get("poolName")), lines["vm size"], lines["task slots"], lines["scale"],
                      lines["network"])
    console.print(table)


def render_table(plan: Plan, console: Console) -> None:
    graph = plan.graph
    resources = graph.resources()
    pools = [n for n in resources if n.type == "azure-native:batch:Pool"]
    render_pools(plan, console)
    table = Table(title=f"stack {graph.stack} ({plan.config.path}): {len(resources)} resources, {len(pools)} pools",
                  show_lines=True, expand=False)
    table.add_column("resource", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("name")
    table.add_column("properties")
    flagged = {v.urn for v in plan.violations}
    for depth, node in graph.walk():
        if depth == 0:
            continue
        label = Text("  " * (depth - 1) + node.name, style="bold red" if node.urn in flagged else "")
        props = Text()
        for i, (key, value) in enumerate(review(node)):
            props.append(("\n" if i else "") + f"{key}: ", style="dim")
            props.append(value, style="yellow" if key == "replaced when changed" else "")
        table.add_row(label, short_type(node.type), physical_name(node), props)
    console.print(table)
    outputs = Table(title="stack outputs (the runner's contract)", show_header=True)
    outputs.add_column("output", no_wrap=True)
    outputs.add_column("value")
    for key, value in graph.outputs.items():
        outputs.add_row(key, value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    console.print(outputs)
    render_violations(plan, console)


def render_violations(plan: Plan, console: Console) -> None:
    if not plan.violations:
        console.print(Text("policy: all rules pass", style="green"))
        return
    table = Table(title=f"{len(plan.violations)} policy violation(s)", title_style="bold red")
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", no_wrap=True)
    table.add_column("message")
    for v in plan.violations:
        table.add_row(v.rule, v.resource, v.message)
    console.print(table)
