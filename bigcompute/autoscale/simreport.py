"""What a simulation returns, and its CSV / JSON / text forms."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import ClassVar

from bigcompute.autoscale.values import format_timestamp, to_seconds


@dataclass(frozen=True)
class Summary:
    tasks: int
    completed: int
    terminated: int
    unfinished: int
    requeued: int  # task restarts caused by node removal or preemption
    node_hours_dedicated: float
    node_hours_spot: float
    cost: float | None  # None without prices
    wait_mean: float | None  # seconds
    wait_p95: float | None
    makespan: float | None  # seconds, first arrival to last task end; None if tasks were left
    peak_nodes: int
    evaluations: int
    evaluation_errors: int
    first_error: str | None
    simulated: float  # seconds

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


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
        return {"start": format_timestamp(to_seconds(self.start)), "summary": self.summary.to_dict(),
                "evaluations": [{"time_s": t, "results": r, "error": e} for t, r, e in self.evaluations]}


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def summary_text(s: Summary) -> str:
    lines = [
        f"tasks            {s.tasks} ({s.completed} completed, {s.terminated} terminated, {s.unfinished} unfinished,"
        f" {s.requeued} requeued)",
        f"node-hours       {s.node_hours_dedicated:.2f} dedicated, {s.node_hours_spot:.2f} spot",
        f"cost             {'-' if s.cost is None else f'{s.cost:.2f}'}",
        f"task wait        mean {_hours(s.wait_mean)}, p95 {_hours(s.wait_p95)}",
        f"makespan         {_hours(s.makespan)}",
        f"peak nodes       {s.peak_nodes}",
        f"evaluations      {s.evaluations} ({s.evaluation_errors} failed)",
        f"simulated        {_hours(s.simulated)}",
    ]
    if s.first_error:
        lines.append(f"first failure    {s.first_error}")
    return "\n".join(lines)
