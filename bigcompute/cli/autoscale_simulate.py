"""`bigcompute autoscale simulate`: one run, many runs with bands (--runs), or two configurations on the
same draws and the same billed span (--compare)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bigcompute.autoscale import parse, presets
from bigcompute.autoscale.durations import format_duration
from bigcompute.autoscale.errors import FormulaError
from bigcompute.autoscale.limits import SPOT_DOC, interval_problem
from bigcompute.autoscale.traces import Trace, TraceError, parse_csv, parse_rate, parse_spec
from bigcompute.cli.app import App
from bigcompute.cli.autoscale_sources import (
    PoolFormula,
    duration,
    preset_formula,
    read_formula,
    stack_at_ref,
    stack_formulas,
)
from bigcompute.cli.exit import EXIT_INVALID, EXIT_OK, Exit
from bigcompute.infra.policy import formula_uses_spot

FORMATS = click.Choice(["text", "json"])
# After the low-priority retirement, Batch turns low-priority requests of Batch-managed accounts into
# Spot nodes (Azure/Batch#196, 2026-02-25); user-subscription accounts always got Spot (SPOT_DOC).
SPOT_NOTE = ("Spot VMs in both pool allocation modes since the low-priority retirement (Azure/Batch#196; "
             f"{SPOT_DOC}); Spot prices vary by region and time")
# Defaults when --runs draws what Batch does not promise (each can be set).
RUN_DEFAULTS = {"ready_time": "PT3M", "ready_time_max": "PT15M", "sample_delay": "PT30S",
                "sample_delay_max": "PT90S", "sample_drop": 0.02}
ONE_RUN_DEFAULTS = {"ready_time": "PT5M", "sample_delay": "PT30S", "sample_drop": 0.0}


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
        return stack_formulas(args.stack, args.pool)[0]
    if args.formula_file:
        text = read_formula(args.formula_file)
        return PoolFormula(args.formula_file, text, uses_spot=formula_uses_spot(text))
    return preset_formula(args.preset, args.params)  # type: ignore[arg-type]


def _compare_formula(spec: str, args: SimulateArgs, first: PoolFormula) -> PoolFormula:
    """`preset:NAME[:K=V,...]`, `stack:NAME:POOL`, `git:REF` (the --stack file at REF) or `file:PATH`.
    A preset or a formula file runs on the first configuration's pool (slots, size, interval, prices)."""
    kind, _, rest = spec.partition(":")
    if kind == "git" and rest and args.stack and args.pool:
        return stack_at_ref(args.stack, args.pool, rest)
    if kind == "stack" and rest.count(":") == 1:
        name, pool = rest.split(":")
        return stack_formulas(name, pool)[0]
    if kind == "preset" and rest:
        name, _, params = rest.partition(":")
        if name not in presets.PRESETS:
            raise Exit(EXIT_INVALID, f"--compare {spec!r}: unknown preset '{name}'; expected one of "
                                     f"{', '.join(presets.PRESETS)}")
        found = preset_formula(name, [p for p in params.split(",") if p], option="--compare")
    elif kind == "file" and rest:
        text = read_formula(rest)
        found = PoolFormula(rest, text, uses_spot=formula_uses_spot(text))
    else:
        raise Exit(EXIT_INVALID, f"--compare {spec!r}: expected preset:NAME[:KEY=VALUE,...], stack:NAME:POOL, "
                                 "file:PATH or git:REF (with --stack and --pool)")
    return replace(first, label=found.label, text=found.text, uses_spot=found.uses_spot)


def _sim_trace(args: SimulateArgs) -> Trace:
    return read_trace(args.trace, args.arrivals)


def read_trace(trace: str | None, arrivals: str | None) -> Trace:
    """A trace CSV file or a synthetic arrivals spec (exactly one); Exit 2 with the located problem."""
    if (trace is None) == (arrivals is None):
        raise Exit(EXIT_INVALID, "give --trace FILE or --arrivals SPEC (one of them)")
    try:
        return parse_csv(read_formula(trace), trace) if trace else parse_spec(arrivals)  # type: ignore[arg-type]
    except TraceError as e:
        raise Exit(EXIT_INVALID, str(e)) from None


def _interval(text: str | None, item: PoolFormula) -> timedelta:
    interval = duration(text, "--evaluation-interval") if text else item.evaluation_interval
    problem = interval_problem(interval)
    if problem:
        where = f"--evaluation-interval {text}" if text else item.label
        raise Exit(EXIT_INVALID, f"{where}: {problem}")
    return interval


def _config(item: PoolFormula, o: dict[str, Any], runs: int) -> Any:
    from bigcompute.autoscale.simulate import SimConfig
    from bigcompute.vm_sizes import vcpus

    try:
        formula = parse(item.text, item.label)
    except FormulaError as e:
        raise Exit(EXIT_INVALID, str(e)) from None
    defaults = RUN_DEFAULTS if runs > 1 else ONE_RUN_DEFAULTS
    pick = lambda key: o.get(key) if o.get(key) is not None else defaults.get(key)  # noqa: E731
    optional = lambda key, option: duration(pick(key), option) if pick(key) else None  # noqa: E731
    vm_size = o.get("vm_size") or item.vm_size
    cores = vcpus(vm_size) if vm_size else None
    if vm_size and cores is None:
        raise Exit(EXIT_INVALID, f"--vm-size {vm_size}: unknown VM size; add it with its vCPUs to "
                                 "bigcompute/vm_sizes.py")
    if (o.get("core_quota") or o.get("spot_core_quota")) and cores is None:
        raise Exit(EXIT_INVALID, "--core-quota needs the pool's VM size: use --stack/--pool or give --vm-size")
    prices = item.pricing
    if o.get("dedicated_price") is not None or o.get("spot_price") is not None:
        prices = _Prices(o.get("dedicated_price") or 0.0, o.get("spot_price") or 0.0)
    return SimConfig(
        formula, evaluation_interval=_interval(o.get("interval"), item),
        task_slots_per_node=o.get("task_slots") or item.task_slots,
        ready_time=duration(pick("ready_time"), "--ready-time"),
        ready_time_max=optional("ready_time_max", "--ready-time-max"),
        preempt_rate=_rate(o.get("preempt_rate") or "0"),
        sample_delay=duration(pick("sample_delay"), "--sample-delay"),
        sample_delay_max=optional("sample_delay_max", "--sample-delay-max"),
        sample_drop=pick("sample_drop"),
        spot_outages=tuple(_outage(x) for x in o.get("spot_outage") or ()),
        start=_start(o.get("start")), tail=duration(o.get("tail") or "PT1H", "--tail"),
        limit=duration(o["limit"], "--limit") if o.get("limit") else None,
        pricing=prices, currency=o.get("currency") or getattr(item.pricing, "currency", None) or "USD",
        vcpus_per_node=cores, core_quota=o.get("core_quota"), spot_core_quota=o.get("spot_core_quota"),
        fill=item.fill, sla=duration(o["sla"], "--sla") if o.get("sla") else None,
        task_retention=duration(o.get("task_retention") or "P7D", "--task-retention"),
        cpu_scale=float(o.get("cpu_scale") or 100), allocation_failure=o.get("allocation_failure") or 0.0,
        resize_timeout=duration(o.get("resize_timeout") or "PT15M", "--resize-timeout"),
        retarget=o.get("retarget") or "immediate", seed=o.get("seed") or 0)


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


def _outage(text: str) -> tuple[timedelta, timedelta]:
    at, plus, length = text.partition("+")
    if not plus:
        raise Exit(EXIT_INVALID, f"--spot-outage {text!r}: expected START+LENGTH, e.g. PT6H+PT2H")
    return duration(at, "--spot-outage"), duration(length, "--spot-outage")


def _start(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Exit(EXIT_INVALID, f"--start {text!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_simulate(args: SimulateArgs) -> int:
    from bigcompute.autoscale.simreport import assumptions_text, summary_text

    o = args.options
    item, trace = _sim_formula(args), _sim_trace(args)
    items = [item] + ([_compare_formula(o["compare"], args, item)] if o.get("compare") else [])
    sim = simulate_items(items, trace, o)
    first = sim.results[0][0]
    _write_outputs(args, first, item.label)
    if sim.runs == 1 and len(items) == 1:
        if args.fmt == "json":
            click.echo(json.dumps(first.to_dict() | {"source": item.label, "assumptions": sim.assumptions}, indent=2))
        else:
            click.echo(f"{item.label}: {trace.tasks} tasks, evaluated every "
                       f"{format_duration(sim.configs[0].evaluation_interval)}")
            click.echo(summary_text(first.summary))
            click.echo(assumptions_text(sim.assumptions))
        return EXIT_OK
    if args.fmt == "json":
        click.echo(json.dumps(sim.bands_json(), indent=2))
    else:
        click.echo(sim.bands_text())
    return EXIT_OK


@dataclass(frozen=True)
class Simulated:
    """Runs of one or more configurations on one trace (the same draws and billed span when compared)."""
    items: list[PoolFormula]
    trace: Trace
    configs: list[Any]
    results: list[list[Any]]  # per configuration, per run: SimResult
    assumptions: dict[str, str]
    runs: int

    def bands_json(self) -> dict[str, Any]:
        from bigcompute.autoscale import uncertainty as unc

        return {"assumptions": self.assumptions, "runs": self.runs, "configurations": [
            {"source": x.label, "formula_errors": unc.failures(rs),
             "bands": {k: dict(zip(("p10", "p50", "p90"), v, strict=True)) for k, v in unc.bands(rs).items()},
             "runs": [r.summary.to_dict() for r in rs]}
            for x, rs in zip(self.items, self.results, strict=True)]}

    def bands_text(self) -> str:
        from bigcompute.autoscale import uncertainty as unc
        from bigcompute.autoscale.simreport import assumptions_text, bands_text

        head = (f"{self.trace.tasks} tasks, {self.runs} run{'s' if self.runs > 1 else ''}"
                + (", same draws and billed span for both" if len(self.items) > 1 else ""))
        table = bands_text([x.label for x in self.items], [unc.bands(r) for r in self.results],
                           self.configs[0].currency, [unc.failures(r) for r in self.results])
        return "\n".join([head, table, assumptions_text(self.assumptions)])


def simulate_items(items: list[PoolFormula], trace: Trace, o: dict[str, Any]) -> Simulated:
    """Simulate each configuration on `trace` with the simulate command's options `o` (--runs, --seed...); two
    or more run on the same draws and are billed over the same span, as --compare does."""
    from bigcompute.autoscale import uncertainty as unc
    from bigcompute.autoscale.simulate import assumptions as describe
    from bigcompute.autoscale.simulate import simulate

    runs = o.get("runs") or 1
    configs = [_config(x, o, runs) for x in items]
    spread = unc.Spread(runs, o.get("seed") or 0, duration(o.get("jitter") or "PT5M", "--jitter"),
                        o.get("outages_per_week") if o.get("outages_per_week") is not None else 1.0,
                        duration(o.get("outage_length") or "PT2H", "--outage-length"))
    try:
        if runs > 1:
            results = unc.simulate_runs(trace, configs, spread)
        else:
            results = [[r] for r in (unc.same_span(trace, configs) if len(configs) > 1 else [simulate(trace, configs[0])])]
    except ValueError as e:
        raise Exit(EXIT_INVALID, f"cannot simulate: {e}") from None
    assumptions = _assumptions(results[0][0].assumptions, items, configs[0], spread if runs > 1 else None)
    assumptions["trace"] = describe(configs[0], trace)["trace"]  # the trace given, before any jitter
    if len(items) > 1:
        assumptions["billed span"] = "the same for both configurations in each run (the longer of the two)"
    return Simulated(items, trace, configs, results, assumptions, runs)


def _assumptions(base: dict[str, str], items: list[PoolFormula], config: Any, spread: Any) -> dict[str, str]:
    out = dict(base)
    spot = any(x.uses_spot for x in items)
    if spot:
        out["spot"] = f"{out['spot']}; {SPOT_NOTE}"
    else:
        out.pop("spot", None)
    if spread is not None:
        out.update(spread.describe())
        out["evaluation"] = f"every {format_duration(config.evaluation_interval)}, phase drawn per run"
        if not spot:
            out.pop("spot outages", None)
    return out


def _write_outputs(args: SimulateArgs, result: Any, label: str) -> None:
    if args.series_out:
        body = result.series_json() if args.series_out.endswith(".json") else result.series_csv()
        Path(args.series_out).write_text(body)
    if args.plot:
        from bigcompute.autoscale.plot import save_png

        save_png(result, args.plot, title=label)


@click.command("simulate")
@click.option("--stack", help="Stack whose --pool to simulate (formula, interval, task slots, VM size, prices).")
@click.option("--pool", help="Pool of --stack.")
@click.option("--formula-file", help="Simulate this formula instead of a stack pool.")
@click.option("--preset", type=click.Choice(sorted(presets.PRESETS)), help="Simulate a preset instead.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A --preset parameter (repeatable).")
@click.option("--trace", help="CSV of task arrivals: time,count,duration[,slots].")
@click.option("--arrivals", help="Synthetic arrivals, e.g. steady:rate=30/h,duration=PT10M,for=P1D.")
@click.option("--compare", metavar="SPEC", help="A second configuration on the same draws and billed span: "
              "preset:NAME[:K=V,...], stack:NAME:POOL, file:PATH or git:REF (the --stack file at REF).")
@click.option("--runs", type=click.IntRange(min=1, max=1000), help="Runs with random draws; prints p10/p50/p90.")
@click.option("--evaluation-interval", "interval", help="Override the pool's interval (ISO 8601, PT5M to PT168H).")
@click.option("--task-slots", type=click.IntRange(min=1), help="Override the pool's task slots per node.")
@click.option("--vm-size", help="VM size (vCPUs for --core-quota); default: the stack pool's.")
@click.option("--core-quota", type=click.IntRange(min=1), help="The account's dedicated core quota (vCPUs).")
@click.option("--spot-core-quota", type=click.IntRange(min=1), help="The account's spot core quota (vCPUs).")
@click.option("--ready-time", help="Node start-up time (default PT5M; PT3M with --runs).")
@click.option("--ready-time-max", help="Draw start-up uniformly up to this (default with --runs: PT15M).")
@click.option("--sample-delay", help="How late metric samples become visible (default PT30S).")
@click.option("--sample-delay-max", help="Draw each sample's delay up to this (default with --runs: PT90S).")
@click.option("--sample-drop", type=click.FloatRange(0, 1, max_open=True),
              help="Share of samples that never arrive (default 0; 0.02 with --runs).")
@click.option("--preempt-rate", help="Spot preemptions per node-hour (0.05, or 1/d). Default 0.")
@click.option("--spot-outage", multiple=True, metavar="START+LENGTH", help="No spot capacity from START for "
              "LENGTH, e.g. PT6H+PT2H (repeatable; --runs draws outages instead).")
@click.option("--outages-per-week", type=click.FloatRange(min=0), help="Spot outages drawn per week with --runs "
              "(default 1).")
@click.option("--outage-length", help="Length of each drawn spot outage (default PT2H).")
@click.option("--jitter", help="With --runs, move each arrival by up to this either way (default PT5M).")
@click.option("--sla", help="Longest acceptable task wait (ISO 8601); the report counts misses.")
@click.option("--dedicated-price", type=float, help="Price per dedicated node-hour (overrides the stack's).")
@click.option("--spot-price", type=float, help="Price per spot node-hour (overrides the stack's).")
@click.option("--currency", help="Currency of the prices (default: the stack pool's pricing.currency, else USD).")
@click.option("--cpu-scale", type=click.Choice(["100", "1"]), help="What $CPUPercent reads at full load (default "
              "100; Batch's docs disagree, see the cpu preset's cpuScale).")
@click.option("--allocation-failure", type=click.FloatRange(0, 1, max_open=True),
              help="Share of node requests that fail to allocate (resize errors). Default 0.")
@click.option("--resize-timeout", help="How long a failed request keeps the pool resizing (default PT15M, "
              "Batch's; minimum PT5M).")
@click.option("--retarget", type=click.Choice(["immediate", "after-resize"]),
              help="What an evaluation does while the pool is still resizing: apply its target at once (default) "
              "or wait for the resize to finish (Batch's docs leave it open; compare both).")
@click.option("--task-retention", help="Task retention time, for retaineddata (default P7D, Batch's).")
@click.option("--start", help="Simulated start time, ISO 8601 (default: 2025-01-06T00:00Z, a Monday).")
@click.option("--tail", help="Keep simulating this long after the last task (default PT1H).")
@click.option("--limit", help="Stop after this long whatever is left (default: last arrival + P1D).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--series-out", help="Write the (first run's) time series to FILE.csv or FILE.json.")
@click.option("--plot", help="Write a PNG of queue length, target and ready nodes (first run).")
def simulate_command(stack: str | None, pool: str | None, formula_file: str | None, preset: str | None,
                     params: tuple[str, ...], trace: str | None, arrivals: str | None, fmt: str,
                     series_out: str | None, plot: str | None, **options: Any) -> None:
    """Replay how Batch would scale a pool through a trace of task arrivals."""
    args = SimulateArgs(stack, pool, formula_file, preset, params, trace, arrivals, options, fmt, series_out, plot)
    App().run(lambda app: run_simulate(args))
