"""What a simulation returns, and its CSV / JSON / text forms."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import ClassVar

from bigcompute.autoscale.values import format_timestamp, to_seconds

KINDS = ("dedicated", "spot")
ACTIVITIES = ("starting", "busy", "idle", "draining")


@dataclass(frozen=True)
class Summary:
    tasks: int
    completed: int
    terminated: int
    unfinished: int
    requeued: int  # task restarts caused by node removal or preemption
    node_hours_dedicated: float
    node_hours_spot: float
    # node-hours by kind and activity: {"dedicated": {"starting", "busy", "idle", "draining"}, "spot": {...}};
    # busy is slot-weighted (a node with half its slots taken is half busy, half idle)
    node_hours: dict[str, dict[str, float]]
    utilisation: float | None  # busy over billed node-hours
    currency: str
    cost: float | None  # None without prices
    cost_breakdown: dict[str, dict[str, float]] | None  # node_hours priced
    wait_mean: float | None  # seconds, over completed tasks
    wait_p50: float | None
    wait_p90: float | None
    wait_p95: float | None
    wait_p99: float | None
    wait_max: float | None
    sla: float | None  # seconds
    sla_misses: int | None  # completed tasks that waited longer than the SLA, plus unfinished ones
    node_starts: int  # cold starts: nodes requested, each paying its start-up time
    work_lost_preemption: float  # task-hours run and thrown away when spot nodes were preempted
    work_lost_scale_down: float  # ... when a scale-down requeued or terminated running tasks
    makespan: float | None  # seconds, first arrival to last task end; None if tasks were left
    peak_nodes: int  # most nodes starting or taking tasks after a resize (not draining, not preempted)
    evaluations: int
    evaluation_errors: int
    first_error: str | None
    quota_capped: int  # resizes whose dedicated target the core quota / node limit cut
    spot_unavailable: int  # resizes whose spot target was cut by the quota or a capacity outage
    resize_errors: int  # node requests that failed to allocate
    deferred_targets: int  # evaluations whose target waited for an unfinished resize (retarget after-resize)
    simulated: float  # seconds billed
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def metrics(self) -> dict[str, float]:
        """The numeric figures, flat (node_hours.spot.idle ...), for bands across runs."""
        out: dict[str, float] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, bool) or key in ("sla",):
                continue
            if isinstance(value, int | float):
                out[key] = float(value)
            elif isinstance(value, dict):
                for kind, parts in value.items():
                    for part, x in parts.items():
                        out[f"{key}.{kind}.{part}"] = float(x)
        return out


@dataclass(frozen=True)
class SimResult:
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "time_s", "active_tasks", "running_tasks", "target_dedicated", "target_low_priority",
        "dedicated_nodes", "low_priority_nodes", "ready_dedicated", "ready_low_priority",
        "preempted_nodes", "billed_dedicated", "billed_low_priority")

    summary: Summary
    series: dict[str, list[float]]  # COLUMNS, one row per metric sample
    evaluations: tuple[tuple[float, str, str], ...]  # (seconds, results, error code or "")
    start: datetime
    assumptions: dict[str, str] = field(default_factory=dict)

    def rows(self) -> list[dict[str, object]]:
        epoch = to_seconds(self.start)
        columns = [self.series[c] for c in self.COLUMNS]
        out = []
        for values in zip(*columns, strict=True):
            row: dict[str, object] = {"time": format_timestamp(epoch + values[0])}
            row.update({c: (int(v) if c != "time_s" else v) for c, v in zip(self.COLUMNS, values, strict=True)})
            out.append(row)
        return out

    def series_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["time", *self.COLUMNS], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return buffer.getvalue()

    def series_json(self) -> str:
        return json.dumps(self.rows(), indent=None, separators=(",", ":"))

    def to_dict(self) -> dict[str, object]:
        return {"start": format_timestamp(to_seconds(self.start)), "assumptions": self.assumptions,
                "summary": self.summary.to_dict(),
                "evaluations": [{"time_s": t, "results": r, "error": e} for t, r, e in self.evaluations]}


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _money(x: float | None, currency: str) -> str:
    return "-" if x is None else f"{x:,.2f} {currency}"


def summary_text(s: Summary) -> str:
    lines = [
        f"tasks            {s.tasks} ({s.completed} completed, {s.terminated} terminated, {s.unfinished} unfinished,"
        f" {s.requeued} requeued)",
        f"node-hours       {s.node_hours_dedicated:.2f} dedicated, {s.node_hours_spot:.2f} spot"
        + (f"; utilisation {100 * s.utilisation:.0f}%" if s.utilisation is not None else ""),
    ]
    for kind in KINDS:
        hours = s.node_hours[kind]
        if sum(hours.values()):
            parts = ", ".join(f"{part} {hours[part]:.2f}" for part in ACTIVITIES)
            lines.append(f"  {kind:<14} {parts}")
    lines.append(f"cost             {_money(s.cost, s.currency)}")
    if s.cost_breakdown:
        for kind in KINDS:
            costs = s.cost_breakdown[kind]
            if sum(costs.values()):
                parts = ", ".join(f"{part} {costs[part]:,.2f}" for part in ACTIVITIES)
                lines.append(f"  {kind:<14} {parts}")
    lines += [
        f"task wait        mean {_hours(s.wait_mean)}, p50 {_hours(s.wait_p50)}, p90 {_hours(s.wait_p90)}, "
        f"p99 {_hours(s.wait_p99)}, max {_hours(s.wait_max)}",
    ]
    if s.sla is not None:
        lines.append(f"SLA {_hours(s.sla):<12} {s.sla_misses} of {s.tasks} tasks missed it (waited longer or never ran)")
    lines += [
        f"cold starts      {s.node_starts} nodes started",
        f"work lost        {s.work_lost_preemption:.2f} task-hours to preemption, "
        f"{s.work_lost_scale_down:.2f} to scale-down",
        f"makespan         {_hours(s.makespan)}",
        f"peak nodes       {s.peak_nodes}",
        f"evaluations      {s.evaluations} ({s.evaluation_errors} failed"
        + (f", {s.deferred_targets} held by an unfinished resize)" if s.deferred_targets else ")"),
        f"billed span      {_hours(s.simulated)}",
    ]
    if s.first_error:
        lines.append(f"first failure    {s.first_error}")
    lines += [f"warning          {w}" for w in s.warnings]
    return "\n".join(lines)


def assumptions_text(assumptions: dict[str, str]) -> str:
    width = max((len(k) for k in assumptions), default=0)
    return "\n".join(["assumptions"] + [f"  {k:<{width}}  {v}" for k, v in assumptions.items()])


# Bands across runs (uncertainty.py): the figures a decision needs, p10 / p50 / p90 per configuration.
BAND_ROWS: tuple[tuple[str, str, str], ...] = (
    ("cost", "cost", "money"),
    ("node_hours_dedicated", "node-hours dedicated", "number"),
    ("node_hours_spot", "node-hours spot", "number"),
    ("node_hours.dedicated.idle", "  of which idle (ded.)", "number"),
    ("node_hours.spot.idle", "  of which idle (spot)", "number"),
    ("utilisation", "utilisation", "percent"),
    ("wait_p50", "wait p50", "seconds"),
    ("wait_p90", "wait p90", "seconds"),
    ("wait_p99", "wait p99", "seconds"),
    ("wait_max", "wait max", "seconds"),
    ("sla_misses", "SLA misses", "count"),
    ("unfinished", "unfinished tasks", "count"),
    ("node_starts", "cold starts", "count"),
    ("work_lost_preemption", "work lost, preemption (task-h)", "number"),
    ("work_lost_scale_down", "work lost, scale-down (task-h)", "number"),
    ("peak_nodes", "peak nodes", "count"),
    ("quota_capped", "resizes cut by the quota", "count"),
    ("spot_unavailable", "spot resizes not met", "count"),
    ("resize_errors", "failed node allocations", "count"),
    ("deferred_targets", "targets held by a resize", "count"),
    ("evaluation_errors", "failed evaluations", "count"),
    ("simulated", "billed span", "seconds"),
)


def _cell(value: float, kind: str) -> str:
    if kind == "seconds":
        return _hours(value)
    if kind == "percent":
        return f"{100 * value:.0f}%"
    if kind == "count":
        return f"{value:.0f}"
    return f"{value:,.2f}"


def bands_text(labels: list[str], all_bands: list[dict[str, tuple[float, float, float]]], currency: str,
               flags: list[str | None]) -> str:
    """A table: one row per figure, p10 / p50 / p90 for each configuration."""
    lines = [f"[{i}] {label}" for i, label in enumerate(labels, 1)]
    lines.append("".join(["figure".ljust(31)] + [f"{f'[{i}] p10':>10}{'p50':>11}{'p90':>11}"
                                                   for i in range(1, len(labels) + 1)]))
    for key, label, kind in BAND_ROWS:
        if not any(key in b for b in all_bands):
            continue
        name = f"{label} ({currency})" if kind == "money" else label
        row = [name[:30].ljust(31)]
        for b in all_bands:
            low, mid, high = b.get(key, (math.nan,) * 3)
            row.append("".join(f"{'-' if math.isnan(x) else _cell(x, kind):>{w}}"
                               for x, w in ((low, 10), (mid, 11), (high, 11))))
        lines.append("".join(row))
    for label, flag in zip(labels, flags, strict=True):
        if flag:
            lines.append(f"FORMULA ERRORS   {label}: {flag}")
    return "\n".join(lines)
