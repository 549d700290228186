"""Every role assignment of the Pulumi program, by identity, scope and exact built-in role id: a broader role
(Owner, Contributor) for any identity, an extra grant or a missing one fails here.

The ids are written out, not imported from components/roles.py, so a wrong constant there fails too. Built-in
role ids are the same in every tenant, from Azure's built-in roles pages:
https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage (Storage Blob Data Reader,
Storage Blob Data Contributor) and .../built-in-roles/compute (Azure Batch Data Contributor).
"""

from __future__ import annotations

import re

import pytest

from bigcompute.infra.graph import Graph
from bigcompute.infra.plan import build_plan
from tests.infra.conftest import STACK_NAMES

STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
AZURE_BATCH_DATA_CONTRIBUTOR = "6aaa78f1-f7de-44ca-8722-c64a23943cae"
# https://learn.microsoft.com/azure/batch/batch-role-based-access-control#azure-batch-job-submitter
AZURE_BATCH_JOB_SUBMITTER = "48e5e92e-a480-4e71-aa9c-2778f4c13781"
RUNNER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

# (identity, scope, role): the pool's identity (identity-uai) reads inputs, writes outputs, reads application
# packages (with the app-* condition) and submits jobs (a scheduled run's job manager adds its tasks); the Batch account's identity (batch-identity) manages auto-storage; the
# runner's principal writes inputs and outputs and manages jobs.
POOL_AND_BATCH = {
    ("identity-uai", "storage-inputs", STORAGE_BLOB_DATA_READER),
    ("identity-uai", "storage-outputs", STORAGE_BLOB_DATA_CONTRIBUTOR),
    ("identity-uai", "storage-account", STORAGE_BLOB_DATA_READER),
    ("identity-uai", "batch-account", AZURE_BATCH_JOB_SUBMITTER),
    ("batch-identity", "storage-account", STORAGE_BLOB_DATA_CONTRIBUTOR),
}
RUNNER_GRANTS = {
    ("runner", "storage-inputs", STORAGE_BLOB_DATA_CONTRIBUTOR),
    ("runner", "storage-outputs", STORAGE_BLOB_DATA_CONTRIBUTOR),
    ("runner", "batch-account", AZURE_BATCH_DATA_CONTRIBUTOR),
}


def grants(graph: Graph, subscription: str) -> set[tuple[str, str, str]]:
    """(identity name, scope name, role id) of every role assignment; the role as its full definition id."""
    identities = {n.outputs["principalId"]: n.name
                  for n in graph.resources("azure-native:managedidentity:UserAssignedIdentity")}
    identities[RUNNER] = "runner"
    scopes = {n.id: n.name for n in graph.resources() if n.custom}
    prefix = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
    found = set()
    for r in graph.resources("azure-native:authorization:RoleAssignment"):
        role = r.inputs["roleDefinitionId"]
        assert re.fullmatch(re.escape(prefix) + r"[0-9a-f-]{36}", role), role
        identity = identities[r.inputs["principalId"]]
        if identity != "runner":  # a managed identity: its assignment says so, so ARM need not look it up
            assert r.inputs["principalType"] == "ServicePrincipal"
        found.add((identity, scopes[r.inputs["scope"]], role.removeprefix(prefix)))
    return found


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_each_identity_gets_exactly_its_roles(stack, stack_plans):
    plan = stack_plans(stack)
    assert grants(plan.graph, plan.config.subscription_id) == POOL_AND_BATCH


def test_the_runners_principal_gets_exactly_its_roles(project, stack_text):
    subscription = "44444444-4444-4444-8444-444444444444"
    extra = f"bigcompute:subscriptionId: {subscription}\nbigcompute:batch: {{runnerPrincipalId: {RUNNER}}}\n"
    plan = build_plan("test", project(stack_text(extra=extra)))
    assert grants(plan.graph, subscription) == POOL_AND_BATCH | RUNNER_GRANTS


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_pools_wait_for_the_identitys_job_submitter_grant_on_the_account(stack, stack_plans):
    """A scheduled run's job manager adds tasks as the pool identity from its first run: each pool is created
    after the grant, which is scoped to the Batch account and nothing wider (not the resource group)."""
    graph = stack_plans(stack).graph
    [account] = graph.resources("azure-native:batch:BatchAccount")
    [grant] = [r for r in graph.resources("azure-native:authorization:RoleAssignment")
               if r.inputs["roleDefinitionId"].endswith(AZURE_BATCH_JOB_SUBMITTER)]
    assert grant.inputs["scope"] == account.id
    pools = graph.resources("azure-native:batch:Pool")
    assert pools and all(grant.urn in pool.dependencies for pool in pools)
