"""`bigcompute autoscale history`: export what Batch knows about a pool as a trace and start-up times that
`autoscale simulate` replays (calibration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from bigcompute.cli.app import App
from bigcompute.cli.autoscale_sources import duration
from bigcompute.cli.exit import EXIT_OK
from bigcompute.cli.options import target_options


@click.command("history")
@click.option("--pool", required=True, help="Pool of --stack whose history to export.")
@click.option("--since", help="Only tasks created within this long before now (ISO 8601, e.g. P7D).")
@click.option("--trace-out", required=True, help="Write the tasks as a trace CSV (time,duration,slots) here.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@target_options
def history_command(pool: str, since: str | None, trace_out: str, fmt: str, target_kind: str, stack: str,
                    outputs_file: str | None) -> None:
    """Export a pool's task arrivals and run times, node start-up times and last autoscale run."""
    from bigcompute.autoscale.calibrate import ready_time_options, start_up, trace_csv

    window = duration(since, "--since") if since else None

    def body(app: App) -> int:
        term = app.term
        found = app.runner(target_kind, stack, outputs_file).pool_history(
            pool, datetime.now(UTC) - window if window else None)
        text, unfinished = trace_csv(found.tasks)
        Path(trace_out).write_text(text)
        s = start_up(found.nodes)
        report = {"pool": found.pool_id, "tasks": len(found.tasks), "unfinished_tasks_left_out": unfinished,
                  "trace": trace_out, "nodes": len(found.nodes),
                  "start_up_seconds": {"samples": s.samples, "min": s.low, "median": s.median, "max": s.high},
                  "simulate_options": [f"--trace {trace_out}", *ready_time_options(s)],
                  "autoscale_run": found.autoscale_run}
        if fmt == "json":
            term.write(json.dumps(report, indent=2) + "\n")
        else:
            term.write(f"{found.pool_id}: {len(found.tasks)} tasks ({unfinished} not finished, left out) -> "
                       f"{trace_out}\n")
            term.write(f"node start-up: {s.samples} nodes, min {s.low}, median {s.median}, max {s.high} s\n")
            if found.autoscale_run:
                term.write(f"last autoscale run: {found.autoscale_run['results']}\n")
            term.write(f"replay: bigcompute autoscale simulate --stack {stack} --pool {pool} "
                       f"{' '.join(report['simulate_options'])}\n")  # type: ignore[arg-type]
        return EXIT_OK

    App(fmt).run(body)
