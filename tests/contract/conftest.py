"""Contract-test machinery: request bodies checked against Azure's OpenAPI (Swagger 2.0) specs.

Decisions (why the validator behaves as it does):
- The validator is `jsonschema` (Draft 4, the dialect Swagger 2.0 schema objects are a subset of) with a
  `referencing` registry holding every vendored spec file under its relative path, so `$ref`s inside a
  file and across files (`../../common-types/...json#/definitions/X`) resolve as the specs write them.
- `readOnly: true` means "the server sets it": a body that sends such a property is an error, also when
  `readOnly` sits beside a `$ref` (Draft 4 would ignore `$ref` siblings; Swagger specs rely on them).
- `enum` is enforced even under `x-ms-enum.modelAsString: true`: that flag tells *clients* to accept values
  the server adds later; it does not make a value the spec does not list valid for us to send.
- `required` is enforced as written; `format` is not checked (Swagger formats such as `int32` or
  `duration` have no Draft 4 checker), nor are unknown properties (Swagger objects allow them).

https://github.com/Azure/autorest/blob/main/docs/extensions/readme.md#x-ms-enum (modelAsString)
https://swagger.io/specification/v2/#schema-object (readOnly: "SHOULD NOT be sent as part of the request")
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import ValidationError, validators
from referencing import Registry
from referencing.jsonschema import DRAFT4

from bigcompute.config import load_stack
from bigcompute.infra.mocks import AzureMocks
from bigcompute.infra.plan import signed_in_mocks
from bigcompute.infra.runtime import plain, run_program
from bigcompute.runner.apply import mark_submitted
from bigcompute.runner.jobs import job_model
from bigcompute.workload import iter_tasks, load_workload
from bigcompute.workload.wire import Staging, StorageContext, job_id, merge_dependencies, task_body
from tests.infra.conftest import project, stack_text  # noqa: F401 - fixtures for the option matrix

BASE = "https://specs.invalid/"  # a base URI for the vendored files; never fetched


def _read_only(validator: Any, value: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if value is True:
        yield ValidationError("is read-only (set by the service) and must not be sent")


def _with_ref_siblings(schema: Any) -> Any:
    # Swagger puts readOnly (and descriptions) beside $ref: apply every keyword, not only $ref.
    return schema.items() if isinstance(schema, dict) else ()


_Draft4 = validators.Draft4Validator
SwaggerValidator = validators.create(
    meta_schema=_Draft4.META_SCHEMA,
    validators={**_Draft4.VALIDATORS, "readOnly": _read_only},
    type_checker=_Draft4.TYPE_CHECKER,
    id_of=DRAFT4.id_of,
    applicable_validators=_with_ref_siblings,
)


class SpecSet:
    """The spec files under `root`, addressable as `relative/path.json#/definitions/Name`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.registry: Registry = Registry().with_resources(
            (BASE + p.relative_to(root).as_posix(), DRAFT4.create_resource(json.loads(p.read_text())))
            for p in sorted(root.rglob("*.json")))

    def errors(self, target: str, body: Any) -> list[str]:
        """Every violation of `body` against `target` (`file.json#/definitions/X`), as `path: message`."""
        validator = SwaggerValidator({"$ref": BASE + target}, registry=self.registry)
        return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
                      for e in validator.iter_errors(body))

    def wire(self, target: str, body: Any) -> WireBody:
        """`body` with azure-native's SDK property names turned into the spec's wire names, and the paths of the
        properties `target` does not declare at all (which the service would ignore or refuse).

        azure-native names an input after the property's `x-ms-client-name` (storage's `enableHttpsTrafficOnly`
        is `supportsHttpsTrafficOnly` on the wire, `networkRuleSet` is `networkAcls`); checked under the SDK name,
        such a property would pass unvalidated, as Swagger objects allow unknown properties.
        https://github.com/Azure/autorest/blob/main/docs/extensions/readme.md#x-ms-client-name"""
        undeclared: list[str] = []
        resolver = self.registry.resolver()
        wired = _to_wire(resolver, {"$ref": BASE + target}, body, (), undeclared)
        return WireBody(wired, sorted(undeclared))


@dataclass(frozen=True)
class WireBody:
    body: Any
    undeclared: list[str]


def _resolve(resolver: Any, schema: Any) -> tuple[Any, Any]:
    while isinstance(schema, dict) and "$ref" in schema:
        found = resolver.lookup(schema["$ref"])
        resolver, schema = found.resolver, found.contents
    return resolver, schema


def _declared(resolver: Any, schema: Any) -> dict[str, tuple[Any, Any]]:
    """A schema's properties, those of its allOf parents included, each with the resolver to read it with."""
    resolver, schema = _resolve(resolver, schema)
    found: dict[str, tuple[Any, Any]] = {}
    for parent in schema.get("allOf", []):
        found.update(_declared(resolver, parent))
    found.update({name: (resolver, sub) for name, sub in schema.get("properties", {}).items()})
    return found


def _client_name(sub: dict) -> str | None:
    name = sub.get("x-ms-client-name")
    return name[:1].lower() + name[1:] if name else None


def _unflatten(declared: dict[str, tuple[Any, Any]], value: dict) -> dict:
    """azure-native flattens every `x-ms-client-flatten` object into its parent (a security rule's `access`,
    `priority`… sit beside its `name`); on the wire they are back under that property (`properties`)."""
    out = dict(value)
    for name, (resolver, sub) in declared.items():
        if sub.get("x-ms-client-flatten") is not True:
            continue
        inner = _declared(resolver, sub)
        names = set(inner) | {_client_name(s) for _, s in inner.values()} - {None}
        moved = {k: out.pop(k) for k in list(out) if k not in declared and k in names}
        if moved:
            out[name] = {**out.get(name, {}), **moved}
    return out


def _to_wire(resolver: Any, schema: Any, value: Any, path: tuple, undeclared: list[str]) -> Any:
    resolver, schema = _resolve(resolver, schema)
    if isinstance(value, list):
        return [_to_wire(resolver, schema.get("items", {}), v, (*path, i), undeclared) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    declared = _declared(resolver, schema)
    if not declared:  # a map (additionalProperties) or a free-form object
        extra = schema.get("additionalProperties")
        return {k: _to_wire(resolver, extra, v, (*path, k), undeclared) if isinstance(extra, dict) else v
                for k, v in value.items()}
    wire_of = {_client_name(sub): name for name, (_, sub) in declared.items() if _client_name(sub)}
    out = {}
    for key, v in _unflatten(declared, value).items():
        name = key if key in declared else wire_of.get(key, key)
        if name not in declared:
            undeclared.append("/".join(map(str, (*path, key))))
            out[name] = v
            continue
        sub_resolver, sub = declared[name]
        out[name] = _to_wire(sub_resolver, sub, v, (*path, name), undeclared)
    return out


@pytest.fixture
def spec_set() -> type[SpecSet]:
    return SpecSet


# --- ARM bodies the Pulumi program produces ---------------------------------------------------------

@dataclass(frozen=True)
class Declared:
    type: str
    name: str
    inputs: dict[str, Any]


class InputRecordingMocks(AzureMocks):
    """AzureMocks that also keep each custom resource's *inputs* (what goes on the wire, unlike the state)."""

    def __init__(self, subscription: str) -> None:
        super().__init__(subscription)
        self.declared: list[Declared] = []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        if args.custom:
            # plain(): protobuf carries numbers as floats; the provider sends integers (Draft 4 tells them apart)
            inputs = {k: v for k, v in args.inputs.items() if k != "__provider"}  # a dynamic provider's code
            self.declared.append(Declared(args.typ, args.name, plain(json.loads(json.dumps(inputs)))))
        return super().new_resource(args)


def declared_resources(folder: Path, stack: str) -> list[Declared]:
    """The custom resources the program declares for `stack`, with their inputs."""
    # signed in to the subscription the stack names, as `pulumi up` must be (the program refuses another)
    config = load_stack(folder / "stacks" / f"Pulumi.{stack}.yaml")
    mocks = InputRecordingMocks(signed_in_mocks(config).subscription)
    run_program(folder / "__main__.py", stack, mocks)
    return mocks.declared


# ARM keeps these beside `properties`; azure-native flattens `properties` into the resource's inputs.
# https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax#resources
ARM_TOP_LEVEL = frozenset({"location", "tags", "identity", "sku", "kind", "zones", "extendedLocation", "plan", "etag"})


def arm_body(inputs: dict[str, Any], url_params: frozenset[str], top_level: frozenset[str] = ARM_TOP_LEVEL,
             ) -> dict[str, Any]:
    """The PUT body for a resource's inputs: URL segments dropped, ARM envelope fields kept at the top,
    the rest under `properties`."""
    top = {k: v for k, v in inputs.items() if k in top_level}
    identity = top.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # azure-native takes a list of identity ids; ARM wants a map keyed by id
        top["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}
    props = {k: v for k, v in inputs.items() if k not in top_level and k not in url_params}
    return {**top, "properties": props} if props else top


# --- data-plane bodies the runner sends --------------------------------------------------------------

WORKLOADS = sorted((Path(__file__).resolve().parents[2] / "workloads").glob("*.yaml"))
CTX_IDENTITY = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/p"
TASKS_PER_WORKLOAD = 3  # the first few tasks and the merge task: every shape a workload's tasks take


def wire(model: Any) -> Any:
    """An SDK model as the SDK puts it on the wire: wire names, no read-only fields, JSON values only."""
    return json.loads(json.dumps(model.as_dict(exclude_readonly=True)))


@dataclass(frozen=True)
class Request:
    operation: str  # the operationId in BatchService.json 2025-06-01 (its body parameter is the schema)
    label: str
    body: Any


def runner_requests(workload_file: Path) -> list[Request]:
    """The job create, task collection and job update bodies `apply` sends for one workload file."""
    lw = load_workload(workload_file)
    wl = lw.workload
    digests = {f.relpath: "0" * 64 for f in lw.files}
    job = job_id(wl, digests)
    ctx = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs",
                         CTX_IDENTITY)
    tasks = list(iter_tasks(wl, lw.files))
    plain_tasks = [t for t in tasks if not t.is_merge][:TASKS_PER_WORKLOAD]
    deps = merge_dependencies(t.id for t in tasks if not t.is_merge)
    stage = Staging.of(wl, digests, lw.files)  # the shared inputs: the job's preparation task stages them
    bodies = [task_body(t, wl, job, ctx, digests, stage=stage) for t in plain_tasks]
    bodies += [task_body(t, wl, job, ctx, digests, deps, stage) for t in tasks if t.is_merge]
    updates: list[Any] = []
    clients = SimpleNamespace(batch=SimpleNamespace(update_job=lambda _id, model: updates.append(model)),
                              target=SimpleNamespace(stack="dev"))
    mark_submitted(clients, SimpleNamespace(job_id=job, loaded=lw, spec="0" * 64, attempt=1))
    name = wl.name
    return [Request("Jobs_CreateJob", f"{name}: job", wire(job_model(wl, job, "cpu", "0" * 64, "dev",
                                                                               stage=stage, ctx=ctx))),
            Request("Tasks_CreateTaskCollection", f"{name}: tasks", {"value": bodies}),
            *(Request("Jobs_UpdateJob", f"{name}: mark submitted", wire(u)) for u in updates)]


@dataclass(frozen=True)
class ArmTarget:
    spec: str  # the spec file, relative to tests/data/specs/ (laid out as under specification/)
    operation: str  # the PUT's operationId: its body parameter is the schema
    url_params: frozenset[str]  # inputs that are URL segments, not body fields
    top_level: frozenset[str] = ARM_TOP_LEVEL  # body fields beside `properties`
    body_input: str | None = None  # a resource that sends one input verbatim as its body (a dynamic one)

    def body(self, inputs: dict[str, Any]) -> dict[str, Any]:
        if self.body_input is not None:
            return inputs[self.body_input]
        return arm_body(inputs, self.url_params, self.top_level)


def _target(spec: str, operation: str, *url_params: str) -> ArmTarget:
    return ArmTarget(spec, operation, frozenset({"resourceGroupName", *url_params}))


_RM = "{rp}/resource-manager/{ns}/stable/{version}/"
_BATCH = _RM.format(rp="batch", ns="Microsoft.Batch", version="2024-07-01") + "BatchManagement.json"
_STORAGE = _RM.format(rp="storage", ns="Microsoft.Storage", version="2024-01-01")
_NETWORK = _RM.format(rp="network", ns="Microsoft.Network", version="2024-05-01")
_PRIVATEDNS = _RM.format(rp="privatedns", ns="Microsoft.Network", version="2024-06-01") + "privatedns.json"
# Each azure-native type the program declares -> the PUT it becomes, at the api-version the installed
# provider (pulumi-azure-native 3.29.0) uses: each module's docstring says "Uses Azure REST API version …".
ARM_TARGETS: dict[str, ArmTarget] = {
    "azure-native:resources:ResourceGroup": _target(
        _RM.format(rp="resources", ns="Microsoft.Resources", version="2024-03-01") + "resources.json",
        "ResourceGroups_CreateOrUpdate"),
    "azure-native:batch:BatchAccount": _target(_BATCH, "BatchAccount_Create", "accountName"),
    "azure-native:batch:Pool": _target(_BATCH, "Pool_Create", "accountName", "poolName"),
    # the pool's updatable settings, PATCHed by components/pool_update.py (Pool - Update)
    "pulumi-python:dynamic/batch:PoolUpdate": ArmTarget(_BATCH, "Pool_Update", frozenset({"poolId"}),
                                                       body_input="body"),
    "azure-native:storage:StorageAccount": _target(_STORAGE + "storage.json", "StorageAccounts_Create", "accountName"),
    "azure-native:storage:BlobServiceProperties": _target(
        _STORAGE + "blob.json", "BlobServices_SetServiceProperties", "accountName", "blobServicesName"),
    "azure-native:storage:BlobContainer": _target(
        _STORAGE + "blob.json", "BlobContainers_Create", "accountName", "containerName"),
    "azure-native:storage:ManagementPolicy": _target(
        _STORAGE + "storage.json", "ManagementPolicies_CreateOrUpdate", "accountName", "managementPolicyName"),
    "azure-native:managedidentity:UserAssignedIdentity": _target(
        _RM.format(rp="msi", ns="Microsoft.ManagedIdentity", version="2023-01-31") + "ManagedIdentity.json",
        "UserAssignedIdentities_CreateOrUpdate", "resourceName"),
    "azure-native:authorization:RoleAssignment": ArmTarget(
        _RM.format(rp="authorization", ns="Microsoft.Authorization", version="2022-04-01")
        + "authorization-RoleAssignmentsCalls.json", "RoleAssignments_Create",
        frozenset({"scope", "roleAssignmentName"})),
    "azure-native:operationalinsights:Workspace": ArmTarget(
        _RM.format(rp="operationalinsights", ns="Microsoft.OperationalInsights", version="2023-09-01")
        + "Workspaces.json", "Workspaces_CreateOrUpdate", frozenset({"resourceGroupName", "workspaceName"}),
        ARM_TOP_LEVEL - {"sku"}),  # a workspace's sku is one of its properties
    "azure-native:monitor:DiagnosticSetting": ArmTarget(
        "monitor/resource-manager/Microsoft.Insights/preview/2021-05-01-preview/diagnosticsSettings_API.json",
        "DiagnosticSettings_CreateOrUpdate", frozenset({"resourceUri", "name"})),
    "azure-native:network:VirtualNetwork": _target(
        _NETWORK + "virtualNetwork.json", "VirtualNetworks_CreateOrUpdate", "virtualNetworkName"),
    "azure-native:network:Subnet": _target(
        _NETWORK + "virtualNetwork.json", "Subnets_CreateOrUpdate", "virtualNetworkName", "subnetName"),
    "azure-native:network:NetworkSecurityGroup": _target(
        _NETWORK + "networkSecurityGroup.json", "NetworkSecurityGroups_CreateOrUpdate", "networkSecurityGroupName"),
    "azure-native:network:NatGateway": _target(
        _NETWORK + "natGateway.json", "NatGateways_CreateOrUpdate", "natGatewayName"),
    "azure-native:network:PublicIPAddress": _target(
        _NETWORK + "publicIpAddress.json", "PublicIPAddresses_CreateOrUpdate", "publicIpAddressName"),
    "azure-native:network:PrivateEndpoint": _target(
        _NETWORK + "privateEndpoint.json", "PrivateEndpoints_CreateOrUpdate", "privateEndpointName"),
    "azure-native:network:PrivateDnsZoneGroup": _target(
        _NETWORK + "privateEndpoint.json", "PrivateDnsZoneGroups_CreateOrUpdate", "privateEndpointName",
        "privateDnsZoneGroupName"),
    "azure-native:privatedns:PrivateZone": _target(_PRIVATEDNS, "PrivateZones_CreateOrUpdate", "privateZoneName"),
    "azure-native:privatedns:VirtualNetworkLink": _target(
        _PRIVATEDNS, "VirtualNetworkLinks_CreateOrUpdate", "privateZoneName", "virtualNetworkLinkName"),
    "azure-native:authorization:ManagementLockByScope": ArmTarget(
        _RM.format(rp="resources", ns="Microsoft.Authorization", version="2020-05-01") + "locks.json",
        "ManagementLocks_CreateOrUpdateByScope", frozenset({"scope", "lockName"})),
}


SPECS = Path(__file__).resolve().parents[1] / "data" / "specs"
# Types whose official spec could not be fetched here yet (tests/data/specs/README.md says why and which).
NOT_VENDORED = frozenset({
    "azure-native:network:NatGateway", "azure-native:network:PrivateEndpoint",
    "azure-native:network:PrivateDnsZoneGroup",
})


def body_schema(spec_root: Path, spec: str, operation: str) -> str:
    """`file#/definitions/X` of the body parameter of `operation` in `spec` (a file under `spec_root`)."""
    doc = json.loads((spec_root / spec).read_text())
    for path_item in doc["paths"].values():
        for op in path_item.values():
            if isinstance(op, dict) and op.get("operationId") == operation:
                # body parameters are inline or in this file's `parameters`; common-types hold only path/query ones
                params = [doc["parameters"][p["$ref"].rsplit("/", 1)[-1]] if p.get("$ref", "").startswith("#")
                          else p for p in op["parameters"]]
                ref = next(p["schema"]["$ref"] for p in params if p.get("in") == "body")
                return spec + ref if ref.startswith("#") else _join(spec, ref)
    raise LookupError(f"{spec} has no operation {operation}")


def _join(spec: str, ref: str) -> str:
    file, _, pointer = ref.partition("#")
    return f"{posixpath.normpath(posixpath.join(posixpath.dirname(spec), file))}#{pointer}"


@pytest.fixture(scope="session")
def official_specs() -> SpecSet:
    return SpecSet(SPECS)
