"""Named, parameterised autoscale formulas for the stack config: `autoscale: {preset: queue-pending, ...}`.

Each preset publishes a JSON Schema (draft 2020-12) for its parameters, which the stack config validates
against, and renders a formula that always parses and keeps targets within [minNodes, maxNodes].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from jsonschema import Draft202012Validator

from bigcompute.autoscale import preset_formulas as pf
from bigcompute.autoscale.durations import PATTERN, parse_duration
from bigcompute.autoscale.values import DEALLOCATION_OPTIONS

MAX_NODES = 10_000  # far above any Batch quota; keeps every rendered formula under Batch's limits


class PresetError(ValueError):
    """A bad preset name or parameter; `field` is the parameter key (or "preset")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _int(description: str, default: int, minimum: int = 0, maximum: int = MAX_NODES) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "default": default,
            "description": description}


def _duration(description: str, default: str) -> dict[str, Any]:
    return {"type": "string", "pattern": PATTERN, "default": default, "description": description}


def _common(min_default: int = 0, min_minimum: int = 0) -> dict[str, dict[str, Any]]:
    return {
        "minNodes": _int("Fewest nodes the formula asks for.", min_default, min_minimum),
        "maxNodes": _int("Most nodes the formula asks for (a cost ceiling).", 10, 1),
        "sampleWindow": _duration("How far back metrics are averaged, as an ISO 8601 duration "
                                  "(PT1M to P1D); longer is smoother, shorter reacts faster.", "PT15M"),
        "deallocation": {"enum": list(DEALLOCATION_OPTIONS), "default": "taskcompletion",
                         "description": "What happens to running tasks when a node is removed: "
                                        "requeue, terminate or taskcompletion (let them finish); retaineddata is "
                                        "deprecated and refused. In a stack it defaults to the pool's "
                                        "nodeDeallocation."},
        "samplePercent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "default": 70,
                          "description": "Share of the window's samples (percent) that must be present before "
                                         "its average is trusted; below it the latest sample is used."},
    }


_TASKS_PER_NODE = {
    "tasksPerNode": {"type": "integer", "minimum": 1, "maximum": 256,
                     "description": "Task slots of one node; defaults to the pool's $TaskSlotsPerNode."},
    "slotsPerTask": {"type": "integer", "minimum": 1, "maximum": 256, "default": 1,
                     "description": "Task slots each task takes (its requiredSlots). Batch's task metrics count "
                                    "tasks, not slots, so tasks taking several slots need this to get enough nodes."}}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    properties: Mapping[str, Mapping[str, Any]] = field(repr=False)
    build: Callable[[Mapping[str, Any]], str] = field(repr=False)

    @property
    def schema(self) -> dict[str, Any]:
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"https://bigcompute.dev/schemas/autoscale-preset/{self.name}.json",
                "title": f"autoscale preset {self.name}", "description": self.description,
                "type": "object", "properties": {k: dict(v) for k, v in self.properties.items()},
                "additionalProperties": False}

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.properties.items() if "default" in v}

    def render(self, params: Mapping[str, Any]) -> str:
        return self.build(self.validate(params))

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`params` completed with defaults, or a PresetError naming the first bad field."""
        if not isinstance(params, Mapping):
            raise PresetError("preset", f"parameters of preset '{self.name}' must be a mapping")
        errors = sorted(Draft202012Validator(self.schema).iter_errors(dict(params)),
                        key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            e = errors[0]
            if e.validator == "additionalProperties":
                extra = sorted(set(params) - set(self.properties))[0]
                raise PresetError(extra, f"preset '{self.name}' has no parameter '{extra}'; expected one of "
                                         f"{', '.join(self.properties)}")
            where = ".".join(str(p) for p in e.absolute_path) or "preset"
            if e.validator == "pattern":  # the only patterns are durations
                raise PresetError(where, f"{where}: {e.instance!r} is not an ISO 8601 duration such as "
                                         "PT5M, PT1H30M or P1D")
            raise PresetError(where, f"{where}: {e.message}")
        p = {**self.defaults(), **params}
        _semantic_checks(p)
        return p


RETAINED_DATA_GONE = ("retaineddata is deprecated and removed from Batch API 2026-10-01 (azure-batch 16.0.0: "
                      "\"Upload task data to Azure Storage and use TASK_COMPLETION instead\"; "
                      "https://github.com/Azure/azure-sdk-for-python/releases/tag/azure-batch_16.0.0); "
                      "use taskcompletion")


def _semantic_checks(p: Mapping[str, Any]) -> None:
    if p["deallocation"] == "retaineddata":
        raise PresetError("deallocation", f"deallocation: {RETAINED_DATA_GONE}")
    if "timeZone" in p:
        _time_zone_checks(p)
    if p["minNodes"] > p["maxNodes"]:
        raise PresetError("maxNodes", f"maxNodes ({p['maxNodes']}) must be at least minNodes ({p['minNodes']})")
    for key in ("sampleWindow", "idleTimeout"):
        if key in p:
            seconds = parse_duration(p[key]).total_seconds()
            if not 60 <= seconds <= 86400:
                raise PresetError(key, f"{key} must be between PT1M and P1D (samples arrive every 30 s "
                                       f"and about a minute late), got {p[key]}")
    if "workStartHour" in p and p["workStartHour"] >= p["workEndHour"]:
        raise PresetError("workEndHour", f"workEndHour ({p['workEndHour']}) must come after workStartHour "
                                         f"({p['workStartHour']})")


def _time_zone_checks(p: Mapping[str, Any]) -> None:
    if "utcOffsetHours" in p and p["timeZone"] != "UTC":
        raise PresetError("utcOffsetHours", "give timeZone or utcOffsetHours, not both")
    try:
        pf.zone(p["timeZone"])
    except (ValueError, ZoneInfoNotFoundError):
        raise PresetError("timeZone", f"timeZone: {p['timeZone']!r} is not an IANA time zone such as "
                                      "Europe/Amsterdam or America/Denver") from None
    if p["scheduleUntil"] < date.today().year:
        raise PresetError("scheduleUntil", f"scheduleUntil: the formula's daylight-saving schedule ended with "
                                           f"{p['scheduleUntil']}; raise it and redeploy")


PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset("queue-pending",
           "Dedicated nodes for the pending tasks ($PendingTasks: queued plus running), one node per "
           "task slot, averaged over sampleWindow.",
           {**_common(), **_TASKS_PER_NODE}, pf.queue_pending),
    Preset("queue-active-spot",
           "Nodes for the queued tasks ($ActiveTasks, averaged over sampleWindow) plus the running ones, "
           "with spotShare of them on spot VMs; spot nodes preempted or not allocated are replaced by dedicated "
           "ones until spot capacity returns (maxNodes bounds the nodes running).",
           {**_common(), **_TASKS_PER_NODE,
            "spotShare": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
                          "description": "Fraction of the nodes (rounded down) to run as spot VMs; "
                                         "the rest are dedicated."},
            "spotFallback": {"type": "boolean", "default": True,
                             "description": "Ask for a dedicated node for each spot node that is preempted or "
                                            "that Batch could not allocate at the last evaluation."}},
           pf.queue_active_spot),
    Preset("work-hours",
           "A fixed capacity during working hours, one for weekdays and one for weekends, another outside "
           "working hours; optionally more when the queue needs it.",
           {**_common(), **_TASKS_PER_NODE,
            "weekdayNodes": _int("Nodes during working hours Monday to Friday.", 2),
            "weekendNodes": _int("Nodes during working hours on Saturday and Sunday.", 0),
            "offHoursNodes": _int("Nodes outside working hours.", 0),
            "workStartHour": _int("Hour (0-23, local time) working hours begin.", 8, 0, 23),
            "workEndHour": _int("Hour (1-24, local time) working hours end.", 18, 1, 24),
            "timeZone": {"type": "string", "minLength": 1, "default": "UTC",
                         "description": "IANA time zone of the working hours, e.g. Europe/Amsterdam. Batch's clock "
                                        "is UTC and its formulas know no time zones, so the formula carries the "
                                        "zone's UTC offset changes (daylight saving) up to the end of "
                                        "scheduleUntil: redeploy the stack before then."},
            "scheduleUntil": {"type": "integer", "minimum": 2025, "maximum": 2100, "default": 2030,
                              "description": "Last year whose daylight-saving changes the formula carries; after "
                                             "it the offset stays as it was. Validation fails once it has passed."},
            "utcOffsetHours": {"type": "number", "minimum": -14, "maximum": 14, "multipleOf": 0.25,
                               "description": "A fixed local time minus UTC, in hours, never changing (no daylight "
                                              "saving); use timeZone instead where the clocks change."},
            "followQueue": {"type": "boolean", "default": True,
                            "description": "Also grow beyond the schedule for pending tasks."}},
           pf.work_hours),
    Preset("scale-to-zero",
           "Nodes for the pending tasks while there is work; once nothing has been pending for idleTimeout "
           "the pool shrinks to minNodes (0 by default).",
           {**_common(), **_TASKS_PER_NODE,
            "idleTimeout": _duration("How long the pool must have had nothing pending before it goes to "
                                     "zero nodes, as an ISO 8601 duration (PT1M to P1D).", "PT15M")},
           pf.scale_to_zero),
    Preset("cpu",
           "Resize in proportion to the average CPU over sampleWindow, aiming at targetCpuPercent; when the "
           "CPU is saturated, grow to the queued tasks at once. It cannot start from zero nodes (no CPU "
           "samples), so minNodes is at least 1.",
           {**_common(min_default=1, min_minimum=1), **_TASKS_PER_NODE,
            "targetCpuPercent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "default": 60,
                                 "description": "Average CPU percentage to aim for."},
            "cpuScale": {"enum": [100, 1], "default": 100,
                         "description": "What $CPUPercent reads at full load: 100 (a percentage, as Batch's "
                                        "variable table says) or 1 (a fraction, as the docs' examples compare "
                                        "it with 0.7). The documentation contradicts itself; check a pool's "
                                        "autoscale run results and set it."}},
           pf.cpu),
)}


def render(name: str, params: Mapping[str, Any]) -> str:
    """The formula of preset `name` with `params`; PresetError on an unknown name or a bad parameter."""
    preset = PRESETS.get(name)
    if preset is None:
        raise PresetError("preset", f"unknown autoscale preset '{name}'; expected one of {', '.join(PRESETS)}")
    return preset.render(params)
