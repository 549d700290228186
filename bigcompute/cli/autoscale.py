"""`bigcompute autoscale check|eval|simulate`: write, test and tune autoscale formulas before deploying.

Exit codes: 0 fine, 1 the formula ran but its evaluation failed (e.g. InsufficientSampleData),
2 invalid input (a located formula error, a bad option, trace or stack).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import click

from bigcompute.autoscale import MetricHistory, PoolState, check, evaluate, parse
from bigcompute.autoscale.catalog import canonical_metric
from bigcompute.autoscale.errors import FormulaError
from bigcompute.cli.app import App
from bigcompute.cli.autoscale_sources import PoolFormula, duration, read_formula, stack_formulas
from bigcompute.cli.exit import EXIT_FAILED, EXIT_INVALID, EXIT_OK, Exit
from bigcompute.config.capacity import metrics_text, money, plural

FORMATS = click.Choice(["text", "json"])


@click.group("autoscale")
def autoscale_group() -> None:
    """Check, evaluate and simulate Azure Batch autoscale formulas."""


# check ---------------------------------------------------------------------------------------------
def run_check(formula_file: str | None, stack: str | None, fmt: str) -> int:
    if (formula_file is None) == (stack is None):
        raise Exit(EXIT_INVALID, "give a FORMULA_FILE or --stack NAME (one of them)")
    items = stack_formulas(stack) if stack else [PoolFormula(formula_file, read_formula(formula_file))]  # type: ignore[arg-type]
    found = [(item, check(item.text, source=item.label)) for item in items]
    if fmt == "json":
        click.echo(json.dumps([{"source": item.label, "valid": not errors, "errors": [
            {"line": e.line, "column": e.column, "message": e.message, "code": e.code} for e in errors]}
            | ({"review": review_json(item)} if not errors else {}) for item, errors in found], indent=2))
    else:
        for item, errors in found:
            for error in errors:
                click.echo(str(error))
            if not errors:
                click.echo("\n".join(review_lines(item)))
        if not items:
            click.echo(f"stack {stack}: no autoscale pools")
    return EXIT_INVALID if any(errors for _, errors in found) else EXIT_OK


def review_lines(item: PoolFormula) -> list[str]:
    """What a reviewer of the formula needs: its scaling, the metrics it follows, its size and cost at max."""
    c = item.capacity
    if c is None:  # a formula file: no pool, so no size or price
        metrics = sorted(m for m in parse(item.text).metrics if m != "$TaskSlotsPerNode")
        return [f"{item.label}: ok, reads {metrics_text(tuple(metrics))}; size and cost at max need a pool "
                "(check the stack with --stack NAME)"]
    bounds = f"minNodes {c.min_nodes}, maxNodes {c.max_nodes}" if c.max_nodes is not None else \
        "no stated maximum (raw formula)"
    lines = [f"{item.label}: ok",
             f"  scaling  {c.scale}, {bounds}, evaluated every {c.interval}",
             f"  metric   {metrics_text(c.metrics)}"]
    if c.max_nodes is not None:
        cores = f"{c.max_vcpus:,} vCPUs" if c.max_vcpus is not None else "vCPUs unknown"
        cost = f"{money(c.max_per_hour, c.currency)}/h ({c.pricing.provenance})" if c.pricing else \
            "no pricing in the stack"
        spot = " if every node is dedicated (spot falls back to dedicated)" if item.uses_spot else ""
        lines.append(f"  at max   {plural(c.max_nodes, 'node')} x {c.vm_size} = {cores}, {cost}{spot}")
    return lines


def review_json(item: PoolFormula) -> dict:
    c = item.capacity
    if c is None:
        return {"metrics": sorted(m for m in parse(item.text).metrics if m != "$TaskSlotsPerNode")}
    pricing = c.pricing
    return {"pool": c.pool, "scaling": c.scale, "minNodes": c.min_nodes, "maxNodes": c.max_nodes,
            "metrics": list(c.metrics), "evaluationInterval": c.interval, "vmSize": c.vm_size,
            "vcpusAtMax": c.max_vcpus, "costPerHourAtMax": c.max_per_hour,
            "prices": None if pricing is None else {"currency": pricing.currency, "source": pricing.source,
                                                    "asOf": pricing.as_of}}


@autoscale_group.command("check")
@click.argument("formula_file", required=False)
@click.option("--stack", help="Check the formula of every autoscale pool of stacks/Pulumi.<STACK>.yaml.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def check_command(formula_file: str | None, stack: str | None, fmt: str) -> None:
    """Check a formula file ('-' for stdin) or a stack's formulas; exit 2 with located errors."""
    App().run(lambda app: run_check(formula_file, stack, fmt))


# eval ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalArgs:
    formula_file: str | None
    formula: str | None
    stack: str | None
    pool: str | None
    metrics: tuple[str, ...]
    pool_state: dict[str, int | None]
    time: str | None
    history: str
    fmt: str


def _formula_text(args: EvalArgs) -> tuple[str, str]:
    given = [x for x in (args.formula_file, args.formula, args.stack) if x is not None]
    if len(given) != 1:
        raise Exit(EXIT_INVALID, "give exactly one of FORMULA_FILE, --formula TEXT or --stack NAME --pool NAME")
    if args.formula is not None:
        return args.formula, "formula"
    if args.formula_file is not None:
        return read_formula(args.formula_file), args.formula_file
    if args.pool is None:
        raise Exit(EXIT_INVALID, "--stack needs --pool NAME")
    item = stack_formulas(args.stack, args.pool)[0]  # type: ignore[arg-type]
    return item.text, item.label


def _metric_values(specs: tuple[str, ...]) -> dict[str, float | list[float]]:
    values: dict[str, float | list[float]] = {}
    for spec in specs:
        name, eq, raw = spec.partition("=")
        name = name.strip() if name.strip().startswith("$") else "$" + name.strip()
        if not eq or canonical_metric(name) is None:
            raise Exit(EXIT_INVALID, f"--metric {spec!r}: expected NAME=VALUE[,VALUE...] with a read-only "
                                     "metric such as $PendingTasks=12 or $CPUPercent=40,55,70")
        try:
            numbers = [float(x) for x in raw.split(",")]
        except ValueError:
            raise Exit(EXIT_INVALID, f"--metric {spec!r}: values must be numbers") from None
        values[name] = numbers[0] if len(numbers) == 1 else numbers
    return values


def run_eval(args: EvalArgs) -> int:
    text, source = _formula_text(args)
    try:
        formula = parse(text, source)
    except FormulaError as e:
        raise Exit(EXIT_INVALID, str(e)) from None
    try:
        now = datetime.fromisoformat(args.time.replace("Z", "+00:00")) if args.time else datetime.now(UTC)
    except ValueError:
        raise Exit(EXIT_INVALID, f"--time {args.time!r} is not an ISO 8601 date-time") from None
    history = MetricHistory.constant(_metric_values(args.metrics), now, duration(args.history, "--history"))
    result = evaluate(formula, history, PoolState(**args.pool_state), now)  # type: ignore[arg-type]
    if args.fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(result.results)
    if result.error:
        details = "; ".join(v for _, v in result.error.values)
        click.echo(f"error: {result.error.code}: {result.error.message}" + (f": {details}" if details else ""),
                   err=True)
        return EXIT_FAILED
    return EXIT_OK


@autoscale_group.command("eval")
@click.argument("formula_file", required=False)
@click.option("--formula", help="The formula text itself instead of a file.")
@click.option("--stack", help="Take the formula of --pool from this stack.")
@click.option("--pool", help="Pool of --stack.")
@click.option("--metric", "metrics", multiple=True, metavar="NAME=V[,V...]",
              help="A metric's samples: one value fills the whole --history; several are the latest "
                   "samples, oldest first, 30 s apart. Repeatable, e.g. --metric '$PendingTasks=12'.")
@click.option("--current-dedicated", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--current-low-priority", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--target-dedicated", type=click.IntRange(min=0), help="Default: --current-dedicated.")
@click.option("--target-low-priority", type=click.IntRange(min=0), help="Default: --current-low-priority.")
@click.option("--preempted", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--task-slots", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--time", "time_", help="Evaluation time, ISO 8601 (default: now, UTC).")
@click.option("--history", default="PT1H", show_default=True, help="Span a single --metric value fills.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def eval_command(formula_file: str | None, formula: str | None, stack: str | None, pool: str | None,
                 metrics: tuple[str, ...], current_dedicated: int, current_low_priority: int,
                 target_dedicated: int | None, target_low_priority: int | None, preempted: int, task_slots: int,
                 time_: str | None, history: str, fmt: str) -> None:
    """Evaluate a formula once, as Batch's evaluate API does, and print its results string."""
    state = {"current_dedicated": current_dedicated, "current_low_priority": current_low_priority,
             "target_dedicated": target_dedicated, "target_low_priority": target_low_priority,
             "preempted": preempted, "task_slots_per_node": task_slots}
    App().run(lambda app: run_eval(EvalArgs(formula_file, formula, stack, pool, metrics, state, time_, history, fmt)))


from bigcompute.cli.autoscale_history import history_command  # noqa: E402 - registered last
from bigcompute.cli.autoscale_simulate import simulate_command  # noqa: E402

autoscale_group.add_command(simulate_command)
autoscale_group.add_command(history_command)
