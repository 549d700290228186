"""The HTML run report (`report WORKLOAD`, `apply --wait --report FILE`): one small self-contained file, rendered
with Jinja2 with autoescaping on, since it quotes task ids, parameters and stderr lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from bigcompute.cli.terminal import Terminal
from bigcompute.config.capacity import money


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 90 else f"{value / 60:.1f} min" if value < 5400 else f"{value / 3600:.1f} h"


def _left(run: Any, task: Any) -> float:
    if not run.span or not task.started:
        return 0.0
    return round(100 * (task.started - run.start).total_seconds() / run.span, 3)


def _width(run: Any, task: Any) -> float:
    if not run.span or task.seconds is None:
        return 0.0
    return round(100 * task.seconds / run.span, 3)


def _lanes(tasks: Any) -> list[list[Any]]:
    """The node's tasks in rows that never overlap (a node runs several at once when it has several slots)."""
    lanes: list[list[Any]] = []
    for t in sorted(tasks, key=lambda t: t.started):
        lane = next((lane for lane in lanes if (lane[-1].ended or lane[-1].started) <= t.started), None)
        if lane is None:
            lanes.append([t])
        else:
            lane.append(t)
    return lanes


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def render_html(runs: list[Any]) -> str:
    """The report of one or more runs (runner.report.RunReport)."""
    env = Environment(loader=PackageLoader("bigcompute.cli", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(seconds=_seconds, left=_left, width=_width, money=money, lanes=_lanes, when=_when)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return env.get_template("report.html.j2").render(runs=runs, made=made)


def write_report(term: Terminal, file: Path, runs: list[Any]) -> None:
    file.write_text(render_html(runs))
    term.success(f"report of {', '.join(f'{r.workload} (job {r.job})' for r in runs)} in {file}")
