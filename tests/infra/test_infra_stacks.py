"""Every stack under stacks/ through the Pulumi program under mocks: resources and their properties."""

from __future__ import annotations

from bigcompute.config import AutoScale, FixedScale
from bigcompute.infra.graph import Graph, Node
from components.naming import iso_duration

READER, CONTRIBUTOR = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
JOB_SUBMITTER = "48e5e92e-a480-4e71-aa9c-2778f4c13781"  # Azure Batch Job Submitter (batch-role-based-access-control)
CONTRACT = {"resourceGroup", "batchAccountName", "batchAccountEndpoint", "storageAccountName", "blobEndpoint",
            "containers", "poolIds", "identityResourceId"}


def one(graph: Graph, type_: str, name: str | None = None) -> Node:
    found = [n for n in graph.resources(f"azure-native:{type_}") if name is None or n.name == name]
    assert len(found) == 1, f"expected one {type_} {name or ''}, found {[n.urn for n in found]}"
    return found[0]


def test_declares_every_component(stack, stack_plans):
    plan = stack_plans(stack)
    components = {n.type for n in plan.graph.resources() if not n.custom}
    assert {"bigcompute:storage:Storage", "bigcompute:identity:PoolIdentity", "bigcompute:batch:BatchAccount",
            "bigcompute:compute:Pool", "bigcompute:monitoring:Monitoring"} <= components
    assert ("bigcompute:network:Network" in components) == (plan.config.network is not None)
    pools = plan.graph.resources("azure-native:batch:Pool")
    assert sorted(p.inputs["poolName"] for p in pools) == sorted(p.name for p in plan.config.pools)
    for node in plan.graph.resources():
        assert node.parent, f"{node.urn} has no parent"


def test_pools_match_the_stack(stack, stack_plans):
    plan = stack_plans(stack)
    graph, config = plan.graph, plan.config
    for pool in config.pools:
        node = one(graph, "batch:Pool", f"pool-{pool.name}-pool")
        p = node.inputs
        assert graph.by_urn()[node.parent].type == "bigcompute:compute:Pool", node.urn
        assert p["vmSize"] == pool.vm_size
        assert p["taskSlotsPerNode"] == pool.task_slots_per_node
        assert p["taskSchedulingPolicy"] == {"nodeFillType": pool.scheduling.capitalize()}
        vm = p["deploymentConfiguration"]["virtualMachineConfiguration"]
        assert vm["imageReference"] == {"publisher": pool.image.publisher, "offer": pool.image.offer,
                                        "sku": pool.image.sku, "version": pool.image.version}
        assert vm["nodeAgentSkuId"] == pool.image.node_agent_sku
        if isinstance(pool.scale, AutoScale):
            assert p["scaleSettings"] == {"autoScale": {
                "formula": pool.formula(), "evaluationInterval": iso_duration(pool.scale.evaluation_interval)}}
        else:
            assert isinstance(pool.scale, FixedScale)
            fixed = p["scaleSettings"]["fixedScale"]
            assert (fixed["targetDedicatedNodes"], fixed["targetLowPriorityNodes"]) == (pool.scale.dedicated,
                                                                                        pool.scale.spot)
        assert p["identity"] == {"type": "UserAssigned",
                                 "userAssignedIdentities": [graph.outputs["identityResourceId"]]}
        assert p["targetNodeCommunicationMode"] == "Simplified"
        assert p.get("metadata", []) == [{"name": k, "value": v} for k, v in sorted(pool.metadata.items())]
        if config.network is None:
            assert "networkConfiguration" not in p
        else:
            subnet = one(graph, "network:Subnet")
            provision = "NoPublicIPAddresses" if config.network.public_ips == "none" else "BatchManaged"
            assert p["networkConfiguration"] == {"subnetId": subnet.id,
                                                 "publicIPAddressConfiguration": {"provision": provision}}
        if pool.start_task:
            elevation = "Admin" if pool.start_task.elevated else "NonAdmin"
            assert p["startTask"]["userIdentity"] == {"autoUser": {"scope": "Pool", "elevationLevel": elevation}}
            for package in pool.start_task.apt_packages:
                assert package in p["startTask"]["commandLine"]
        # what Azure cannot change on a live pool replaces it; sizes and formulas update in place
        assert {"vmSize", "deploymentConfiguration", "networkConfiguration", "taskSlotsPerNode"} <= set(
            node.replace_on_changes)
        # the identity too: Pool - Update accepts it, new nodes get it (BatchPoolIdentity)
        for updatable in ("scaleSettings", "startTask", "identity", "metadata", "applicationPackages"):
            assert updatable not in node.replace_on_changes, updatable
        assert node.delete_before_replace


def test_storage_is_locked_down(stack, stack_plans):
    plan = stack_plans(stack)
    graph, config = plan.graph, plan.config
    account = one(graph, "storage:StorageAccount").inputs
    assert account["kind"] == "StorageV2" and account["sku"] == {"name": config.storage.sku}
    assert account["enableHttpsTrafficOnly"] is True and account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is config.storage.shared_key_access
    service = one(graph, "storage:BlobServiceProperties").inputs
    assert service["deleteRetentionPolicy"]["enabled"] is True and service["deleteRetentionPolicy"]["days"] >= 1
    containers = {n.inputs["containerName"]: n.inputs for n in graph.resources("azure-native:storage:BlobContainer")}
    names = config.storage.containers
    assert set(containers) == {names.inputs, names.outputs}  # packages: Batch's own app-* containers
    assert all(c["publicAccess"] == "None" for c in containers.values())
    rule = one(graph, "storage:ManagementPolicy").inputs["policy"]["rules"][0]["definition"]
    assert rule["filters"]["prefixMatch"] == [f"{names.outputs}/"]
    assert rule["actions"]["baseBlob"]["delete"] == {
        "daysAfterModificationGreaterThan": config.storage.output_retention_days}


def test_role_assignments_are_least_privilege(stack, stack_plans):
    graph = stack_plans(stack).graph
    containers = {n.name.removeprefix("storage-"): n.id for n in graph.resources("azure-native:storage:BlobContainer")}
    pool_identity = one(graph, "managedidentity:UserAssignedIdentity", "identity-uai")
    grants = {(r.inputs["scope"], r.inputs["roleDefinitionId"].rsplit("/", 1)[1])
              for r in graph.resources("azure-native:authorization:RoleAssignment")
              if r.inputs["principalId"] == pool_identity.outputs["principalId"]}
    account_id = one(graph, "storage:StorageAccount").id
    # nothing on the `applications` container: nodes fetch packages from Batch's own app-* containers; on the
    # Batch account, jobs and schedules only (a scheduled run's job manager adds its tasks), no pool writes
    assert grants == {(containers["inputs"], READER), (containers["outputs"], CONTRIBUTOR), (account_id, READER),
                      (one(graph, "batch:BatchAccount").id, JOB_SUBMITTER)}
    packages = one(graph, "authorization:RoleAssignment", "identity-app-packages-reader").inputs
    assert packages["conditionVersion"] == "2.0"
    assert packages["condition"] == (
        "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}))"
        " OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringStartsWith 'app-'))")
    # ...and that identity is the one auto-storage hands to nodes, and the one the pools carry
    auto_storage = one(graph, "batch:BatchAccount").inputs["autoStorage"]
    assert auto_storage["authenticationMode"] == "BatchAccountManagedIdentity"
    assert auto_storage["nodeIdentityReference"] == {"resourceId": pool_identity.id}
    for pool in graph.resources("azure-native:batch:Pool"):
        assert pool.inputs["identity"]["userAssignedIdentities"] == [pool_identity.id]
    for r in graph.resources("azure-native:authorization:RoleAssignment"):
        assert r.inputs["roleDefinitionId"].startswith("/subscriptions/"), r.inputs["roleDefinitionId"]
    # the Batch account's own identity manages auto-storage, at account scope, before the account exists
    batch_identity = one(graph, "managedidentity:UserAssignedIdentity", "batch-identity")
    autostorage = one(graph, "authorization:RoleAssignment", "batch-autostorage-contributor")
    assert autostorage.inputs["principalId"] == batch_identity.outputs["principalId"]
    assert autostorage.inputs["scope"] == one(graph, "storage:StorageAccount").id
    assert autostorage.urn in one(graph, "batch:BatchAccount").dependencies


def test_pools_wait_for_the_pool_identitys_roles(stack, stack_plans):
    """A node booting before its identity may read inputs fails its resource files: the pool waits."""
    graph = stack_plans(stack).graph
    pool_identity = one(graph, "managedidentity:UserAssignedIdentity", "identity-uai")
    grants = {r.urn for r in graph.resources("azure-native:authorization:RoleAssignment")
              if r.inputs["principalId"] == pool_identity.outputs["principalId"]}
    assert len(grants) == 4
    for pool in graph.resources("azure-native:batch:Pool"):
        assert grants <= set(pool.dependencies), pool.urn


def test_batch_account(stack, stack_plans):
    plan = stack_plans(stack)
    graph, config = plan.graph, plan.config
    account = one(graph, "batch:BatchAccount").inputs
    assert account["poolAllocationMode"] == "BatchService"
    assert account["publicNetworkAccess"] == ("Enabled" if config.batch.public_network_access else "Disabled")
    assert account["allowedAuthenticationModes"] == list(config.batch.authentication_modes)
    assert account["autoStorage"] == {
        "storageAccountId": one(graph, "storage:StorageAccount").id,
        "authenticationMode": "BatchAccountManagedIdentity",
        "nodeIdentityReference": {"resourceId": graph.outputs["identityResourceId"]},
    }
    assert account["identity"]["userAssignedIdentities"] == [
        one(graph, "managedidentity:UserAssignedIdentity", "batch-identity").id]
    # nodes without public IPs reach node management through its private endpoint; the runner through a
    # batchAccount one only when it sits in the VNet
    groups = sorted(g for e in graph.resources("azure-native:network:PrivateEndpoint")
                    for c in e.inputs["privateLinkServiceConnections"] for g in c["groupIds"])
    private_nodes = config.network is not None and config.network.public_ips == "none"
    runner_mode = config.batch.runner_access.mode
    assert groups == sorted(["nodeManagement"] * private_nodes + ["batchAccount"] * (runner_mode == "privateEndpoint"))
    profile = account.get("networkProfile") or {}
    if runner_mode == "allowList":
        assert profile["accountAccess"] == {"defaultAction": "Deny", "ipRules": [
            {"action": "Allow", "value": ip} for ip in config.batch.runner_access.ips]}
    else:
        assert "accountAccess" not in profile or profile["accountAccess"]["defaultAction"] == "Deny"
    assert ("nodeManagementAccess" in profile) == (private_nodes and config.batch.public_network_access)


def test_the_runner_can_reach_every_account(stack, stack_plans):
    """The path `bigcompute apply` takes: an open or allow-listed public endpoint, or a private endpoint."""
    plan = stack_plans(stack)
    account = one(plan.graph, "batch:BatchAccount").inputs
    access = (account.get("networkProfile") or {}).get("accountAccess")
    public_path = account["publicNetworkAccess"] == "Enabled" and (access is None or access.get("ipRules"))
    private_path = any("batchAccount" in c["groupIds"] for e in plan.graph.resources("azure-native:network:PrivateEndpoint")
                       for c in e.inputs["privateLinkServiceConnections"])
    assert public_path or private_path


def test_pools_wait_for_the_node_management_private_endpoint_and_its_dns(stack, stack_plans):
    """A pool with minNodes >= 1 boots nodes at once; before the DNS record and VNet link exist they
    resolve node management publicly, which is denied, and go unusable."""
    plan = stack_plans(stack)
    graph = plan.graph
    endpoints = [e for e in graph.resources("azure-native:network:PrivateEndpoint")
                 if e.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["nodeManagement"]]
    if not endpoints:
        assert plan.config.network is None or plan.config.network.public_ips != "none"
        return
    [endpoint] = endpoints
    [dns] = [g for g in graph.resources("azure-native:network:PrivateDnsZoneGroup")
             if g.inputs["privateEndpointName"] == endpoint.outputs["name"]]
    link = one(graph, "privatedns:VirtualNetworkLink")
    for pool in graph.resources("azure-native:batch:Pool"):
        assert {endpoint.urn, dns.urn, link.urn} <= set(pool.dependencies), pool.urn


def test_monitoring(stack, stack_plans):
    plan = stack_plans(stack)
    graph = plan.graph
    workspace = one(graph, "operationalinsights:Workspace")
    assert workspace.inputs["retentionInDays"] == plan.config.monitoring.log_retention_days
    diagnostics = one(graph, "monitor:DiagnosticSetting").inputs
    assert diagnostics["resourceUri"] == one(graph, "batch:BatchAccount").id
    assert diagnostics["workspaceId"] == workspace.id
    assert diagnostics["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    assert diagnostics["metrics"] == [{"category": "AllMetrics", "enabled": True}]


def test_network(stack, stack_plans):
    plan = stack_plans(stack)
    graph, network = plan.graph, plan.config.network
    if network is None:
        assert not graph.resources("azure-native:network:VirtualNetwork")
        return
    assert one(graph, "network:VirtualNetwork").inputs["addressSpace"] == {"addressPrefixes": [network.address_space]}
    subnet = one(graph, "network:Subnet").inputs
    assert subnet["addressPrefix"] == network.subnet_prefix
    assert subnet["networkSecurityGroup"] == {"id": one(graph, "network:NetworkSecurityGroup").id}
    rules = {r["name"]: r for r in one(graph, "network:NetworkSecurityGroup").inputs["securityRules"]}
    assert rules["AllowBatchNodeManagementOutbound"]["destinationAddressPrefix"] == (
        f"BatchNodeManagement.{plan.config.location}")
    assert ("natGateway" in subnet) == (network.public_ips == "none")


def test_outputs_are_the_runner_contract(stack, stack_plans):
    plan = stack_plans(stack)
    graph, config = plan.graph, plan.config
    outputs = graph.outputs
    assert set(outputs) == CONTRACT
    assert outputs["poolIds"] == {p.name: p.name for p in config.pools}
    assert outputs["containers"] == {"inputs": config.storage.containers.inputs,
                                     "outputs": config.storage.containers.outputs}
    assert outputs["resourceGroup"] == f"rg-bigcompute-{config.environment}"
    account = one(graph, "batch:BatchAccount")
    assert outputs["batchAccountName"] == account.outputs["name"]
    assert outputs["batchAccountEndpoint"] == f"https://{account.outputs['accountEndpoint']}"
    storage = one(graph, "storage:StorageAccount")
    assert outputs["storageAccountName"] == storage.outputs["name"]
    assert outputs["blobEndpoint"] == f"https://{storage.outputs['name']}.blob.core.windows.net/"
    assert outputs["identityResourceId"] == one(graph, "managedidentity:UserAssignedIdentity", "identity-uai").id


def test_policy_passes(stack, stack_plans):
    assert stack_plans(stack).violations == []


STATEFUL = {"resources:ResourceGroup", "storage:StorageAccount", "storage:BlobContainer", "batch:BatchAccount",
            "managedidentity:UserAssignedIdentity", "operationalinsights:Workspace"}


def test_every_stack_names_its_subscription(stack, stack_plans):
    config = stack_plans(stack).config
    assert config.subscription_id, f"stacks/Pulumi.{stack}.yaml has no bigcompute:subscriptionId"


def test_prod_is_protected_and_its_data_locked(stack, stack_plans):
    plan = stack_plans(stack)
    graph = plan.graph
    assert plan.config.protect == (stack == "prod")
    stateful = [n for n in graph.resources() if n.custom and n.type.removeprefix("azure-native:") in STATEFUL]
    assert {n.type.removeprefix("azure-native:") for n in stateful} == STATEFUL
    for node in stateful:
        assert node.protect == plan.config.protect, node.urn
    # pools and role assignments stay replaceable: resizing or re-granting must not need an unprotect
    for node in graph.resources("azure-native:batch:Pool") + graph.resources("azure-native:authorization:RoleAssignment"):
        assert not node.protect, node.urn
    locks = graph.resources("azure-native:authorization:ManagementLockByScope")
    if not plan.config.protect:
        assert locks == []
        return
    assert len(locks) == 1 and locks[0].protect
    assert locks[0].inputs["level"] == "CanNotDelete"
    assert locks[0].inputs["scope"] == one(graph, "storage:StorageAccount").id


def _network_shape(graph: Graph) -> dict:
    """What a network change touches, without names, ranges or sizes: resource types and their counts, the
    account's network settings, and each pool's network settings."""
    account = one(graph, "batch:BatchAccount").inputs
    network = {"azure-native:network:", "azure-native:privatedns:"}
    pools = graph.resources("azure-native:batch:Pool")
    return {
        "types": sorted(n.type for n in graph.resources() if any(n.type.startswith(p) for p in network)),
        "account": {k: account.get(k) for k in ("publicNetworkAccess", "networkProfile")},
        "pools": {(p.inputs["networkConfiguration"]["publicIPAddressConfiguration"]["provision"],
                   p.inputs["targetNodeCommunicationMode"]) for p in pools},
    }


def test_staging_has_prods_network_shape(stack_plans):
    """A network change is proven on staging before prod: both build the same network resources, the same
    account rules (the runner allow-list, node management denied) and the same pool networking."""
    staging, prod = (_network_shape(stack_plans(s).graph) for s in ("staging", "prod"))
    assert staging == prod
    assert prod["pools"] == {("NoPublicIPAddresses", "Simplified")}
    assert "azure-native:network:PrivateEndpoint" in prod["types"]
