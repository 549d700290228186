"""The Batch account: Batch-service pool allocation, auto-storage through managed identities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, batch, managedidentity

from components import roles
from components.private_link import BATCH_ACCOUNT, NODE_MANAGEMENT, BatchPrivateLink, BatchPrivateLinkArgs


@dataclass(frozen=True)
class BatchAccountArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    account_name: pulumi.Input[str]
    account_identity_name: str
    subscription: pulumi.Input[str]
    storage_account_id: pulumi.Input[str]
    # the pools' identity: nodes reach auto-storage (application packages) with it
    node_identity_id: pulumi.Input[str]
    public_network_access: bool = False
    authentication_modes: Sequence[str] = ("AAD",)
    # how the runner reaches the account endpoint: open | allowList (runner_ips) | privateEndpoint
    runner_access: str = "open"
    runner_ips: Sequence[str] = ()
    # nodes without public IPs reach node management through a private endpoint in this subnet
    subnet_id: pulumi.Input[str] | None = None
    virtual_network_id: pulumi.Input[str] | None = None
    node_management_private: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class BatchAccount(pulumi.ComponentResource):
    def __init__(self, name: str, args: BatchAccountArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:batch:BatchAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The account's own identity manages application-package blobs in auto-storage, which needs
        # Data Contributor on the whole account: too much for the pools' identity, hence a second one,
        # created and granted before the account so the auto-storage link works on first deploy.
        self.account_identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=args.account_identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=dict(args.tags),
            opts=child,
        )
        self.storage_role = authorization.RoleAssignment(
            f"{name}-autostorage-contributor",
            principal_id=self.account_identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=roles.role_definition_id(args.subscription, roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
            scope=args.storage_account_id,
            opts=child,
        )
        self.account = batch.BatchAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            pool_allocation_mode="BatchService",
            identity={"type": "UserAssigned", "user_assigned_identities": [self.account_identity.id]},
            auto_storage={
                "storage_account_id": args.storage_account_id,
                "authentication_mode": "BatchAccountManagedIdentity",
                "node_identity_reference": {"resource_id": args.node_identity_id},
            },
            public_network_access="Enabled" if args.public_network_access else "Disabled",
            network_profile=network_profile(args),
            allowed_authentication_modes=list(args.authentication_modes),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.storage_role]),
        )
        self.private_link = None
        groups = private_endpoint_groups(args)
        if groups:
            self.private_link = BatchPrivateLink(f"{name}-private-link", BatchPrivateLinkArgs(
                resource_group_name=args.resource_group_name,
                location=args.location,
                batch_account_id=self.account.id,
                subnet_id=args.subnet_id,
                virtual_network_id=args.virtual_network_id,
                group_ids=groups,
                tags=args.tags,
            ), opts=child)
        # pools wait for these: a node booting before the private DNS record exists goes unusable
        self.node_management_ready = self.private_link.ready(NODE_MANAGEMENT) if self.private_link else []
        self.account_name = self.account.name
        self.account_id = self.account.id
        self.endpoint = pulumi.Output.concat("https://", self.account.account_endpoint)
        self.register_outputs({"account_name": self.account_name, "endpoint": self.endpoint})


def private_endpoint_groups(args: BatchAccountArgs) -> tuple[str, ...]:
    """The account's private endpoints: node management for nodes without public IPs, the account
    endpoint for a runner inside the VNet. Both need the stack's network."""
    if args.subnet_id is None or args.virtual_network_id is None:
        return ()
    return tuple(group for group, wanted in ((NODE_MANAGEMENT, args.node_management_private),
                                             (BATCH_ACCOUNT, args.runner_access == "privateEndpoint")) if wanted)


def network_profile(args: BatchAccountArgs) -> dict | None:
    """IP rules of the public endpoints (https://learn.microsoft.com/azure/batch/public-network-access):
    the account endpoint admits only the runner's allow-list (or nobody, when the runner uses the private
    endpoint); node management is denied publicly when nodes use its private endpoint. Ignored by Azure,
    and omitted here, when public network access is disabled."""
    if not args.public_network_access:
        return None
    profile = {}
    if args.runner_access == "allowList":
        profile["account_access"] = {"default_action": "Deny",
                                     "ip_rules": [{"action": "Allow", "value": ip} for ip in args.runner_ips]}
    elif args.runner_access == "privateEndpoint":
        profile["account_access"] = {"default_action": "Deny"}
    if NODE_MANAGEMENT in private_endpoint_groups(args):
        profile["node_management_access"] = {"default_action": "Deny"}
    return profile or None
