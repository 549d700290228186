"""Mocks answering like Azure: ARM ids, physical names, endpoints and identity ids, all deterministic.

The outputs are what azure-native returns, no more: the ARM body (inputs and computed properties) without
the URL's path parameters. They follow the provider's *output* shapes (a pool's `identity.userAssignedIdentities` is a map
keyed by identity id, not the input list), otherwise the SDK cannot decode them.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import uuid
from functools import cache
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

SUBSCRIPTION = "00000000-0000-0000-0000-00000000b1c0"
TENANT = "00000000-0000-0000-0000-0000000007e7"
_NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")

RG = "/subscriptions/{sub}/resourceGroups/{resourceGroupName}"
STORAGE = RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}"
NETWORK = RG + "/providers/Microsoft.Network"
# type -> (input holding the physical name, default name or None to auto-name, ARM id template)
KINDS: dict[str, tuple[str, str | None, str]] = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName", None, RG),
    "azure-native:storage:StorageAccount": ("accountName", None, STORAGE),
    "azure-native:storage:BlobServiceProperties": ("blobServicesName", "default", STORAGE + "/blobServices/{name}"),
    "azure-native:storage:BlobContainer": ("containerName", None, STORAGE + "/blobServices/default/containers/{name}"),
    "azure-native:storage:ManagementPolicy": ("managementPolicyName", "default", STORAGE + "/managementPolicies/{name}"),
    "azure-native:managedidentity:UserAssignedIdentity": (
        "resourceName", None, RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"),
    "azure-native:authorization:RoleAssignment": (
        "roleAssignmentName", None, "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
    "azure-native:authorization:ManagementLockByScope": (
        "lockName", None, "{scope}/providers/Microsoft.Authorization/locks/{name}"),
    "azure-native:batch:BatchAccount": ("accountName", None, RG + "/providers/Microsoft.Batch/batchAccounts/{name}"),
    "azure-native:batch:Pool": (
        "poolName", None, RG + "/providers/Microsoft.Batch/batchAccounts/{accountName}/pools/{name}"),
    "azure-native:operationalinsights:Workspace": (
        "workspaceName", None, RG + "/providers/Microsoft.OperationalInsights/workspaces/{name}"),
    "azure-native:monitor:DiagnosticSetting": (
        "name", None, "{resourceUri}/providers/Microsoft.Insights/diagnosticSettings/{name}"),
    "azure-native:network:VirtualNetwork": ("virtualNetworkName", None, NETWORK + "/virtualNetworks/{name}"),
    "azure-native:network:Subnet": ("subnetName", None, NETWORK + "/virtualNetworks/{virtualNetworkName}/subnets/{name}"),
    "azure-native:network:NetworkSecurityGroup": ("networkSecurityGroupName", None, NETWORK + "/networkSecurityGroups/{name}"),
    "azure-native:network:NatGateway": ("natGatewayName", None, NETWORK + "/natGateways/{name}"),
    "azure-native:network:PublicIPAddress": ("publicIpAddressName", None, NETWORK + "/publicIPAddresses/{name}"),
    "azure-native:network:PrivateEndpoint": ("privateEndpointName", None, NETWORK + "/privateEndpoints/{name}"),
    "azure-native:network:PrivateDnsZoneGroup": (
        "privateDnsZoneGroupName", None, NETWORK + "/privateEndpoints/{privateEndpointName}/privateDnsZoneGroups/{name}"),
    "azure-native:privatedns:PrivateZone": ("privateZoneName", None, NETWORK + "/privateDnsZones/{name}"),
    "azure-native:privatedns:VirtualNetworkLink": (
        "virtualNetworkLinkName", None, NETWORK + "/privateDnsZones/{privateZoneName}/virtualNetworkLinks/{name}"),
}


def _digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


class _Fields(dict):
    def __missing__(self, key: str) -> str:  # an id segment the program did not set
        return f"<{key}>"


class AzureMocks(Mocks):
    """Answers `new_resource` with the state Azure would return for the inputs given.

    `subscription` is the one the simulated credentials are signed in to: `getClientConfig` reports it and
    every ARM id is under it, as with real credentials (`infra plan` signs in to the stack's own).
    """

    def __init__(self, subscription: str = SUBSCRIPTION) -> None:
        super().__init__()
        self.subscription = subscription

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if not args.custom:  # components have no provider state
            return "", {}
        state = dict(args.inputs)
        name_key, default, template = KINDS.get(
            args.typ, ("name", None, RG + "/providers/" + args.typ.replace(":", "/") + "/{name}"))
        # azure-native auto-names like this: logical name plus a random suffix (here: a stable one)
        name = state.get(name_key) or default or (
            _guid(args.name) if args.typ.endswith("RoleAssignment") else f"{args.name}{_digest(args.name)}")
        state[name_key] = name
        state["name"] = name
        resource_id = template.format_map(_Fields(state, sub=self.subscription, name=name))
        # azure-native's outputs are the ARM response body: the path parameters (resourceGroupName,
        # accountName, ...) are inputs only, and a rule that reads them would see nothing in real state
        outputs = _output_names(args.typ)
        for key in (name_key, *_path_params(template)):
            if _snake(key) not in outputs:  # a RoleAssignment's scope is in its body too
                state.pop(key, None)
        _EXTRA.get(args.typ, _nothing)(state, resource_id)
        self._identity_outputs(state)
        return resource_id, state

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        # a bare dict: the SDK reads a tuple's second item as a list of check failures
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": self.subscription, "tenantId": TENANT, "clientId": _guid("client"),
                    "objectId": _guid("object")}
        return {}

    @staticmethod
    def _identity_outputs(state: dict[str, Any]) -> None:
        identity = state.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            state["identity"] = {**identity, "userAssignedIdentities": {
                i: {"principalId": _guid(i, "principal"), "clientId": _guid(i, "client")}
                for i in identity["userAssignedIdentities"]}}


def _path_params(template: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", template)) - {"sub", "name"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@cache
def _output_names(type_token: str) -> frozenset[str]:
    """The output properties the azure-native SDK declares for a resource type (snake_case)."""
    _, module, cls_name = type_token.split(":")
    try:
        cls = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls_name)
    except (ImportError, AttributeError):
        return frozenset()
    return frozenset(k for k, v in vars(cls).items() if isinstance(v, property))


def _nothing(state: dict[str, Any], resource_id: str) -> None:
    return None


def _storage(state: dict[str, Any], resource_id: str) -> None:
    name = state["name"]
    state["primaryEndpoints"] = {s: f"https://{name}.{s}.core.windows.net/" for s in ("blob", "dfs", "file", "queue", "table")}
    state["provisioningState"] = "Succeeded"


def _batch(state: dict[str, Any], resource_id: str) -> None:
    location = state.get("location", "westeurope")
    state["accountEndpoint"] = f"{state['name']}.{location}.batch.azure.com"
    state["nodeManagementEndpoint"] = f"{_digest(resource_id, length=12)}.{location}.service.batch.azure.com"
    state["provisioningState"] = "Succeeded"


def _user_identity(state: dict[str, Any], resource_id: str) -> None:
    state["principalId"] = _guid(resource_id, "principal")
    state["clientId"] = _guid(resource_id, "client")
    state["tenantId"] = TENANT


def _workspace(state: dict[str, Any], resource_id: str) -> None:
    state["customerId"] = _guid(resource_id, "customer")


_EXTRA = {
    "azure-native:storage:StorageAccount": _storage,
    "azure-native:batch:BatchAccount": _batch,
    "azure-native:managedidentity:UserAssignedIdentity": _user_identity,
    "azure-native:operationalinsights:Workspace": _workspace,
}
