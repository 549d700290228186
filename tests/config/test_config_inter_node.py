"""`interNodeCommunication` on a stack pool (for multi-instance MPI tasks): loaded into the model, and refused
where Azure limits the size of such a pool (bigcompute/config/azure_rules.py, batch-quota-limit#pool-size-limits)."""

from __future__ import annotations

import pytest

from bigcompute.document.diagnostics import render_path

INTER_NODE = "      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n      interNodeCommunication: true\n"


def test_off_unless_stated(load):
    assert load().pools[0].inter_node_communication is False


@pytest.mark.parametrize(("scale", "max_nodes"), [
    ("{fixed: {dedicated: 60, spot: 40}}", 100),
    ("{autoscale: {preset: queue-pending, maxNodes: 100}}", 100),
    ("{autoscale: {formula: '$TargetDedicatedNodes = 500;'}}", None),  # a raw formula states no ceiling to read
])
def test_a_pool_up_to_the_limit_loads(load, scale, max_nodes):
    pool = load(INTER_NODE + f"      scale: {scale}\n").pools[0]
    assert pool.inter_node_communication is True and pool.max_nodes == max_nodes


@pytest.mark.parametrize(("scale", "line", "path"), [
    ("{fixed: {dedicated: 100, spot: 1}}", 9, "$.config.bigcompute:pools[0].scale.fixed"),
    ("{autoscale: {preset: queue-pending, maxNodes: 101}}", 9, "$.config.bigcompute:pools[0].scale.autoscale.maxNodes"),
])
def test_more_than_100_nodes_are_refused(refusals, scale, line, path):
    [d] = refusals(INTER_NODE + f"      scale: {scale}\n")
    assert (d.code, d.line, render_path(d.path)) == ("azure-inter-node-size", line, path)
    assert "Batch allows at most 100" in d.message and "batch-quota-limit#pool-size-limits" in d.message


def test_without_inter_node_communication_the_limit_does_not_apply(load):
    pool = "      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n      scale: {fixed: {dedicated: 150}}\n"
    assert load(pool).pools[0].max_nodes == 150
