"""What a reviewer needs to see of each resource: sizes, formulas, exposure, access, replacement."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bigcompute.infra.graph import Node

# the roles components/roles.py grants (not imported from there: bigcompute never imports components)
ROLE_NAMES = {
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "6aaa78f1-f7de-44ca-8722-c64a23943cae": "Azure Batch Data Contributor",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
}

Props = Mapping[str, Any]
Lines = list[tuple[str, str]]


def short_type(type_: str) -> str:
    """`azure-native:batch:Pool` -> `batch:Pool` (a dynamic resource's likewise); component tokens keep their package."""
    return type_.removeprefix("azure-native:").removeprefix("pulumi-python:dynamic/")


def short_id(resource_id: Any) -> str:
    """The part of an ARM id after the resource group: `storageAccounts/x/.../containers/inputs`."""
    text = str(resource_id or "")
    tail = text.split("/providers/", 1)[-1] if "/providers/" in text else text
    parts = tail.split("/")
    return "/".join(parts[1:]) if len(parts) > 1 and "." in parts[0] else tail


def _pool(p: Props) -> Lines:
    vm = (p.get("deploymentConfiguration") or {}).get("virtualMachineConfiguration") or {}
    image = vm.get("imageReference") or {}
    lines = [
        ("vm size", str(p.get("vmSize"))),
        ("image", f"{image.get('publisher')}/{image.get('offer')}/{image.get('sku')}@{image.get('version')} "
                  f"({vm.get('nodeAgentSkuId')})"),
        ("task slots", f"{p.get('taskSlotsPerNode')} per node, "
                       f"{(p.get('taskSchedulingPolicy') or {}).get('nodeFillType', 'Spread').lower()}"),
    ]
    scale = p.get("scaleSettings") or {}
    if "autoScale" in scale:
        auto = scale["autoScale"]
        lines += [("scale", f"autoscale every {auto.get('evaluationInterval')}"), ("formula", auto.get("formula", ""))]
    else:
        fixed = scale.get("fixedScale") or {}
        lines.append(("scale", f"fixed: {fixed.get('targetDedicatedNodes', 0)} dedicated, "
                               f"{fixed.get('targetLowPriorityNodes', 0)} spot"))
    network = p.get("networkConfiguration")
    if network:
        provision = (network.get("publicIPAddressConfiguration") or {}).get("provision", "BatchManaged")
        exposure = "no public IPs" if provision == "NoPublicIPAddresses" else "public IPs (Batch managed)"
        lines.append(("network", f"subnet {short_id(network.get('subnetId'))}, {exposure}"))
    else:
        lines.append(("network", "Batch default network, public IPs"))
    identities = (p.get("identity") or {}).get("userAssignedIdentities") or []
    lines.append(("identity", ", ".join(str(i).rsplit("/", 1)[-1] for i in identities) or "none"))
    start = p.get("startTask")
    if start:
        level = ((start.get("userIdentity") or {}).get("autoUser") or {}).get("elevationLevel", "NonAdmin")
        lines.append(("start task", f"as {level.lower()}: {start.get('commandLine')}"))
    apps = p.get("applicationPackages") or []
    if apps:
        lines.append(("applications", ", ".join(f"{short_id(a.get('id')).rsplit('/', 1)[-1]}"
                                                  f"@{a.get('version') or 'default'}" for a in apps)))
    images = (vm.get("containerConfiguration") or {}).get("containerImageNames") or []
    if images:
        lines.append(("containers", ", ".join(images)))
    return lines


def _storage_account(p: Props) -> Lines:
    return [
        ("sku", f"{(p.get('sku') or {}).get('name')} {p.get('kind')}"),
        ("transport", f"https only: {p.get('enableHttpsTrafficOnly')}, min TLS {p.get('minimumTlsVersion')}"),
        ("public blob access", str(p.get("allowBlobPublicAccess"))),
        ("shared key access", str(p.get("allowSharedKeyAccess"))),
    ]


def _lifecycle(p: Props) -> Lines:
    lines = []
    for rule in (p.get("policy") or {}).get("rules") or []:
        definition = rule.get("definition") or {}
        days = (((definition.get("actions") or {}).get("baseBlob") or {}).get("delete") or {}).get(
            "daysAfterModificationGreaterThan")
        prefixes = ", ".join((definition.get("filters") or {}).get("prefixMatch") or [])
        lines.append((rule.get("name", "rule"), f"delete {prefixes or 'all blobs'} after {days} days"))
    return lines


def _batch_account(p: Props) -> Lines:
    auto = p.get("autoStorage") or {}
    return [
        ("allocation", str(p.get("poolAllocationMode"))),
        ("public network access", str(p.get("publicNetworkAccess"))),
        *(_endpoint_access(p.get("networkProfile") or {}) if p.get("publicNetworkAccess") != "Disabled" else []),
        ("authentication", ", ".join(p.get("allowedAuthenticationModes") or [])),
        ("auto-storage", f"{short_id(auto.get('storageAccountId'))} via {auto.get('authenticationMode')}"),
    ]


def _endpoint_access(profile: Props) -> Lines:
    """The public endpoints' IP rules: who may call the account, whether nodes may use the public route.
    Both lines always, so a diff reads `Deny -> any network` rather than a lone value."""
    lines = []
    for key, label in (("accountAccess", "account endpoint"), ("nodeManagementAccess", "node management")):
        rules = profile.get(key) or {"defaultAction": "Allow"}
        allowed = [r.get("value") for r in rules.get("ipRules") or []]
        if allowed:
            lines.append((label, f"{rules.get('defaultAction')} except {', '.join(allowed)}"))
        else:
            lines.append((label, "any network" if rules.get("defaultAction") == "Allow" else "Deny"))
    return lines


def _role(p: Props) -> Lines:
    role = str(p.get("roleDefinitionId", "")).rsplit("/", 1)[-1]
    return [("role", ROLE_NAMES.get(role, role)), ("scope", short_id(p.get("scope"))),
            ("principal", str(p.get("principalId")))]


def _nsg(p: Props) -> Lines:
    return [(r.get("name", "rule"), f"{r.get('direction')} {r.get('access')} {r.get('protocol')} "
                                    f"{r.get('sourceAddressPrefix')} -> {r.get('destinationAddressPrefix')}:"
                                    f"{r.get('destinationPortRange')}")
            for r in p.get("securityRules") or []]


REVIEWERS: dict[str, Callable[[Props], Lines]] = {
    "azure-native:batch:Pool": _pool,
    # components/pool_update.py: what the pool's in-place updates send
    "pulumi-python:dynamic/batch:PoolUpdate": lambda p: [
        ("patches", f"{short_id(p.get('poolId'))}: {', '.join(sorted((p.get('body') or {}).get('properties', {})))}, "
                    "identity, tags (Pool - Update)")],
    "azure-native:storage:StorageAccount": _storage_account,
    "azure-native:storage:ManagementPolicy": _lifecycle,
    "azure-native:batch:BatchAccount": _batch_account,
    "azure-native:authorization:RoleAssignment": _role,
    "azure-native:network:NetworkSecurityGroup": _nsg,
    "azure-native:resources:ResourceGroup": lambda p: [("location", str(p.get("location")))],
    "azure-native:storage:BlobContainer": lambda p: [("public access", str(p.get("publicAccess")))],
    "azure-native:storage:BlobServiceProperties": lambda p: [
        ("soft delete", f"blobs {(p.get('deleteRetentionPolicy') or {}).get('days')} days, containers "
                        f"{(p.get('containerDeleteRetentionPolicy') or {}).get('days')} days")],
    "azure-native:operationalinsights:Workspace": lambda p: [
        ("retention", f"{p.get('retentionInDays')} days"), ("sku", str((p.get("sku") or {}).get("name")))],
    "azure-native:monitor:DiagnosticSetting": lambda p: [
        ("source", short_id(p.get("resourceUri"))),
        ("logs", ", ".join(str(x.get("categoryGroup") or x.get("category")) for x in p.get("logs") or [])),
        ("metrics", ", ".join(str(x.get("category")) for x in p.get("metrics") or []))],
    "azure-native:network:VirtualNetwork": lambda p: [
        ("address space", ", ".join((p.get("addressSpace") or {}).get("addressPrefixes") or []))],
    "azure-native:network:Subnet": lambda p: [
        ("prefix", str(p.get("addressPrefix"))),
        ("outbound", "NAT gateway" if p.get("natGateway") else "no NAT gateway")],
    "azure-native:network:PublicIPAddress": lambda p: [("use", "NAT gateway outbound address, not on nodes")],
    "azure-native:network:PrivateEndpoint": lambda p: [
        ("connects", ", ".join(g for c in p.get("privateLinkServiceConnections") or [] for g in c.get("groupIds") or []))],
}


def review(node: Node) -> Lines:
    lines = REVIEWERS.get(node.type, lambda p: [])(node.inputs)
    if node.replace_on_changes:
        lines.append(("replaced when changed", ", ".join(node.replace_on_changes)))
    return lines


def physical_name(node: Node) -> str:
    return str(node.outputs.get("name", "")) if node.custom else ""
