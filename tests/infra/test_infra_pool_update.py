"""A live pool is never PUT: its updatable settings go through Pool - Update (PATCH), anything else replaces
it (components/pool_update.py says why). Checked on the graph (what Pulumi would send) and by driving the
dynamic provider through the real azure-mgmt-batch client against recorded ARM answers."""

from __future__ import annotations

import json
import time

import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.batch import BatchManagementClient

from bigcompute.infra.diff import diff, provider_replace_keys
from bigcompute.infra.plan import build_plan
from bigcompute.infra.review import review
from components import pool_spec
from components.pool_update import UPDATABLE, PoolUpdateProvider
from tests.conftest import transport
from tests.infra.conftest import REPO

POOL_TYPE, UPDATE_TYPE = "azure-native:batch:Pool", "pulumi-python:dynamic/batch:PoolUpdate"
# inputs the program sets to the same value for every pool, forever (so they never reach a diff)
CONSTANT = {"displayName", "targetNodeCommunicationMode"}


def _settings_of(graph, pool):
    [update] = [n for n in graph.resources(UPDATE_TYPE) if n.parent == pool.parent]
    return update


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_pool_input_is_patched_or_replaces_the_pool(stack, stack_plans):
    """So azure-native never has a reason to PUT a live pool: Pulumi either ignores a change (the PoolUpdate
    PATCHes it) or replaces the pool."""
    graph = stack_plans(stack).graph
    for pool in graph.resources(POOL_TYPE):
        assert set(pool.ignore_changes) == set(UPDATABLE)
        replaces = set(pool.replace_on_changes) | provider_replace_keys(pool)
        assert set(pool.replace_on_changes) == set(pool_spec.REPLACE_ON_CHANGES)
        unaccounted = set(pool.inputs) - set(UPDATABLE) - replaces - CONSTANT
        assert unaccounted == set(), pool.name
        assert not set(UPDATABLE) & replaces


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_patch_carries_the_pools_updatable_settings(stack, stack_plans):
    graph = stack_plans(stack).graph
    for pool in graph.resources(POOL_TYPE):
        update = _settings_of(graph, pool)
        assert update.inputs["poolId"] == pool.id
        assert pool.urn in update.dependencies and update.replace_with == (pool.urn,)
        body, inputs = update.inputs["body"], pool.inputs
        assert body["properties"] == {"scaleSettings": inputs["scaleSettings"], "startTask": inputs.get("startTask", {}),
                                      "metadata": inputs.get("metadata", []),
                                      "applicationPackages": inputs.get("applicationPackages", [])}
        assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {
            i: {} for i in inputs["identity"]["userAssignedIdentities"]}}
        assert body["tags"] == inputs["tags"]
        assert dict(review(update))["patches"] == (
            f"batchAccounts/{pool.inputs['accountName']}/pools/{pool.inputs['poolName']}: applicationPackages, "
            "metadata, scaleSettings, startTask, identity, tags (Pool - Update)")


def test_a_prod_resize_by_pull_request_patches_and_never_replaces(tmp_path, project):
    """The prod shape (a VNet, no public IPs): a new maxNodes changes only the formula, which the pool ignores
    (no PUT with its networkConfiguration) and its PoolUpdate sends."""
    text = (REPO / "stacks" / "Pulumi.prod.yaml").read_text()
    base = build_plan("prod", project(text, name="prod")).graph
    resized = build_plan("prod", project(text.replace("maxNodes: 40", "maxNodes: 60"), name="prod")).graph
    [change] = diff(base, resized)
    pool = resized.by_urn()[change.urn]
    assert (pool.type, change.action, change.paths) == (POOL_TYPE, "update", ("scaleSettings.autoScale.formula",))
    assert {p.split(".")[0] for p in change.paths} <= set(pool.ignore_changes)  # Pulumi sends no PUT
    assert "networkConfiguration" in pool.inputs
    before, after = (_settings_of(g, g.by_urn()[change.urn]) for g in (base, resized))
    assert before.inputs["body"] != after.inputs["body"]  # ...and the PATCH carries the new formula
    assert "60" in after.inputs["body"]["properties"]["scaleSettings"]["autoScale"]["formula"]


class Token:
    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken("token", int(time.time()) + 3600)


POOL_ID = ("/subscriptions/sub1/resourceGroups/rg-bigcompute-prod/providers/Microsoft.Batch/batchAccounts/baprod/"
           "pools/cpu")
IDENTITY = "/subscriptions/sub1/resourceGroups/rg-bigcompute-prod/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
FIXED = {"fixedScale": {"targetDedicatedNodes": 3, "targetLowPriorityNodes": 0, "nodeDeallocationOption": "Requeue",
                        "resizeTimeout": "PT15M"}}
START = {"commandLine": "/bin/bash -c 'echo ready'", "waitForSuccess": True, "maxTaskRetryCount": 2}
BODY = {"properties": {"scaleSettings": FIXED, "startTask": START, "metadata": [{"name": "team", "value": "vfx"}],
                       "applicationPackages": []},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}, "tags": {"owner": "ops"}}


def _live(**properties) -> dict:
    """A pool as Pool - Get answers: read-only fields, service defaults, ids in the service's spelling, and
    no nodeDeallocationOption (request-only)."""
    scale = {"fixedScale": {"targetDedicatedNodes": 3, "targetLowPriorityNodes": 0, "resizeTimeout": "PT15M"}}
    return {"id": POOL_ID, "name": "cpu", "type": "Microsoft.Batch/batchAccounts/pools", "etag": "W/\"0x8D4EDFEBFADF4AB\"",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY.replace("resourceGroups", "resourcegroups"): {
                "principalId": "p", "clientId": "c"}}},
            "tags": {"owner": "ops"},
            "properties": {"allocationState": "Resizing", "provisioningState": "Succeeded", "vmSize": "STANDARD_D2S_V5",
                           "scaleSettings": scale, "startTask": {**START, "environmentSettings": []},
                           "metadata": [{"name": "team", "value": "vfx"}], **properties}}


def _provider(live: dict | None = None, status: int = 200):
    answer = {"id": POOL_ID, "name": "cpu", "properties": {}} if status == 200 else {"error": {"code": "PoolNotFound"}}
    http, adapter = transport({("PATCH", POOL_ID): (status, answer), ("GET", POOL_ID): (200, live or _live())})
    subscriptions = []

    def connect(subscription: str) -> BatchManagementClient:
        subscriptions.append(subscription)
        return BatchManagementClient(Token(), subscription, api_version="2024-07-01", transport=http, retry_total=0)

    return PoolUpdateProvider(connect), adapter, subscriptions


def _sent(adapter) -> list:
    return [(r.method, json.loads(r.body) if r.body else None) for r in adapter.asked]


def test_a_first_deployment_reads_the_pool_and_patches_nothing_it_already_holds():
    """The pool was just created (or deployed before) with these values: no PATCH, which would otherwise re-enable
    scaling while the pool resizes."""
    provider, adapter, subscriptions = _provider()
    created = provider.create({"poolId": POOL_ID, "body": BODY})
    assert created.id == POOL_ID and subscriptions == ["sub1"]
    assert [(r.method, r.url) for r in adapter.asked] == [
        ("GET", f"https://management.azure.com{POOL_ID}?api-version=2024-07-01")]
    assert adapter.asked[0].headers["Authorization"] == "Bearer token"


def test_a_replaced_pool_gets_what_it_was_created_without():
    """A replaced pool was created with the old values of what it ignores (here an older size and a start task the
    stack has since removed): the PATCH sends exactly those."""
    live = _live(scaleSettings={"fixedScale": {"targetDedicatedNodes": 1, "targetLowPriorityNodes": 0}})
    provider, adapter, _ = _provider(live)
    provider.create({"poolId": POOL_ID, "body": {**BODY, "properties": {**BODY["properties"], "startTask": {}}}})
    assert _sent(adapter) == [("GET", None), ("PATCH", {"properties": {"scaleSettings": FIXED, "startTask": {}}})]
    assert adapter.asked[1].url == f"https://management.azure.com{POOL_ID}?api-version=2024-07-01"


def test_an_update_patches_only_what_changed():
    provider, adapter, _ = _provider()
    autoscale = {"autoScale": {"formula": "$TargetDedicatedNodes = 4;", "evaluationInterval": "PT5M"}}
    resized = {**BODY, "properties": {**BODY["properties"], "scaleSettings": autoscale}}
    provider.update(POOL_ID, {"poolId": POOL_ID, "body": BODY}, {"poolId": POOL_ID, "body": resized})
    provider.update(POOL_ID, {"poolId": POOL_ID, "body": resized}, {"poolId": POOL_ID, "body": {**resized, "tags": {}}})
    provider.update(POOL_ID, {"poolId": POOL_ID, "body": BODY}, {"poolId": POOL_ID, "body": BODY})
    assert _sent(adapter) == [("PATCH", {"properties": {"scaleSettings": autoscale}}), ("PATCH", {"tags": {}})]


def test_a_new_pool_identity_replaces_the_old_one_in_place():
    """A PATCH merges user-assigned identities and Batch's schema has no null entry to drop one: the pool's
    identities are cleared with the type None (BatchPoolIdentity), then the stack's are set."""
    provider, adapter, _ = _provider()
    new_id = IDENTITY.replace("/id", "/id2")
    new = {**BODY, "identity": {"type": "UserAssigned", "userAssignedIdentities": {new_id: {}}}}
    provider.update(POOL_ID, {"poolId": POOL_ID, "body": BODY}, {"poolId": POOL_ID, "body": new})
    assert _sent(adapter) == [("PATCH", {"identity": {"type": "None"}}), ("PATCH", {"identity": {
        "type": "UserAssigned", "userAssignedIdentities": {new_id: {}}}})]


def test_an_added_pool_identity_is_one_patch_with_the_rest():
    provider, adapter, _ = _provider()
    both = {IDENTITY: {}, IDENTITY.replace("/id", "/id2"): {}}
    new = {**BODY, "identity": {"type": "UserAssigned", "userAssignedIdentities": both}, "tags": {}}
    provider.update(POOL_ID, {"poolId": POOL_ID, "body": BODY}, {"poolId": POOL_ID, "body": new})
    assert _sent(adapter) == [("PATCH", {"identity": {"type": "UserAssigned", "userAssignedIdentities": both},
                                         "tags": {}})]


def test_a_refused_patch_fails_the_update_and_a_bad_id_sends_nothing():
    provider, adapter, _ = _provider(status=404)
    with pytest.raises(Exception, match="PoolNotFound"):
        provider.update(POOL_ID, {"poolId": POOL_ID, "body": BODY}, {"poolId": POOL_ID, "body": {**BODY, "tags": {}}})
    with pytest.raises(ValueError, match="not a Batch pool id"):
        provider.create({"poolId": "/subscriptions/sub1/resourceGroups/rg", "body": BODY})
    assert len(adapter.asked) == 1
