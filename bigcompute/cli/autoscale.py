"""`bigcompute autoscale check|eval|simulate`: write, test and tune autoscale formulas before deploying.

Exit codes: 0 fine, 1 the formula ran but its evaluation failed (e.g. InsufficientSampleData),
2 invalid input (a located formula error, a bad option, trace or stack).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bigcompute.autoscale import MetricHistory, PoolState, check, evaluate, parse, presets
from bigcompute.autoscale.catalog import canonical_metric
from bigcompute.autoscale.durations import format_duration, parse_duration
from bigcompute.autoscale.errors import FormulaError
from bigcompute.autoscale.traces import Trace, TraceError, parse_csv, parse_rate, parse_spec
from bigcompute.cli.exit import EXIT_FAILED, EXIT_INVALID, EXIT_OK, Exit
from bigcompute.document.files import NotRegularFile, read_regular

FORMATS = click.Choice(["text", "json"])


@click.group("autoscale")
def autoscale_group() -> None:
    """Check, evaluate and simulate Azure Batch autoscale formulas."""


def _read(path: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else read_regular(path)
    except NotRegularFile as e:
        raise Exit(EXIT_INVALID, f"{path}:1:1: cannot read file: it is {e}") from None
    except OSError as e:
        raise Exit(EXIT_INVALID, f"{path}: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:  # located like every other formula error
        before = raw[: e.start]
        line, column = before.count(b"\n") + 1, e.start - (before.rfind(b"\n") + 1) + 1
        raise Exit(EXIT_INVALID, f"{path}:{line}:{column}: file is not valid UTF-8 "
                                 f"(byte 0x{raw[e.start]:02x})") from None


def _duration(text: str, option: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise Exit(EXIT_INVALID, f"{option}: {e}") from None


@dataclass(frozen=True)
class PoolFormula:
    """A formula with what the stack says about its pool (defaults when it came from a file)."""
    label: str
    text: str
    evaluation_interval: timedelta = timedelta(minutes=15)
    task_slots: int = 1
    pricing: Any = None
    fill: str = "spread"


def _stack_formulas(stack_name: str, pool_name: str | None = None) -> list[PoolFormula]:
    from bigcompute.config import AutoScale, ConfigError, load_stack

    try:
        stack = load_stack(stack_name)
    except ConfigError as e:
        raise Exit(EXIT_INVALID, "\n".join(str(d) for d in e.diagnostics)) from None
    pools = [p for p in stack.pools if pool_name is None or p.name == pool_name]
    if pool_name is not None and not pools:
        raise Exit(EXIT_INVALID, f"stack '{stack.name}' has no pool '{pool_name}'; it has "
                                 f"{', '.join(p.name for p in stack.pools)}")
    out = []
    for pool in pools:
        if not isinstance(pool.scale, AutoScale):
            if pool_name is not None:
                raise Exit(EXIT_INVALID, f"pool '{pool.name}' has a fixed size; there is no formula to use")
            continue
        try:
            text = pool.formula() or ""
        except presets.PresetError as e:
            raise Exit(EXIT_INVALID, f"{stack.path}: pool {pool.name}: {e}") from None
        out.append(PoolFormula(f"{stack.path}:{pool.name}", text, pool.scale.evaluation_interval,
                               pool.task_slots_per_node, pool.pricing, getattr(pool, "scheduling", "spread")))
    return out


# check ---------------------------------------------------------------------------------------------
def run_check(formula_file: str | None, stack: str | None, fmt: str) -> int:
    if (formula_file is None) == (stack is None):
        raise Exit(EXIT_INVALID, "give a FORMULA_FILE or --stack NAME (one of them)")
    items = _stack_formulas(stack) if stack else [PoolFormula(formula_file, _read(formula_file))]  # type: ignore[arg-type]
    found = [(item, check(item.text, source=item.label)) for item in items]
    if fmt == "json":
        click.echo(json.dumps([{"source": item.label, "valid": not errors, "errors": [
            {"line": e.line, "column": e.column, "message": e.message, "code": e.code} for e in errors]}
            for item, errors in found], indent=2))
    else:
        for item, errors in found:
            for error in errors:
                click.echo(str(error))
            if not errors:
                count = len(parse(item.text).statements)
                click.echo(f"{item.label}: ok ({count} statement{'' if count == 1 else 's'})")
        if not items:
            click.echo(f"stack {stack}: no autoscale pools")
    return EXIT_INVALID if any(errors for _, errors in found) else EXIT_OK


@autoscale_group.command("check")
@click.argument("formula_file", required=False)
@click.option("--stack", help="Check the formula of every autoscale pool of stacks/Pulumi.<STACK>.yaml.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def check_command(formula_file: str | None, stack: str | None, fmt: str) -> None:
    """Check a formula file ('-' for stdin) or a stack's formulas; exit 2 with located errors."""
    Exit.run(lambda: run_check(formula_file, stack, fmt))


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
        return _read(args.formula_file), args.formula_file
    if args.pool is None:
        raise Exit(EXIT_INVALID, "--stack needs --pool NAME")
    item = _stack_formulas(args.stack, args.pool)[0]  # type: ignore[arg-type]
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
    history = MetricHistory.constant(_metric_values(args.metrics), now, _duration(args.history, "--history"))
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
    Exit.run(lambda: run_eval(EvalArgs(formula_file, formula, stack, pool, metrics, state, time_, history, fmt)))


# simulate ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulateArgs:
    stack: str | None = None
    pool: str | None = None
    formula_file: str | None = None
    preset: str | None = None
    params: tuple[str, ...] = ()
    trace: str | None = None
    arrivals: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    fmt: str = "text"
    series_out: str | None = None
    plot: str | None = None


def _sim_formula(args: SimulateArgs) -> PoolFormula:
    given = [x for x in (args.stack, args.formula_file, args.preset) if x is not None]
    if len(given) != 1:
        raise Exit(EXIT_INVALID, "give exactly one of --stack NAME --pool NAME, --formula-file FILE or --preset NAME")
    if args.stack:
        if not args.pool:
            raise Exit(EXIT_INVALID, "--stack needs --pool NAME")
        return _stack_formulas(args.stack, args.pool)[0]
    if args.formula_file:
        return PoolFormula(args.formula_file, _read(args.formula_file))
    params = {}
    for item in args.params:
        key, eq, raw = item.partition("=")
        if not eq:
            raise Exit(EXIT_INVALID, f"--param {item!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    try:
        return PoolFormula(f"preset {args.preset}", presets.render(args.preset, params))  # type: ignore[arg-type]
    except presets.PresetError as e:
        raise Exit(EXIT_INVALID, f"--param {e}") from None


def _sim_trace(args: SimulateArgs) -> Trace:
    if (args.trace is None) == (args.arrivals is None):
        raise Exit(EXIT_INVALID, "give --trace FILE or --arrivals SPEC (one of them)")
    try:
        return parse_csv(_read(args.trace), args.trace) if args.trace else parse_spec(args.arrivals)  # type: ignore[arg-type]
    except TraceError as e:
        raise Exit(EXIT_INVALID, str(e)) from None


def run_simulate(args: SimulateArgs) -> int:
    from bigcompute.autoscale.simreport import summary_text
    from bigcompute.autoscale.simulate import SimConfig, simulate

    item, trace = _sim_formula(args), _sim_trace(args)
    try:
        formula = parse(item.text, item.label)
    except FormulaError as e:
        raise Exit(EXIT_INVALID, str(e)) from None
    o = args.options
    config = SimConfig(
        formula,
        evaluation_interval=_duration(o["interval"], "--evaluation-interval") if o.get("interval")
        else item.evaluation_interval,
        task_slots_per_node=o.get("task_slots") or item.task_slots,
        ready_time=_duration(o.get("ready_time", "PT5M"), "--ready-time"),
        preempt_rate=_rate(o.get("preempt_rate", "0")),
        sample_delay=_duration(o.get("sample_delay", "PT30S"), "--sample-delay"),
        start=_start(o.get("start")),
        tail=_duration(o.get("tail", "PT1H"), "--tail"),
        limit=_duration(o["limit"], "--limit") if o.get("limit") else None,
        pricing=_Prices(o["dedicated_price"] or 0.0, o["spot_price"] or 0.0)
        if o.get("dedicated_price") is not None or o.get("spot_price") is not None else item.pricing,
        fill=item.fill, seed=o.get("seed", 0))
    try:
        result = simulate(trace, config)
    except ValueError as e:
        raise Exit(EXIT_INVALID, f"cannot simulate: {e}") from None
    if args.series_out:
        body = result.series_json() if args.series_out.endswith(".json") else result.series_csv()
        Path(args.series_out).write_text(body)
    if args.plot:
        from bigcompute.autoscale.plot import save_png

        save_png(result, args.plot, title=item.label)
    if args.fmt == "json":
        click.echo(json.dumps(result.to_dict() | {"source": item.label}, indent=2))
    else:
        click.echo(f"{item.label}: {trace.tasks} tasks, evaluated every "
                   f"{format_duration(config.evaluation_interval)}")
        click.echo(summary_text(result.summary))
    return EXIT_OK


@dataclass(frozen=True)
class _Prices:
    dedicated_per_hour: float
    spot_per_hour: float


def _rate(text: str) -> float:
    try:
        value = parse_rate(text) * 3600 if "/" in str(text) else float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise Exit(EXIT_INVALID, f"--preempt-rate {text!r}: expected preemptions per spot node-hour, e.g. 0.05 or 1/d")
    return value


def _start(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Exit(EXIT_INVALID, f"--start {text!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@autoscale_group.command("simulate")
@click.option("--stack", help="Stack whose --pool to simulate (formula, interval, task slots, prices).")
@click.option("--pool", help="Pool of --stack.")
@click.option("--formula-file", help="Simulate this formula instead of a stack pool.")
@click.option("--preset", type=click.Choice(sorted(presets.PRESETS)), help="Simulate a preset instead.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A --preset parameter (repeatable).")
@click.option("--trace", help="CSV of task arrivals: time,count,duration.")
@click.option("--arrivals", help="Synthetic arrivals, e.g. steady:rate=30/h,duration=PT10M,for=P1D.")
@click.option("--evaluation-interval", "interval", help="Override the pool's interval (ISO 8601, >= PT5M on Batch).")
@click.option("--task-slots", type=click.IntRange(min=1), help="Override the pool's task slots per node.")
@click.option("--ready-time", default="PT5M", show_default=True, help="Time from requesting a node to it running tasks.")
@click.option("--preempt-rate", default="0", show_default=True, help="Spot preemptions per node-hour (0.05, or 1/d).")
@click.option("--sample-delay", default="PT30S", show_default=True, help="How late metric samples become visible.")
@click.option("--dedicated-price", type=float, help="Price per dedicated node-hour (overrides the stack's).")
@click.option("--spot-price", type=float, help="Price per spot node-hour (overrides the stack's).")
@click.option("--start", help="Simulated start time, ISO 8601 (default: 2025-01-06T00:00Z, a Monday).")
@click.option("--tail", default="PT1H", show_default=True, help="Keep simulating this long after the last task.")
@click.option("--limit", help="Stop after this long whatever is left (default: last arrival + P1D).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--series-out", help="Write the time series to FILE.csv or FILE.json.")
@click.option("--plot", help="Write a PNG of queue length, target and ready nodes.")
def simulate_command(stack: str | None, pool: str | None, formula_file: str | None, preset: str | None,
                     params: tuple[str, ...], trace: str | None, arrivals: str | None, fmt: str,
                     series_out: str | None, plot: str | None, **options: Any) -> None:
    """Replay how Batch would scale a pool through a trace of task arrivals."""
    args = SimulateArgs(stack, pool, formula_file, preset, params, trace, arrivals, options, fmt, series_out, plot)
    Exit.run(lambda: run_simulate(args))
