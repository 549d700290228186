"""A Batch pool from one stack pool: fixed or autoscale, identity, network, start task, packages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import batch

from bigcompute.config import PoolConfig
from components import pool_spec
from components.pool_update import UPDATABLE, PoolUpdate, patch_body


@dataclass(frozen=True)
class BatchPoolArgs:
    pool: PoolConfig
    account_name: pulumi.Input[str]
    account_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str] | None = None
    # only with a subnet: pools outside a VNet always get Batch-managed public IPs
    public_ips: bool = False
    # the node-management private endpoint, its DNS zone group and VNet link: nodes resolve the account
    # through them from their first boot
    network_ready: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    # the pool identity's role assignments: a node that boots before they exist cannot read its resource
    # files or write outputs (RBAC propagation takes minutes,
    # https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected)
    identity_grants: Sequence[pulumi.Resource] = ()


class BatchPool(pulumi.ComponentResource):
    def __init__(self, name: str, args: BatchPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:compute:Pool", name, None, opts)
        settings = pool_spec.pool_settings(args.pool)
        if args.pool.container_registries:
            vm = settings["deployment_configuration"]["virtual_machine_configuration"]
            vm["container_configuration"]["container_registries"] = pool_spec.container_registries(
                args.pool, args.identity_id)
        if args.subnet_id is not None:
            settings["network_configuration"] = pool_spec.network_configuration(args.subnet_id, args.public_ips)
        if args.pool.applications:
            settings["application_packages"] = [
                {"id": pulumi.Output.concat(args.account_id, "/applications/", app.id), "version": app.version}
                for app in args.pool.applications
            ]
        self.pool = batch.Pool(
            f"{name}-pool",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            identity={"type": "UserAssigned", "user_assigned_identities": [args.identity_id]},
            tags=dict(args.tags),
            **settings,
            # pool names are fixed (workloads refer to them), so the old pool must go before the new one;
            # the updatable properties are the PoolUpdate's: azure-native never PUTs to a live pool
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=list(pool_spec.REPLACE_ON_CHANGES),
                                        delete_before_replace=True, ignore_changes=list(UPDATABLE),
                                        depends_on=[*args.network_ready, *args.identity_grants]),
        )
        self.settings = PoolUpdate(
            f"{name}-settings", self.pool.id, patch_body(settings, args.identity_id, args.tags),
            # a replaced pool was created with the old values of the ignored properties: send them again
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.pool], replace_with=[self.pool]))
        self.pool_id = self.pool.name
        self.register_outputs({"pool_id": self.pool_id, "vm_size": self.pool.vm_size})
