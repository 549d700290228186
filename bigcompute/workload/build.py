"""Build the workload model from a schema-valid document's data."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bigcompute.document.durations import parse_duration
from bigcompute.workload.containers import build_container
from bigcompute.workload.exits import build_exit_conditions
from bigcompute.workload.generators import KEYS, REPEAT, build_generator
from bigcompute.workload.inputs import BlobInput
from bigcompute.workload.model import (
    Application,
    Dependency,
    JobSettings,
    MergeSpec,
    MultiInstance,
    OutputSpec,
    ReleaseSpec,
    TaskGroup,
    TaskSettings,
    Workload,
)
from bigcompute.workload.parameters import environment
from bigcompute.workload.schedule import build_schedule
from bigcompute.workload.storage import BlobSource, UrlInput, url_name


def build_workload(data: Mapping[str, Any], path: Path, values: Mapping[str, Any] | None = None) -> Workload:
    """`data` with its `{param: …}` references already replaced by `values` (loader.with_parameters)."""
    job = data.get("job", {})
    merge = data.get("merge")
    prepare = data.get("prepare")
    release = data.get("release")
    inputs = data.get("inputs", [])
    return Workload(
        path=path,
        name=data["name"],
        pool=data["pool"],
        raw=data,
        description=data.get("description", ""),
        labels=dict(data.get("labels", {})),
        groups=tuple(_group(i, g) for i, g in enumerate(data["tasks"])),
        input_paths=tuple(i for i in inputs if isinstance(i, str)),
        blob_inputs=tuple(BlobInput(i["blob"], i.get("to", ""), i.get("container")) for i in inputs
                          if isinstance(i, dict) and "blob" in i),
        url_inputs=tuple(UrlInput(i["url"], i.get("to", ""), i.get("name") or url_name(i["url"]),
                                  (i.get("sha256") or "").lower() or None)
                         for i in inputs if isinstance(i, dict) and "url" in i),
        env={**_env(data.get("env", {})), **environment(values or {})},
        parameters=dict(values or {}),
        defaults=_settings(data.get("defaults", {})),
        job=JobSettings(
            priority=job.get("priority", 0),
            max_wall_clock_time=parse_duration(job.get("maxWallClockTime", "P7D")),
            max_parallel_tasks=job.get("maxParallelTasks", -1),
        ),
        merge=MergeSpec(
            id=merge.get("id", "merge"),
            command=merge["command"],
            env=_env(merge.get("env", {})),
            outputs=_outputs(merge.get("outputs", [])),
            settings=_settings(merge.get("settings", {})),
            container=build_container(merge.get("container")),
        ) if merge else None,
        prepare_command=prepare["command"] if prepare else None,
        prepare_elevated=bool(prepare and prepare.get("elevated", False)),
        applications=tuple(Application(a["id"], a.get("version")) for a in data.get("applications", [])),
        container=build_container(data.get("container")),
        download=tuple(data.get("download", [])),
        release=ReleaseSpec(release["command"], bool(release.get("elevated", False)),
                            parse_duration(release["timeout"]) if "timeout" in release else None) if release else None,
        schedule=build_schedule(data["schedule"]) if "schedule" in data else None,
    )


def _group(index: int, g: Mapping[str, Any]) -> TaskGroup:
    kind = "sweep" if any(k in g for k in (*KEYS, REPEAT)) else "foreach" if "foreach" in g else "task"
    dependencies = tuple(_dependency(d) for d in g.get("dependsOn", []))
    return TaskGroup(
        index=index,
        id=g["id"],
        command=g["command"],
        kind=kind,
        display_name=g.get("displayName"),
        generator=build_generator(g),
        name=g.get("name"),
        foreach=g["foreach"].get("files") if "foreach" in g else None,
        foreach_blobs=_blob_source(g["foreach"]) if "blobs" in g.get("foreach", {}) else None,
        env=_env(g.get("env", {})),
        outputs=_outputs(g.get("outputs", [])),
        depends_on=tuple(d.task for d in dependencies if d.task is not None),
        dependencies=dependencies,
        settings=_settings(g.get("settings", {})),
        container=build_container(g.get("container")),
        multi_instance=_multi_instance(g["multiInstance"]) if "multiInstance" in g else None,
    )


def _multi_instance(m: Mapping[str, Any]) -> MultiInstance:
    return MultiInstance(m["nodes"], m.get("coordination"), tuple(m.get("commonInputs", ())))


def _dependency(d: Any) -> Dependency:
    if isinstance(d, str):
        return Dependency(task=d)
    bound = lambda k: None if k not in d else str(d[k])  # noqa: E731 (an integer, or a template rendering one)
    return Dependency(d.get("task"), d.get("group"), bound("start"), bound("end"), bool(d.get("outputs", False)))


def _env(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: _text(v) for k, v in values.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _blob_source(f: Mapping[str, Any]) -> BlobSource:
    return BlobSource(f["blobs"], f.get("container"), f.get("match"), f.get("to", ""))


def _outputs(items: list[Any]) -> tuple[OutputSpec, ...]:
    return tuple(OutputSpec(o) if isinstance(o, str) else OutputSpec(o["pattern"], o.get("when", "success"),
                                                                     o.get("container"), o.get("path"))
                 for o in items)


def _settings(s: Mapping[str, Any]) -> TaskSettings:
    return TaskSettings(
        retries=s.get("retries"),
        timeout=parse_duration(s["timeout"]) if "timeout" in s else None,
        retention=parse_duration(s["retention"]) if "retention" in s else None,
        slots=s.get("slots"),
        elevated=s.get("elevated"),
        exit_conditions=build_exit_conditions(s.get("exitConditions")),
    )
