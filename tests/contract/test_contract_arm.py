"""Every ARM body the Pulumi program sends, for each stack, against the PUT schema of the official spec at
the api-version the installed azure-native provider uses (tests/data/specs/, SOURCES says where from).

Types whose spec is not vendored yet are listed in conftest.NOT_VENDORED, so the gap is explicit and shrinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.conftest import ARM_TARGETS, NOT_VENDORED, SPECS, SpecSet, body_schema, declared_resources

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")


def _cases() -> list:
    cases = []
    for stack in STACKS:
        # sorted: the program declares resources from several threads, and xdist workers must collect alike
        for d in sorted(declared_resources(REPO, stack), key=lambda d: (d.type, d.name)):
            if d.type not in NOT_VENDORED:
                cases.append(pytest.param(d, id=f"{stack}:{d.type.rsplit(':', 1)[-1]}:{d.name}"))
    return cases


def test_the_not_vendored_list_is_exact() -> None:
    vendored = {t for t, target in ARM_TARGETS.items() if (SPECS / target.spec).is_file()}
    assert vendored.isdisjoint(NOT_VENDORED), "a vendored spec: drop its types from NOT_VENDORED"
    assert set(ARM_TARGETS) - vendored == NOT_VENDORED


@pytest.mark.parametrize("declared", _cases())
def test_arm_body_matches_the_official_put_schema(declared, official_specs: SpecSet) -> None:
    target = ARM_TARGETS[declared.type]
    schema = body_schema(SPECS, target.spec, target.operation)
    wired = official_specs.wire(schema, target.body(declared.inputs))
    assert wired.undeclared == []  # every property the program sets is one the API has
    assert official_specs.errors(schema, wired.body) == []


def _first(stack: str, type_: str):
    return next(d for d in declared_resources(REPO, stack) if d.type == type_)


@pytest.mark.parametrize(("type_", "change", "expected"), [
    ("azure-native:authorization:RoleAssignment", {"principalType": "Robot"}, "properties/principalType: 'Robot'"),
    ("azure-native:authorization:RoleAssignment", {"createdOn": "2024-01-01T00:00:00Z"},
     "properties/createdOn: is read-only"),
    ("azure-native:authorization:RoleAssignment", {"principalId": None}, "properties/principalId: None is not"),
    ("azure-native:operationalinsights:Workspace", {"sku": {"name": "Cheap"}}, "properties/sku/name: 'Cheap'"),
    ("azure-native:operationalinsights:Workspace", {"customerId": "x"}, "properties/customerId: is read-only"),
    ("azure-native:operationalinsights:Workspace", {"retentionInDays": "90"}, "properties/retentionInDays: '90'"),
    ("azure-native:managedidentity:UserAssignedIdentity", {"principalId": "x"}, "properties/principalId: is read-only"),
    ("azure-native:batch:Pool", {"taskSchedulingPolicy": {"nodeFillType": "pack"}},
     "properties/taskSchedulingPolicy/nodeFillType: 'pack'"),  # the management plane spells it Pack
    ("azure-native:batch:Pool", {"allocationState": "Steady"}, "properties/allocationState: is read-only"),
    ("azure-native:batch:Pool", {"taskSlotsPerNode": "2"}, "properties/taskSlotsPerNode: '2'"),
    ("azure-native:batch:Pool", {"deploymentConfiguration": {"virtualMachineConfiguration": {"imageReference": {}}}},
     "properties/deploymentConfiguration/virtualMachineConfiguration: 'nodeAgentSkuId' is a required"),
    ("azure-native:batch:BatchAccount", {"poolAllocationMode": "Batch"}, "properties/poolAllocationMode: 'Batch'"),
    ("azure-native:authorization:ManagementLockByScope", {"level": "DoNotDelete"}, "properties/level: 'DoNotDelete'"),
    ("azure-native:authorization:ManagementLockByScope", {"level": None}, "properties/level: None is not"),
    # the PATCH of a pool's settings: its body is checked against Pool_Update's schema
    ("pulumi-python:dynamic/batch:PoolUpdate", {"body": {"properties": {"scaleSettings": {"fixedScale": {
        "targetDedicatedNodes": "3"}}}}}, "properties/scaleSettings/fixedScale/targetDedicatedNodes: '3'"),
    ("pulumi-python:dynamic/batch:PoolUpdate", {"body": {"properties": {"startTask": {"userIdentity": {
        "autoUser": {"elevationLevel": "Root"}}}}}}, "properties/startTask/userIdentity/autoUser/elevationLevel: 'Root'"),
    # ARM's usual null entry to drop an identity is not Batch's: its removal is the type None (BatchPoolIdentity)
    ("pulumi-python:dynamic/batch:PoolUpdate", {"body": {"identity": {"type": "UserAssigned", "userAssignedIdentities": {
        "/id": None}}}}, "identity/userAssignedIdentities//id: None is not of type 'object'"),
    ("azure-native:batch:BatchAccount", {"publicNetworkAccess": "On"}, "properties/publicNetworkAccess: 'On'"),
    ("azure-native:storage:StorageAccount", {"kind": "StorageV3"}, "kind: 'StorageV3'"),
    ("azure-native:storage:StorageAccount", {"sku": {"name": "Premium_GRS"}}, "sku/name: 'Premium_GRS'"),
    ("azure-native:storage:StorageAccount", {"minimumTlsVersion": "TLS1_3"}, "properties/minimumTlsVersion: 'TLS1_3'"),
    # checked under its wire name: azure-native's enableHttpsTrafficOnly is supportsHttpsTrafficOnly
    ("azure-native:storage:StorageAccount", {"enableHttpsTrafficOnly": "yes"},
     "properties/supportsHttpsTrafficOnly: 'yes' is not of type 'boolean'"),
    ("azure-native:storage:StorageAccount", {"location": None}, "location: None is not"),
    ("azure-native:storage:BlobContainer", {"publicAccess": "Private"}, "properties/publicAccess: 'Private'"),
    ("azure-native:storage:BlobServiceProperties", {"deleteRetentionPolicy": {"enabled": True, "days": 400}},
     "properties/deleteRetentionPolicy/days: 400 is greater than the maximum of 365"),
    ("azure-native:storage:ManagementPolicy", {"policy": {"rules": [{"name": "r", "definition": {"actions": {}}}]}},
     "properties/policy/rules/0: 'type' is a required property"),
    ("azure-native:network:Subnet", {"privateEndpointNetworkPolicies": "Off"},
     "properties/privateEndpointNetworkPolicies: 'Off'"),
    ("azure-native:network:Subnet", {"defaultOutboundAccess": "false"}, "properties/defaultOutboundAccess: 'false'"),
    # a rule's settings are flattened by azure-native and nested under `properties` on the wire
    ("azure-native:network:NetworkSecurityGroup", {"securityRules": [
        {"name": "r", "access": "Allow", "direction": "Outbound", "protocol": "Tcp"}]},
     "properties/securityRules/0/properties: 'priority' is a required property"),
    ("azure-native:network:NetworkSecurityGroup", {"securityRules": [
        {"name": "r", "access": "Permit", "direction": "Outbound", "protocol": "Tcp", "priority": 100}]},
     "properties/securityRules/0/properties/access: 'Permit'"),
    ("azure-native:network:PublicIPAddress", {"sku": {"name": "Premium"}}, "sku/name: 'Premium'"),
    ("azure-native:network:VirtualNetwork", {"addressSpace": {"addressPrefixes": "10.0.0.0/16"}},
     "properties/addressSpace/addressPrefixes: '10.0.0.0/16' is not of type 'array'"),
])
def test_the_official_schemas_refuse_a_broken_body(official_specs: SpecSet, type_: str, change: dict,
                                                   expected: str) -> None:
    declared = _first("prod", type_)
    target = ARM_TARGETS[type_]
    schema = body_schema(SPECS, target.spec, target.operation)
    errors = official_specs.errors(schema, official_specs.wire(schema, target.body({**declared.inputs, **change})).body)
    assert any(e.startswith(expected) for e in errors), errors


def test_a_property_the_api_does_not_have_is_reported(official_specs: SpecSet) -> None:
    """Swagger objects accept unknown properties, and ARM ignores many: a misspelt setting would silently do
    nothing, so the body's every property must be one the resource declares (under its SDK or wire name)."""
    target = ARM_TARGETS["azure-native:storage:StorageAccount"]
    schema = body_schema(SPECS, target.spec, target.operation)
    inputs = _first("prod", "azure-native:storage:StorageAccount").inputs
    wired = official_specs.wire(schema, target.body({**inputs, "httpsOnly": True, "networkRuleSet": {
        "defaultAction": "Deny", "ipRule": []}}))
    assert wired.undeclared == ["properties/httpsOnly", "properties/networkAcls/ipRule"]
    assert wired.body["properties"]["supportsHttpsTrafficOnly"] is True and "enableHttpsTrafficOnly" not in str(wired)
