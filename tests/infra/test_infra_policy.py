"""The policy rules: silent on every real stack, and each one fires on a graph or stack that breaks it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bigcompute.infra import policy
from bigcompute.infra.plan import build_plan, policy_resources

PROD = policy.PolicyContext("prod", allow_spot=False)


def test_rule_ids_are_unique():
    ids = [rule.id for rule in policy.RULES]
    assert len(ids) == len(set(ids))


def test_every_stack_passes(stack, stack_plans):
    plan = stack_plans(stack)
    assert policy.evaluate(policy_resources(plan.graph), policy.PolicyContext.from_stack(plan.config)) == []


def _mutated(resources: list[policy.Resource], type_: str, path: tuple[str, ...], value: Any) -> list[policy.Resource]:
    out, hit = [], False
    for r in resources:
        if r.type == type_ and not hit:
            hit = True
            props = copy.deepcopy(dict(r.props))
            target = props
            for key in path[:-1]:
                target = target.setdefault(key, {})
            if value is None:
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
            r = policy.Resource(r.urn, r.type, r.name, props, r.dependencies)
        out.append(r)
    assert hit, f"no {type_} in the graph"
    return out


BREAKS = [
    ("storage-secure-transport", policy.STORAGE_ACCOUNT, ("enableHttpsTrafficOnly",), False),
    ("storage-secure-transport", policy.STORAGE_ACCOUNT, ("minimumTlsVersion",), "TLS1_0"),
    ("storage-no-public-access", policy.STORAGE_ACCOUNT, ("allowBlobPublicAccess",), True),
    ("storage-no-public-access", policy.BLOB_CONTAINER, ("publicAccess",), "Blob"),
    ("storage-shared-key-off", policy.STORAGE_ACCOUNT, ("allowSharedKeyAccess",), True),
    ("storage-soft-delete", policy.BLOB_SERVICE, ("deleteRetentionPolicy", "enabled"), False),
    ("batch-account-security", policy.BATCH_ACCOUNT, ("poolAllocationMode",), "UserSubscription"),
    ("batch-account-security", policy.BATCH_ACCOUNT, ("autoStorage", "authenticationMode"), "StorageKeys"),
    ("batch-account-security", policy.BATCH_ACCOUNT, ("autoStorage", "nodeIdentityReference"), None),
    ("batch-account-security", policy.BATCH_ACCOUNT, ("allowedAuthenticationModes",), ["AAD", "SharedKey"]),
    ("batch-account-security", policy.BATCH_ACCOUNT, ("allowedAuthenticationModes",), ["AAD", "TaskAuthenticationToken"]),
    ("pool-identity", policy.POOL, ("identity",), None),
    ("pool-identity", policy.POOL, ("identity", "userAssignedIdentities"), {}),
    ("pool-no-public-ips-in-production", policy.POOL, ("networkConfiguration",), None),
    ("pool-no-public-ips-in-production", policy.POOL,
     ("networkConfiguration", "publicIPAddressConfiguration", "provision"), "BatchManaged"),
    ("pool-spot-allowed", policy.POOL, ("scaleSettings",), {"fixedScale": {"targetLowPriorityNodes": 2}}),
    ("pool-spot-allowed", policy.POOL, ("scaleSettings",),
     {"autoScale": {"formula": "$TargetDedicatedNodes = 1;\n$TargetLowPriorityNodes = 4;"}}),
    ("outputs-no-secrets", policy.STACK, ("storageAccountKey",), "x"),
    ("outputs-no-secrets", policy.STACK, ("blobEndpoint",),
     "https://a.blob.core.windows.net/?sv=2024-01-01&sig=abc"),
    ("outputs-no-secrets", policy.STACK, ("connection",),
     "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + "A" * 86 + "=="),
    ("outputs-no-secrets", policy.STACK, ("batchAccountName",),
     {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "x"}),
]


@pytest.mark.parametrize(("rule", "type_", "path", "value"), BREAKS,
                         ids=[f"{b[0]}:{'.'.join(b[2])}" for b in BREAKS])
def test_each_rule_fires_on_a_graph_that_breaks_it(rule, type_, path, value, stack_plans):
    resources = policy_resources(stack_plans("prod").graph)
    assert policy.evaluate(resources, PROD) == []
    violations = policy.evaluate(_mutated(resources, type_, path, value), PROD)
    assert {v.rule for v in violations} == {rule}, violations
    assert all(v.urn and v.message for v in violations)


def test_policy_sees_state_without_arm_path_parameters(stack_plans):
    """Real azure-native state has no `accountName`/`resourceGroupName` (URL parameters, not body): the
    mocks must not invent them, or a rule joining on them passes offline and fails under CrossGuard."""
    resources = policy_resources(stack_plans("prod").graph)
    for r in resources:
        if r.type.startswith("azure-native:"):
            assert "resourceGroupName" not in r.props, r.urn
    for type_ in (policy.STORAGE_ACCOUNT, policy.BLOB_SERVICE, policy.BLOB_CONTAINER):
        for r in (r for r in resources if r.type == type_):
            assert "accountName" not in r.props and r.props["name"], r.urn
    # a property that is in the ARM body as well as the URL stays
    roles = [r for r in resources if r.type == "azure-native:authorization:RoleAssignment"]
    assert roles and all(r.props["scope"].startswith("/subscriptions/") for r in roles)


def test_soft_delete_is_judged_per_account(stack_plans):
    """A second account without its own blob service is flagged, though another account has soft delete."""
    resources = policy_resources(stack_plans("prod").graph)
    account = next(r for r in resources if r.type == policy.STORAGE_ACCOUNT)
    stray = policy.Resource(account.urn + "-second", account.type, "second", account.props)
    violations = policy.evaluate([*resources, stray], PROD)
    assert [(v.rule, v.urn) for v in violations] == [("storage-soft-delete", stray.urn)]
    # and a blob service that belongs to no account protects none
    orphaned = [policy.Resource(r.urn, r.type, r.name, r.props, ()) if r.type == policy.BLOB_SERVICE else r
                for r in resources]
    assert [(v.rule, v.urn) for v in policy.evaluate(orphaned, PROD)] == [("storage-soft-delete", account.urn)]


def test_outputs_rule_ignores_data_named_like_credentials(stack_plans):
    resources = _mutated(policy_resources(stack_plans("prod").graph), policy.STACK, ("poolIds", "tokenizer"),
                         "tokenizer")
    assert policy.evaluate(resources, PROD) == []


@pytest.mark.parametrize(("formula", "spot"), [
    ("$TargetDedicatedNodes = 2;", False),
    ("$TargetLowPriorityNodes = 0;", False),
    ("$TargetLowPriorityNodes = 0.0;\n$TargetDedicatedNodes = 3;", False),
    ("$TargetLowPriorityNodes = 5;", True),
    ("n = 2;\n$TargetLowPriorityNodes = min(n, 10);", True),
    ("$TargetLowPriorityNodes == 3 ? 1 : 0;", False),
])
def test_formula_uses_spot(formula, spot):
    assert policy.formula_uses_spot(formula) is spot


def test_context_from_stack(stack_plans):
    prod = policy.PolicyContext.from_stack(stack_plans("prod").config)
    assert prod.production and prod.environment == "prod"
    assert not policy.PolicyContext.from_stack(stack_plans("dev").config).production
    assert policy.STRICT.production and not policy.STRICT.allow_spot


SPOT_POOL = """\
    - name: cpu
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      scale:
        autoscale:
          formula: "$TargetDedicatedNodes = 0; $TargetLowPriorityNodes = {spot};"
"""


@pytest.mark.parametrize(("kwargs", "rules"), [
    pytest.param({"allow_spot": False, "pools": "fixed:2"}, {"pool-spot-allowed"}, id="fixed-spot-not-allowed"),
    pytest.param({"allow_spot": False, "pools": SPOT_POOL.format(spot=3)}, {"pool-spot-allowed"},
                 id="formula-spot-not-allowed"),
    pytest.param({"allow_spot": False, "pools": SPOT_POOL.format(spot=0)}, set(), id="formula-without-spot"),
    pytest.param({"allow_spot": True, "pools": "fixed:2"}, set(), id="spot-allowed"),
    pytest.param({"environment": "prod"}, {"pool-no-public-ips-in-production"}, id="prod-without-network"),
    pytest.param({"environment": "prod", "extra": "bigcompute:network: {addressSpace: 10.1.0.0/16, "
                  "subnetPrefix: 10.1.0.0/24, publicIps: batchManaged}\n"},
                 {"pool-no-public-ips-in-production"}, id="prod-batch-managed-ips"),
    pytest.param({"environment": "prod", "extra": "bigcompute:network: {addressSpace: 10.1.0.0/16, "
                  "subnetPrefix: 10.1.0.0/24, publicIps: none}\n"
                  "bigcompute:batch: {authenticationModes: [AAD, TaskAuthenticationToken]}\n"},
                 {"batch-account-security"}, id="prod-token-auth"),
    pytest.param({"extra": "bigcompute:storage: {sharedKeyAccess: true}\n"}, set(), id="shared-key-allowed-by-stack"),
])
def test_stack_files_that_break_a_rule(kwargs, rules, project, stack_text, fixed_pool):
    if kwargs.get("pools") == "fixed:2":
        kwargs = {**kwargs, "pools": fixed_pool(spot=2)}
    plan = build_plan("test", project(stack_text(**kwargs)))
    assert {v.rule for v in plan.violations} == rules, plan.violations
