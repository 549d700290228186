"""The formula text of each preset, from parameters already validated and completed with defaults.

Batch has no floor() or ceil() and truncates targets (reference §B4), yet a pool needing 1.25 nodes
needs 2, and a spot share must split a node count without losing one. So node counts are rounded
exactly with a binary decomposition: `n = n + (x - n >= 2^k ? 2^k : 0)` for k from the top bit of
maxNodes down to 0 gives floor(x) for 0 <= x <= maxNodes; one more step gives ceil(x).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

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


def task_slots(tasks: str, p: Mapping[str, Any]) -> str:
    """Slots the tasks take: Batch's task metrics count tasks, not slots (multi-slot tasks)."""
    per_task = p.get("slotsPerTask", 1)
    return f"({tasks}) * {per_task}" if per_task > 1 else f"({tasks})"


def nodes_for(tasks: str, p: Mapping[str, Any]) -> list[str]:
    return [slots(p),
            f"need = max(minNodes, min(maxNodes, {task_slots(tasks, p)} / slots));",
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
        *(spot_fallback() if p["spotFallback"] else ["fallback = 0;"]),
        "$TargetLowPriorityNodes = spot;",
        "$TargetDedicatedNodes = nodes - spot + fallback;",
        *footer(p)])


def spot_fallback() -> list[str]:
    # Batch keeps seeking the spot target ("if VMs are preempted or unavailable, Batch attempts to replace
    # the lost capacity", batch-spot-vms); meanwhile a dedicated node stands in for each spot node that is
    # preempted, or that the last resize could not allocate ($CurrentLowPriorityNodes counts preempted nodes).
    return ["// Spot nodes preempted or never allocated are covered by dedicated ones until spot returns.",
            "spotMissing = max(0, $TargetLowPriorityNodes - $CurrentLowPriorityNodes) + $PreemptedNodeCount;",
            "fallback = min(spot, spotMissing);"]


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def offsets(name: str, last_year: int, first_year: int = 2025) -> tuple[int, tuple[tuple[datetime, int], ...]]:
    """The zone's UTC offset (minutes) at the start of `first_year`, and each change until `last_year` ends."""
    tz = zone(name)

    def minutes(t: datetime) -> int:
        return int(t.astimezone(tz).utcoffset().total_seconds() // 60)  # type: ignore[union-attr]

    t, end = datetime(first_year, 1, 1, tzinfo=UTC), datetime(last_year + 1, 1, 1, tzinfo=UTC)
    base = current = minutes(t)
    changes = []
    while t < end:
        step = t + timedelta(hours=6)
        if minutes(step) != current:  # bisect to the minute the clocks change
            low, high = t, step
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if minutes(mid) == current else (low, mid)
            current = minutes(high)
            changes.append((high.replace(second=0, microsecond=0), current))
        t = step
    return base, tuple(changes)


def local_time(p: Mapping[str, Any]) -> list[str]:
    """Statements setting `now` to local time: Batch's time() is UTC and formulas know no time zones, so
    the zone's offset changes up to scheduleUntil are written into the formula."""
    if "utcOffsetHours" in p:
        return [f"now = time() + TimeInterval_Minute * {_num(float(p['utcOffsetHours']) * 60)};"]
    base, changes = offsets(p["timeZone"], p["scheduleUntil"])
    if not changes:
        return [f"now = time() + TimeInterval_Minute * {base};"]
    chain = "".join(f'utc < time("{at:%Y-%m-%dT%H:%M:%SZ}") ? {before} : '
                    for (at, _), before in zip(changes, [base, *(m for _, m in changes)], strict=False))
    return [f"// {p['timeZone']}: UTC offsets (minutes) until the end of {p['scheduleUntil']}; redeploy before then.",
            "utc = time();",
            f"offset = {chain}{changes[-1][1]};",
            "now = utc + TimeInterval_Minute * offset;"]


def work_hours(p: Mapping[str, Any]) -> str:
    lines = [
        *header("work-hours", "a capacity for working hours on weekdays and weekends", p),
        *local_time(p),
        f"workHours = now.hour >= {p['workStartHour']} && now.hour < {p['workEndHour']};",
        "weekday = now.weekday >= 1 && now.weekday <= 5;",
        f"scheduled = workHours ? (weekday ? {p['weekdayNodes']} : {p['weekendNodes']}) : {p['offHoursNodes']};",
    ]
    if p["followQueue"]:
        lines += [*queue_tasks("$PendingTasks", "tasks", p["samplePercent"]),
                  slots(p),
                  f"need = max(minNodes, min(maxNodes, max(scheduled, {task_slots('tasks', p)} / slots)));"]
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
        "// Keep one node warm until the pool has been idle for the whole idle timeout, then go to minNodes.",
        "$TargetDedicatedNodes = recent > 0 ? max(1, nodes) : minNodes;",
        "$TargetLowPriorityNodes = 0;",
        *footer(p)])


def cpu(p: Mapping[str, Any]) -> str:
    scale = "" if p["cpuScale"] == 100 else f" * {_num(100 / p['cpuScale'])}"
    return "\n".join([
        *header("cpu", "keep the average CPU near targetCpuPercent", p),
        "cpuPercent = $CPUPercent.GetSamplePercent(window);",
        "// Until the window fills (a new pool, a node just ready), go by the latest sample: -1 when none.",
        "cpuLast = max(-1, $CPUPercent.GetSample(1));",
        f"cpuRaw = cpuPercent < {_num(p['samplePercent'])} ? cpuLast : avg($CPUPercent.GetSample(window));",
        f"cpu = cpuRaw < 0 ? -1 : cpuRaw{scale};",
        "// Without any CPU sample keep the current target; otherwise resize proportionally. A saturated",
        "// pool says nothing about how much more it needs: then size to the queued tasks at once.",
        f"proportional = cpu < 0 ? $TargetDedicatedNodes : $CurrentDedicatedNodes * cpu / {_num(p['targetCpuPercent'])};",
        "queued = max(0, $ActiveTasks.GetSample(1));",
        slots(p),
        f"wanted = cpu >= 90 ? max(proportional, $CurrentDedicatedNodes + {task_slots('queued', p)} / slots) : proportional;",
        "need = max(minNodes, min(maxNodes, wanted));",
        *round_nodes("nodes", "need", p["maxNodes"], up=True),
        "$TargetDedicatedNodes = nodes;",
        "$TargetLowPriorityNodes = 0;",
        *footer(p)])
