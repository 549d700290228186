"""The option combinations the stacks under stacks/ do not cover, each checked like them against the
vendored specs: fixed and autoscale pools, spot, start tasks, containers and applications, with and
without a virtual network."""

from __future__ import annotations

import pytest

from tests.contract.conftest import ARM_TARGETS, NOT_VENDORED, SPECS, SpecSet, body_schema, declared_resources
from tests.infra.test_infra_components import RICH_POOL

FIXED = """\
    - name: cpu
      vmSize: Standard_D4s_v5
      image: ubuntu-24.04
      scale:
        fixed: {{dedicated: 2, spot: {spot}}}
"""
AUTOSCALE = """\
    - name: cpu
      vmSize: Standard_D16s_v5
      image: ubuntu-24.04
      taskSlotsPerNode: 16
      scale:
        autoscale: {preset: queue-pending, minNodes: 0, maxNodes: 10, evaluationInterval: PT5M}
      startTask: {command: echo ready}
"""
NETWORK = "bigcompute:network: {{addressSpace: 10.1.0.0/16, subnetPrefix: 10.1.0.0/24, publicIps: {ips}}}\n"
ACR_POOL = """\
    - name: render
      vmSize: Standard_D4s_v5
      image: ubuntu-hpc-22.04
      scale: {fixed: {dedicated: 1}}
      containerImages: [acmeimages.azurecr.io/render:1]
      containerRegistries:
        - server: acmeimages.azurecr.io
          resourceId: /subscriptions/0/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acmeimages
"""
PRIVATE = "bigcompute:batch: {publicNetworkAccess: false, runnerAccess: {mode: privateEndpoint}}\n"
STORAGE = ("bigcompute:storage: {sku: Standard_RAGRS, containers: {inputs: in-data, outputs: out-data}, "
           "outputRetentionDays: 3650, sharedKeyAccess: true}\n")

MATRIX = {
    "fixed-dedicated-no-spot": dict(pools=FIXED.format(spot=0), allow_spot=False),
    "fixed-with-spot": dict(pools=FIXED.format(spot=2)),
    "start-task-containers-applications": dict(pools=RICH_POOL),
    "containers-from-acr-as-the-pool-identity": dict(pools=ACR_POOL),
    "autoscale-public": dict(pools=AUTOSCALE),
    "autoscale-network-batch-managed-ips": dict(pools=AUTOSCALE, extra=NETWORK.format(ips="batchManaged")),
    "allow-listed-runner": dict(pools=AUTOSCALE, extra=NETWORK.format(ips="none")
                                + "bigcompute:batch: {runnerAccess: {mode: allowList, ips: [203.0.113.0/24]}}\n"),
    "storage-geo-redundant-shared-keys-long-retention": dict(pools=FIXED.format(spot=0), extra=STORAGE),
    "private-network-no-public-ips": dict(pools=AUTOSCALE + FIXED.format(spot=0).replace("name: cpu", "name: small"),
                                          extra=NETWORK.format(ips="none") + PRIVATE),
}


@pytest.mark.parametrize("options", MATRIX.values(), ids=MATRIX.keys())
def test_every_vendored_body_of_the_option_matrix_matches_its_schema(options: dict, project, stack_text,
                                                                      official_specs: SpecSet) -> None:
    folder = project(stack_text(**options))
    failures, checked = {}, set()
    for d in declared_resources(folder, "test"):
        if d.type in NOT_VENDORED:
            continue
        checked.add(d.type)
        target = ARM_TARGETS[d.type]
        schema = body_schema(SPECS, target.spec, target.operation)
        wired = official_specs.wire(schema, target.body(d.inputs))
        errors = official_specs.errors(schema, wired.body) + [f"{p}: not a property of the API" for p in wired.undeclared]
        if errors:
            failures[f"{d.type} {d.name}"] = errors
    assert failures == {}
    assert {"azure-native:batch:Pool", "azure-native:batch:BatchAccount", "azure-native:storage:StorageAccount",
            "azure-native:storage:ManagementPolicy", "azure-native:storage:BlobContainer"} <= checked
