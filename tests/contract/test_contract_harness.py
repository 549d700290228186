"""The contract machinery itself: the validator refuses what the decisions in conftest.py say it must, and
the program's resources are captured as inputs (not mocked outputs) and shaped as ARM bodies.

These tests use a small spec written in the Swagger 2.0 / x-ms-* style the official files use, split over two
files like them, so each decision is pinned independently of what tests/data/specs/ holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.contract.conftest import (
    ARM_TARGETS,
    WORKLOADS,
    SpecSet,
    arm_body,
    declared_resources,
    runner_requests,
)

REPO = Path(__file__).resolve().parents[2]

COMMON = {"swagger": "2.0", "definitions": {
    "Resource": {"properties": {
        "id": {"type": "string", "readOnly": True},
        "location": {"type": "string"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}}}},
}}
POOL = {"swagger": "2.0", "definitions": {
    "Pool": {"allOf": [{"$ref": "../common/types.json#/definitions/Resource"}], "properties": {
        "properties": {"$ref": "#/definitions/PoolProperties", "x-ms-client-flatten": True}}},
    "PoolProperties": {"required": ["vmSize"], "properties": {
        "vmSize": {"type": "string"},
        "taskSlotsPerNode": {"type": "integer", "format": "int32"},
        "nodeFillType": {"type": "string", "enum": ["Spread", "Pack"],
                         "x-ms-enum": {"name": "ComputeNodeFillType", "modelAsString": True}},
        "allocationState": {"$ref": "#/definitions/AllocationState", "readOnly": True}}},
    "AllocationState": {"type": "string", "enum": ["Steady", "Resizing"]},
}}


@pytest.fixture
def specs(tmp_path: Path) -> SpecSet:
    for rel, doc in (("common/types.json", COMMON), ("batch/pool.json", POOL)):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(doc))
    return SpecSet(tmp_path)


def check(specs: SpecSet, body: dict) -> list[str]:
    return specs.errors("batch/pool.json#/definitions/Pool", body)


def test_a_valid_body_passes(specs: SpecSet) -> None:
    assert check(specs, {"location": "westeurope", "tags": {"a": "b"},
                         "properties": {"vmSize": "Standard_D2s_v5", "taskSlotsPerNode": 2, "nodeFillType": "Pack"}}) == []


@pytest.mark.parametrize(("body", "expected"), [
    ({"id": "/x", "properties": {"vmSize": "s"}}, "id: is read-only"),  # through allOf and a file-crossing $ref
    ({"properties": {"vmSize": "s", "allocationState": "Steady"}}, "properties/allocationState: is read-only"),
    ({"properties": {"vmSize": "s", "nodeFillType": "pack"}}, "properties/nodeFillType: 'pack' is not one of"),
    ({"properties": {}}, "properties: 'vmSize' is a required property"),
    ({"properties": {"vmSize": "s", "taskSlotsPerNode": "2"}}, "properties/taskSlotsPerNode: '2' is not of type"),
    ({"properties": {"vmSize": "s", "taskSlotsPerNode": 2.0}}, "properties/taskSlotsPerNode: 2.0 is not of type"),
    ({"tags": {"a": 1}, "properties": {"vmSize": "s"}}, "tags/a: 1 is not of type 'string'"),
])
def test_each_contract_breach_is_named_with_its_path(specs: SpecSet, body: dict, expected: str) -> None:
    assert any(e.startswith(expected) for e in check(specs, body)), check(specs, body)


def test_a_workspace_sku_goes_under_properties() -> None:
    body = ARM_TARGETS["azure-native:operationalinsights:Workspace"].body(
        {"resourceGroupName": "rg", "workspaceName": "w", "location": "l", "sku": {"name": "PerGB2018"}})
    assert body == {"location": "l", "properties": {"sku": {"name": "PerGB2018"}}}


def test_arm_body_drops_url_segments_and_flattens_the_rest_under_properties() -> None:
    inputs = {"resourceGroupName": "rg", "accountName": "ba", "poolName": "cpu", "vmSize": "s",
              "tags": {"a": "b"}, "identity": {"type": "UserAssigned", "userAssignedIdentities": ["/id/1"]}}
    assert arm_body(inputs, frozenset({"resourceGroupName", "accountName", "poolName"})) == {
        "tags": {"a": "b"}, "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/id/1": {}}},
        "properties": {"vmSize": "s"}}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_capture_keeps_the_inputs_not_the_mocked_outputs(stack: str) -> None:
    declared = declared_resources(REPO, stack)
    pools = [d for d in declared if d.type == "azure-native:batch:Pool"]
    accounts = [d for d in declared if d.type == "azure-native:storage:StorageAccount"]
    assert pools and accounts
    # the mocks add these to the state; a body built from them would send read-only fields
    assert all("provisioningState" not in d.inputs and "primaryEndpoints" not in d.inputs for d in accounts)
    assert all(isinstance(p.inputs["identity"]["userAssignedIdentities"], list) for p in pools)
    assert all(type(p.inputs["taskSlotsPerNode"]) is int for p in pools)  # not 2.0: "integer" in the specs


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_runner_requests_are_captured_in_wire_shape(workload: Path) -> None:
    requests = runner_requests(workload)
    assert [r.operation for r in requests] == ["Jobs_CreateJob", "Tasks_CreateTaskCollection", "Jobs_UpdateJob"]
    job, tasks, update = (r.body for r in requests)
    assert job["poolInfo"] == {"poolId": "cpu"} and job["onAllTasksComplete"] == "noaction"
    assert tasks["value"] and all("commandLine" in t and None not in t.values() for t in tasks["value"])
    assert update["onAllTasksComplete"] == "terminatejob"


def test_the_merge_task_is_among_the_captured_tasks() -> None:
    with_merge = [w for w in WORKLOADS if "merge:" in w.read_text()]
    assert with_merge, "no shipped workload has a merge task"
    tasks = runner_requests(with_merge[0])[1].body["value"]
    assert tasks[-1]["dependsOn"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_declared_resource_has_a_spec_target_and_its_body_no_url_segment(stack: str) -> None:
    for d in declared_resources(REPO, stack):
        assert d.type in ARM_TARGETS, f"{d.type} ({d.name}): add its spec file and PUT operation to ARM_TARGETS"
        target = ARM_TARGETS[d.type]
        body = target.body(d.inputs)
        sent = set(body) | set(body.get("properties", {}))
        assert not sent & target.url_params, (d.type, sent & target.url_params)
        if target.body_input is not None:  # one input is the body, the others name the URL
            assert d.inputs.keys() == {target.body_input, *target.url_params}
            continue
        assert d.inputs.keys() - target.url_params == sent - {"properties"}  # nothing lost on the way
