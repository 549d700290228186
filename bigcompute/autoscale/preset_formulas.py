"""The formula text of each preset, from parameters already validated and completed with defaults.

Batch has no floor() or ceil() and truncates targets (reference §B4), yet a pool needing 1.25 nodes
needs 2, and a spot share must split a node count without losing one. So node counts are rounded
exactly with a binary decomposition: `n = n + (x - n >= 2^k ? 2^k : 0)` for k from the top bit of
maxNodes down to 0 gives floor(x) for 0 <= x <= maxNodes; one more step gives ceil(x).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bigcompute.autoscale.durations import parse_duration


def _num(x: float) -> str:
    # Positional notation: the formula language has no exponent syntax (repr(1e-05) would not parse).
    return str(int(x)) if float(x) == int(x) else format(Decimal(repr(float(x))), "f")


def _seconds(duration: str) -> str:
    return f"TimeInterval_Second * {_num(parse_duration(duration).total_seconds())}"


def header(name: str, summary: str, p: Mapping[str, Any]) -> list[str]:
    return [f"// bigcompute autoscale preset '{name}': {summary}",
            f"minNodes = {p['minNodes']};",
            f"maxNodes = {p['maxNodes']};",
            f"window = {_seconds(p['sampleWindow'])};"]


def footer(p: Mapping[str, Any]) -> list[str]:
    return [f"$NodeDeallocationOption = {p['deallocation']};"]


def round_nodes(var: str, x: str, limit: int, up: bool) -> list[str]:
    """Statements setting `var` to floor(x) (or ceil(x) when `up`), for 0 <= x <= limit."""
    lines = [f"{var} = 0;"]
    for bit in reversed(range(max(1, int(limit).bit_length()))):
        step = 1 << bit
        lines.append(f"{var} = {var} + ({x} - {var} >= {step} ? {step} : 0);")
    if up:
        lines.append(f"{var} = {var} + ({x} > {var} ? 1 : 0);")
    return lines


def queue_tasks(metric: str, var: str, percent: float) -> list[str]:
    # Samples arrive about a minute late and some go missing: average the window only when enough of
    # it is there, and never go below the latest sample (the docs' "task-based adjustment").
    return [f"{var}Percent = {metric}.GetSamplePercent(window);",
            f"{var}Last = max(0, {metric}.GetSample(1));",
            f"{var} = {var}Percent < {_num(percent)} ? {var}Last : "
            f"max({var}Last, avg({metric}.GetSample(window)));"]


def slots(p: Mapping[str, Any]) -> str:
    per_node = p.get("tasksPerNode")
    return f"slots = {per_node};" if per_node else "slots = max(1, $TaskSlotsPerNode);"


def nodes_for(tasks: str, p: Mapping[str, Any]) -> list[str]:
    return [slots(p),
            f"need = max(minNodes, min(maxNodes, ({tasks}) / slots));",
            *round_nodes("nodes", "need", p["maxNodes"], up=True)]


def queue_pending(p: Mapping[str, Any]) -> str:
    return "\n".join([
        *header("queue-pending", "one node per taskSlotsPerNode pending tasks", p),
        *queue_tasks("$PendingTasks", "tasks", p["samplePercent"]),
        *nodes_for("tasks", p),
        "$TargetDedicatedNodes = nodes;",
        "$TargetLowPriorityNodes = 0;",
        *footer(p)])


def queue_active_spot(p: Mapping[str, Any]) -> str:
    return "\n".join([
        *header("queue-active-spot", "queued plus running tasks, a share of the nodes on spot", p),
        *queue_tasks("$ActiveTasks", "active", p["samplePercent"]),
        "running = max(0, $RunningTasks.GetSample(1));",
        *nodes_for("active + running", p),
        f"spotShare = {_num(p['spotShare'])};",
        "spotWanted = nodes * spotShare;",
        *round_nodes("spot", "spotWanted", p["maxNodes"], up=False),
        "$TargetLowPriorityNodes = spot;",
        "$TargetDedicatedNodes = nodes - spot;",
        *footer(p)])


def work_hours(p: Mapping[str, Any]) -> str:
    offset = _num(float(p["utcOffsetHours"]) * 60)
    lines = [
        *header("work-hours", "a capacity for working hours on weekdays and weekends", p),
        f"now = time() + TimeInterval_Minute * {offset};",
        f"workHours = now.hour >= {p['workStartHour']} && now.hour < {p['workEndHour']};",
        "weekday = now.weekday >= 1 && now.weekday <= 5;",
        f"scheduled = workHours ? (weekday ? {p['weekdayNodes']} : {p['weekendNodes']}) : {p['offHoursNodes']};",
    ]
    if p["followQueue"]:
        lines += [*queue_tasks("$PendingTasks", "tasks", p["samplePercent"]),
                  slots(p),
                  "need = max(minNodes, min(maxNodes, max(scheduled, tasks / slots)));"]
    else:
        lines.append("need = max(minNodes, min(maxNodes, scheduled));")
    return "\n".join([*lines, *round_nodes("nodes", "need", p["maxNodes"], up=True),
                      "$TargetDedicatedNodes = nodes;", "$TargetLowPriorityNodes = 0;", *footer(p)])


def scale_to_zero(p: Mapping[str, Any]) -> str:
    percent = _num(p["samplePercent"])
    return "\n".join([
        *header("scale-to-zero", "size to the queue, release every node after idleTimeout without work", p),
        f"idle = {_seconds(p['idleTimeout'])};",
        *queue_tasks("$PendingTasks", "tasks", p["samplePercent"]),
        "idlePercent = $PendingTasks.GetSamplePercent(idle);",
        f"recent = idlePercent < {percent} ? max(tasksLast, tasks) : "
        "max(tasksLast, max($PendingTasks.GetSample(idle)));",
        *nodes_for("tasks", p),
        "// Keep one node warm until the pool has been idle for the whole idle timeout.",
        "$TargetDedicatedNodes = recent > 0 ? max(1, nodes) : 0;",
        "$TargetLowPriorityNodes = 0;",
        *footer(p)])


def cpu(p: Mapping[str, Any]) -> str:
    return "\n".join([
        *header("cpu", "keep the average CPU near targetCpuPercent", p),
        "cpuPercent = $CPUPercent.GetSamplePercent(window);",
        f"cpu = cpuPercent < {_num(p['samplePercent'])} ? -1 : avg($CPUPercent.GetSample(window));",
        "// Without enough CPU samples keep the current target; otherwise resize proportionally.",
        f"wanted = cpu < 0 ? $TargetDedicatedNodes : $CurrentDedicatedNodes * cpu / {_num(p['targetCpuPercent'])};",
        "need = max(minNodes, min(maxNodes, wanted));",
        *round_nodes("nodes", "need", p["maxNodes"], up=True),
        "$TargetDedicatedNodes = nodes;",
        "$TargetLowPriorityNodes = 0;",
        *footer(p)])
