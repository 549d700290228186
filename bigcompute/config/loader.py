"""Read `stacks/Pulumi.<stack>.yaml`: locate it, check it against the schema and the semantic rules,
and build the frozen model. Every problem is reported with the stack file's line and field."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from bigcompute.autoscale.limits import AUTOSCALE_DOC, MAX_INTERVAL, MIN_INTERVAL
from bigcompute.config.azure_rules import azure_problems
from bigcompute.config.images import IMAGE_ALIASES, ImageReference
from bigcompute.config.model import (
    ApplicationRef,
    AutoScale,
    BatchConfig,
    ContainerRegistry,
    Containers,
    FixedScale,
    LocalApplication,
    LocalPool,
    MonitoringConfig,
    NetworkConfig,
    PoolConfig,
    Pricing,
    RunnerNetworkAccess,
    StackConfig,
    StartTask,
    StorageConfig,
)
from bigcompute.document import Diagnostic, Document, DocumentError, check_schema, load_document
from bigcompute.document.durations import parse_duration
from bigcompute.document.schema import packaged_validator

NAMESPACE = "bigcompute"


class ConfigError(DocumentError):
    """The stack file is invalid; carries every located diagnostic."""


def find_stack_file(name_or_path: str | Path, root: Path | None = None) -> Path:
    candidate = Path(name_or_path)
    # an existing path is the stack file, even a FIFO or a device: the loader refuses it by name
    if candidate.suffix in (".yaml", ".yml") or (candidate.exists() and not candidate.is_dir()):
        return candidate
    start = (root or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        path = folder / "stacks" / f"Pulumi.{name_or_path}.yaml"
        if path.is_file():
            return _relative_to_cwd(path)
    raise ConfigError([Diagnostic(f"stacks/Pulumi.{name_or_path}.yaml", 1, 1, (),
                                  f"no stack file for stack '{name_or_path}' in {start} or its parents",
                                  "missing-stack")])


def _relative_to_cwd(path: Path) -> Path:
    """Paths in messages read best relative to where the user stands."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def load_stack(name_or_path: str | Path, root: Path | None = None) -> StackConfig:
    path = find_stack_file(name_or_path, root)
    try:
        doc = load_document(path)
    except DocumentError as e:
        raise ConfigError(e.diagnostics) from None
    return stack_from_document(doc, _stack_name(path))


def stack_from_document(doc: Document, name: str) -> StackConfig:
    values, problems = _namespace(doc)
    if not problems:
        validator = packaged_validator("bigcompute.config", "stack.schema.json")
        problems = check_schema(doc, validator, values, locate=_locate)
    if not problems:
        problems = list(_non_finite(doc, values)) or [*_semantic_problems(doc, values),
                                                       *azure_problems(doc, values, lambda *p: _locate(p))]
    if problems:
        raise ConfigError(problems)
    return build_stack(values, name, doc.path)


def _stack_name(path: Path) -> str:
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    return stem.removeprefix("Pulumi.")


def _locate(path: tuple) -> tuple:
    return ("config", f"{NAMESPACE}:{path[0]}", *path[1:]) if path else ("config",)


def _namespace(doc: Document) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The `bigcompute:` keys of the Pulumi stack file's `config:` block, without their prefix."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        return {}, [doc.diagnostic((), "expected a Pulumi stack file with a 'config:' mapping", code="schema-type")]
    prefix = f"{NAMESPACE}:"
    return {k.removeprefix(prefix): v for k, v in data["config"].items() if k.startswith(prefix)}, []


def _non_finite(doc: Document, value: Any, path: tuple = ()):
    """YAML's .nan and .inf are floats, and JSON Schema's `type: number` and `minimum` let NaN through
    (every comparison with it is false): no number of a stack may be one (a price would poison every cost)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield doc.diagnostic(_locate(path), f"expected a finite number, got {value}", code="not-finite")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_finite(doc, item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(doc, item, (*path, i))


def _semantic_problems(doc: Document, values: Mapping[str, Any]):
    seen: dict[str, int] = {}
    for i, pool in enumerate(values["pools"]):
        at = lambda *p, i=i: _locate(("pools", i, *p))  # noqa: E731
        key = pool["name"].lower()
        if key in seen:
            yield doc.diagnostic(at("name"), f"pool name '{pool['name']}' is already used by pools[{seen[key]}]",
                                 code="duplicate-pool")
        seen.setdefault(key, i)
        image = pool["image"]
        if isinstance(image, str) and image not in IMAGE_ALIASES:
            yield doc.diagnostic(at("image"), f"unknown image alias '{image}'; expected one of "
                                 f"{', '.join(sorted(IMAGE_ALIASES))} or a full image reference", code="unknown-image")
        start = pool.get("startTask") or {}
        if start.get("aptPackages") and not start.get("elevated"):
            yield doc.diagnostic(at("startTask", "aptPackages"),
                                 "aptPackages need 'elevated: true' (apt-get runs as root)", code="needs-elevation")
        if start.get("pipPackages") and not start.get("elevated"):
            yield doc.diagnostic(at("startTask", "pipPackages"), "pipPackages need 'elevated: true' (they go into "
                                 "a venv the start task creates as root)", code="needs-elevation")
        autoscale = pool["scale"].get("autoscale")
        if autoscale is not None:
            yield from _autoscale_problems(doc, autoscale, lambda *p, at=at: at("scale", "autoscale", *p))
    yield from _local_application_problems(doc, values)
    network = values.get("network")
    if network:
        nets = {}
        for key in ("addressSpace", "subnetPrefix"):
            try:
                nets[key] = ipaddress.ip_network(network[key], strict=False)
            except ValueError as e:  # the schema's pattern admits 999.1.1.1/99
                yield doc.diagnostic(_locate(("network", key)), str(e), code="network")
        if len(nets) < 2:
            return
        space, subnet = nets["addressSpace"], nets["subnetPrefix"]
        if not subnet.subnet_of(space):
            yield doc.diagnostic(_locate(("network", "subnetPrefix")),
                                 f"subnet {subnet} is not inside the address space {space}", code="network")


def _local_application_problems(doc: Document, values: Mapping[str, Any]):
    """localApplications: ids once each (Batch compares them case-insensitively), a defaultVersion among the
    versions, and what the pools reference of them resolving as Batch resolves a pool's package references (a
    version the application has, or its default): the local account would refuse the pool otherwise."""
    apps: dict[str, Mapping[str, Any]] = {}
    for i, app in enumerate(values.get("localApplications", ())):
        at = lambda *p, i=i: _locate(("localApplications", i, *p))  # noqa: E731
        if app["id"].lower() in apps:
            yield doc.diagnostic(at("id"), f"application '{app['id']}' is declared twice", code="duplicate-application")
        apps.setdefault(app["id"].lower(), app)
        default = app.get("defaultVersion")
        if default is not None and default not in app["versions"]:
            yield doc.diagnostic(at("defaultVersion"), f"defaultVersion '{default}' is not one of the versions "
                                 f"({', '.join(app['versions'])})", code="unknown-version")
    if not apps:
        return
    for i, pool in enumerate(values["pools"]):
        for j, ref in enumerate(pool.get("applications", ())):
            app = apps.get(ref["id"].lower())
            version = ref.get("version")
            if app is None:
                yield doc.diagnostic(_locate(("pools", i, "applications", j, "id")), f"application '{ref['id']}' is "
                                     "not in localApplications: the local target would have no package to install",
                                     code="unknown-application")
            elif version is None and not app.get("defaultVersion"):
                yield doc.diagnostic(_locate(("pools", i, "applications", j)), f"application '{ref['id']}' has no "
                                     "defaultVersion in localApplications: name a version", code="unknown-version")
            elif version is not None and version not in app["versions"]:
                yield doc.diagnostic(_locate(("pools", i, "applications", j, "version")), f"application "
                                     f"'{ref['id']}' has no version '{version}' in localApplications",
                                     code="unknown-version")


def _autoscale_problems(doc: Document, spec: Mapping[str, Any], at):
    from bigcompute import autoscale
    from bigcompute.autoscale import presets

    if "evaluationInterval" in spec:
        try:
            interval = parse_duration(spec["evaluationInterval"])
        except ValueError:  # too long for a timedelta: P1000000000D
            interval = MAX_INTERVAL * 2
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            yield doc.diagnostic(at("evaluationInterval"),
                                 "evaluation interval must be between PT5M and PT168H (Batch refuses others; "
                                 f"{AUTOSCALE_DOC})", code="autoscale-interval")
    if "formula" in spec:
        formula = spec["formula"]
    else:
        name = spec["preset"]
        preset = presets.PRESETS.get(name)
        if preset is None:
            yield doc.diagnostic(at("preset"), f"unknown autoscale preset '{name}'; expected one of "
                                 f"{', '.join(sorted(presets.PRESETS))}", code="unknown-preset")
            return
        params = {k: v for k, v in spec.items() if k not in ("preset", "evaluationInterval")}
        validator = _preset_validator(name)
        problems = check_schema(doc, validator, params, locate=lambda p: at(*p))
        yield from problems
        if problems:
            return
        try:
            formula = presets.render(name, params)
        except presets.PresetError as e:
            yield doc.diagnostic(at(getattr(e, "field", "preset")), str(e), code="preset")
            return
    for error in autoscale.check(formula, source="formula"):
        yield doc.diagnostic(at("formula" if "formula" in spec else "preset"),
                             f"autoscale formula line {error.line}, column {error.column}: {error.message}",
                             code="autoscale-formula")


def _preset_validator(name: str):
    from bigcompute.autoscale import presets
    from bigcompute.document.schema import Validator

    return Validator(presets.PRESETS[name].schema)


def build_stack(values: Mapping[str, Any], name: str, path: str) -> StackConfig:
    """The model from already-validated namespace values (also used by the Pulumi program)."""
    storage = values.get("storage", {})
    batch = values.get("batch", {})
    network = values.get("network")
    return StackConfig(
        name=name,
        path=path,
        location=values["location"],
        environment=values["environment"],
        tags=dict(values.get("tags", {})),
        allow_spot=values.get("allowSpot", True),
        subscription_id=values.get("subscriptionId"),
        protect=values.get("protect", False),
        storage=StorageConfig(
            sku=storage.get("sku", "Standard_LRS"),
            containers=Containers(**storage.get("containers", {})),
            output_retention_days=storage.get("outputRetentionDays", 30),
            shared_key_access=storage.get("sharedKeyAccess", False),
        ),
        batch=BatchConfig(
            public_network_access=batch.get("publicNetworkAccess", True),
            runner_access=RunnerNetworkAccess(batch.get("runnerAccess", {}).get("mode", "open"),
                                              tuple(batch.get("runnerAccess", {}).get("ips", ()))),
            authentication_modes=tuple(batch.get("authenticationModes", ["AAD"])),
            runner_principal_id=batch.get("runnerPrincipalId"),
            active_job_quota=batch.get("activeJobQuota", 300),
        ),
        network=NetworkConfig(network["addressSpace"], network["subnetPrefix"],
                              network.get("publicIps", "batchManaged")) if network else None,
        monitoring=MonitoringConfig(values.get("monitoring", {}).get("logRetentionDays", 30)),
        pools=tuple(_pool(p) for p in values["pools"]),
        local_applications=tuple(LocalApplication(a["id"], dict(a["versions"]), a.get("displayName"),
                                                  a.get("defaultVersion")) for a in values.get("localApplications", ())),
    )


def _pool(p: Mapping[str, Any]) -> PoolConfig:
    image = p["image"]
    start = p.get("startTask")
    local = p.get("local", {})
    pricing = p.get("pricing")
    return PoolConfig(
        name=p["name"],
        vm_size=p["vmSize"],
        image=IMAGE_ALIASES[image] if isinstance(image, str) else ImageReference(
            image["publisher"], image["offer"], image["sku"], image.get("version", "latest"), image["nodeAgentSku"]),
        image_alias=image if isinstance(image, str) else None,
        scale=_scale(p["scale"]),
        task_slots_per_node=p.get("taskSlotsPerNode", 1),
        scheduling=p.get("scheduling", "spread"),
        node_deallocation_option=_deallocation(p),
        start_task=StartTask(
            command=start.get("command"),
            apt_packages=tuple(start.get("aptPackages", ())),
            pip_packages=tuple(start.get("pipPackages", ())),
            elevated=start.get("elevated", False),
            wait_for_success=start.get("waitForSuccess", True),
        ) if start else None,
        applications=tuple(ApplicationRef(a["id"], a.get("version")) for a in p.get("applications", ())),
        container_images=tuple(p.get("containerImages", ())),
        container_registries=tuple(ContainerRegistry(r["server"], r["resourceId"])
                                   for r in p.get("containerRegistries", ())),
        metadata=dict(p.get("metadata", {})),
        pricing=_pricing(pricing) if pricing else None,
        local=LocalPool(local.get("nodes", 1), local.get("taskSlotsPerNode")),
        inter_node_communication=p.get("interNodeCommunication", False),
    )


def _pricing(p: Mapping[str, Any]) -> Pricing:
    return Pricing(p.get("dedicatedPerHour", 0.0), p.get("spotPerHour", 0.0), p.get("currency", "USD"),
                   p.get("source"), p.get("asOf"))


def _deallocation(p: Mapping[str, Any]) -> str:
    # one option per pool: presets receive it (PoolConfig.formula); azure_rules refuses contradictions
    return p.get("nodeDeallocation") or p["scale"].get("autoscale", {}).get("deallocation", "taskcompletion")


def _scale(spec: Mapping[str, Any]) -> FixedScale | AutoScale:
    if "fixed" in spec:
        return FixedScale(spec["fixed"].get("dedicated", 0), spec["fixed"].get("spot", 0))
    auto = spec["autoscale"]
    interval = parse_duration(auto["evaluationInterval"]) if "evaluationInterval" in auto else timedelta(minutes=15)
    params = {k: v for k, v in auto.items() if k not in ("preset", "formula", "evaluationInterval")}
    return AutoScale(preset=auto.get("preset"), params=params, formula=auto.get("formula"),
                     evaluation_interval=interval)
