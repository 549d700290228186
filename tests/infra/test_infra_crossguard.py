"""The CrossGuard pack in policy/ wraps the same rules: one mandatory stack policy per rule."""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi_policy
import pytest

from bigcompute.infra import policy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pack(monkeypatch) -> dict:
    """The pack module's namespace, with PolicyPack captured instead of serving gRPC forever."""
    captured: dict = {}

    def fake_pack(**kwargs):
        captured.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    namespace = runpy.run_path(str(REPO / "policy" / "__main__.py"))
    return {"namespace": namespace, **captured}


def _args(graph) -> pulumi_policy.StackValidationArgs:
    # what the engine hands a stack policy: provider state (outputs) and the resources each depends on
    nodes = [n for n in graph.resources() if n.custom]
    resources = [pulumi_policy.PolicyResource(n.type, n.outputs, n.urn, n.name, None, None, None, [], {})
                 for n in nodes]
    by_urn = {r.urn: r for r in resources}
    for node, resource in zip(nodes, resources, strict=True):
        resource.dependencies = [by_urn[d] for d in node.dependencies if d in by_urn]
    root = next(n for n in graph.nodes if n.type == policy.STACK)
    resources.append(pulumi_policy.PolicyResource(root.type, graph.outputs, root.urn, root.name, None, None, None,
                                                  [], {}))
    return pulumi_policy.StackValidationArgs(resources)


def _run(pack: dict, args) -> list[tuple[str, str, str | None]]:
    found = []
    for p in pack["policies"]:
        p.validate(args, lambda message, urn=None, p=p: found.append((p.name, message, urn)))
    return found


def test_pack_has_one_mandatory_policy_per_rule(pack):
    assert pack["name"] == "bigcompute"
    assert [p.name for p in pack["policies"]] == [r.id for r in policy.RULES]
    assert all(p.enforcement_level == pulumi_policy.EnforcementLevel.MANDATORY for p in pack["policies"])


def test_pack_passes_the_real_stacks(pack, stack, stack_plans):
    assert _run(pack, _args(stack_plans(stack).graph)) == []


def test_pack_reports_violations_with_the_resource_urn(pack, stack_plans):
    graph = stack_plans("prod").graph
    args = _args(graph)
    pool = next(r for r in args.resources if r.resource_type == policy.POOL)
    pool.props = {**pool.props, "networkConfiguration": None}
    found = _run(pack, args)
    assert [(name, urn) for name, _, urn in found] == [("pool-no-public-ips-in-production", pool.urn)]


def test_pack_reads_the_stack_file_named_in_the_urns(pack):
    ns = pack["namespace"]
    assert ns["context_for"]("dev") == policy.PolicyContext("dev", allow_spot=True)
    assert ns["context_for"]("no-such-stack") == policy.STRICT
