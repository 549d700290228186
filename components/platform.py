"""Wire the components into the platform a stack declares; `__main__.py` calls `declare_platform`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, resources

from bigcompute.config import ConfigError, StackConfig
from bigcompute.document import load_document
from components import naming, pool_spec, roles
from components.batch_account import BatchAccount, BatchAccountArgs
from components.identity import PoolIdentity, PoolIdentityArgs, RunnerAccess, RunnerAccessArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.pool import BatchPool, BatchPoolArgs
from components.storage import Storage, StorageArgs


@dataclass(frozen=True)
class Platform:
    resource_group: resources.ResourceGroup
    network: Network | None
    storage: Storage
    identity: PoolIdentity
    batch: BatchAccount
    runner: RunnerAccess | None
    pools: Mapping[str, BatchPool]
    monitoring: Monitoring

    def outputs(self) -> dict[str, pulumi.Input]:
        """The stack outputs: the runner's contract (docs/outputs.md). Names and endpoints only, no keys."""
        return {
            "resourceGroup": self.resource_group.name,
            "batchAccountName": self.batch.account_name,
            "batchAccountEndpoint": self.batch.endpoint,
            "storageAccountName": self.storage.account_name,
            "blobEndpoint": self.storage.blob_endpoint,
            "containers": self.storage.container_names,
            "poolIds": {name: pool.pool_id for name, pool in self.pools.items()},
            "identityResourceId": self.identity.resource_id,
        }


def check_pools(stack: StackConfig) -> None:
    """Check every pool before any resource is declared; a problem is reported at its stack-file line."""
    for index, pool in enumerate(stack.pools):
        try:
            pool_spec.pool_settings(pool)
        except pool_spec.PoolSpecError as e:
            raise located(stack, ("pools", index, *e.field), e.message) from e


def located(stack: StackConfig, path: tuple, message: str, code: str = "pool-spec") -> ConfigError:
    doc = load_document(stack.path)
    return ConfigError([doc.diagnostic(("config", f"bigcompute:{path[0]}", *path[1:]), message, code=code)])


def check_subscription(stack: StackConfig) -> None:
    """Refuse to declare anything when Pulumi is signed in to another subscription than the stack names.

    azure-native deploys to whatever subscription its credentials select (ARM_SUBSCRIPTION_ID or the
    Azure CLI's default), so a stale `az account set` would otherwise build prod in the wrong place.
    """
    if stack.subscription_id is None:
        return
    signed_in = authorization.get_client_config().subscription_id
    if signed_in.lower() != stack.subscription_id.lower():
        raise located(stack, ("subscriptionId",),
                      f"this stack deploys to subscription {stack.subscription_id}, but Pulumi is signed in to "
                      f"{signed_in}; select the stack's subscription (ARM_SUBSCRIPTION_ID or `az account set`)",
                      code="wrong-subscription")


# What holds data, or is referred to by id from outside the stack (roles, runners): never deleted or
# replaced by a `pulumi up` of a protected stack; removing one takes an explicit `pulumi state unprotect`.
STATEFUL_TYPES = frozenset({
    "azure-native:resources:ResourceGroup", "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer", "azure-native:batch:BatchAccount",
    "azure-native:managedidentity:UserAssignedIdentity", "azure-native:operationalinsights:Workspace",
})


def protect_stateful(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ not in STATEFUL_TYPES:
        return None
    return pulumi.ResourceTransformationResult(
        args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True)))


def delete_lock(store: Storage) -> authorization.ManagementLockByScope:
    """A CanNotDelete lock on the storage account, which holds the data; it also stops a portal delete.

    Not on the resource group or the Batch account: a lock applies to every resource below its scope
    (https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources), so one there
    would block deleting a pool, which a pool replacement and `pulumi up` after removing a pool need.
    """
    return authorization.ManagementLockByScope(
        "storage-delete-lock", scope=store.account_id, level="CanNotDelete", lock_name="bigcompute-no-delete",
        notes="bigcompute: holds workload inputs and outputs; set bigcompute:protect false to remove",
        opts=pulumi.ResourceOptions(protect=True))


def declare_platform(stack: StackConfig) -> Platform:
    check_pools(stack)
    check_subscription(stack)
    if stack.protect:
        pulumi.runtime.register_stack_transformation(protect_stateful)
    env, location = stack.environment, stack.location
    tags = naming.stack_tags(env, stack.tags)
    rg = resources.ResourceGroup("rg", resource_group_name=naming.physical_name("rg", env),
                                 location=location, tags=tags)
    subscription = roles.subscription_scope(rg.id)

    net = None
    if stack.network is not None:
        net = Network("network", NetworkArgs(
            resource_group_name=rg.name, location=location, address_space=stack.network.address_space,
            subnet_prefix=stack.network.subnet_prefix, nat_gateway=stack.network.public_ips == "none", tags=tags))

    store = Storage("storage", StorageArgs(
        resource_group_name=rg.name, location=location,
        account_name=naming.unique_name_output(env, rg.id, "st"), sku=stack.storage.sku,
        containers=stack.storage.containers, output_retention_days=stack.storage.output_retention_days,
        shared_key_access=stack.storage.shared_key_access, tags=tags))
    if stack.protect:
        delete_lock(store)

    identity = PoolIdentity("identity", PoolIdentityArgs(
        resource_group_name=rg.name, location=location, identity_name=naming.physical_name("id", env),
        subscription=subscription, inputs_container_id=store.container_ids["inputs"],
        outputs_container_id=store.container_ids["outputs"],
        storage_account_id=store.account_id, registry_ids=stack.registry_ids(), tags=tags))

    account = BatchAccount("batch", BatchAccountArgs(
        resource_group_name=rg.name, location=location, account_name=naming.unique_name_output(env, rg.id, "ba"),
        account_identity_name=naming.physical_name("id-batch", env), subscription=subscription,
        storage_account_id=store.account_id, node_identity_id=identity.resource_id,
        public_network_access=stack.batch.public_network_access,
        authentication_modes=stack.batch.authentication_modes,
        runner_access=stack.batch.runner_access.mode, runner_ips=stack.batch.runner_access.ips,
        subnet_id=net.subnet_id if net else None, virtual_network_id=net.vnet_id if net else None,
        node_management_private=stack.network is not None and stack.network.public_ips == "none", tags=tags))

    identity.grant_job_submission(account.account_id)  # before the pools, which wait for the identity's grants

    runner = None
    if stack.batch.runner_principal_id:
        runner = RunnerAccess("runner", RunnerAccessArgs(
            principal_id=stack.batch.runner_principal_id, subscription=subscription,
            inputs_container_id=store.container_ids["inputs"], outputs_container_id=store.container_ids["outputs"],
            batch_account_id=account.account_id))

    pools = {
        pool.name: BatchPool(f"pool-{pool.name}", BatchPoolArgs(
            pool=pool, account_name=account.account_name, account_id=account.account_id,
            resource_group_name=rg.name, identity_id=identity.resource_id,
            subnet_id=net.subnet_id if net else None,
            public_ips=stack.network is None or stack.network.public_ips != "none",
            network_ready=account.node_management_ready, tags=tags,
            identity_grants=list(identity.role_assignments.values())))
        for pool in stack.pools
    }

    monitoring = Monitoring("monitoring", MonitoringArgs(
        resource_group_name=rg.name, location=location, workspace_name=naming.physical_name("log", env),
        batch_account_id=account.account_id, retention_days=stack.monitoring.log_retention_days, tags=tags))

    return Platform(rg, net, store, identity, account, runner, pools, monitoring)
