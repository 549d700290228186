"""The storage account that holds workload inputs, task outputs and application packages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import storage

from bigcompute.config import Containers

ROLES = ("inputs", "outputs")  # application packages live in containers Batch creates (app-*)


@dataclass(frozen=True)
class StorageArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    account_name: pulumi.Input[str]
    sku: str = "Standard_LRS"
    containers: Containers = Containers()
    output_retention_days: int = 30
    # off: every reader and writer (pools, runner, Batch auto-storage) uses an Entra ID identity
    shared_key_access: bool = False
    soft_delete_days: int = 7
    tags: Mapping[str, str] = field(default_factory=dict)


class Storage(pulumi.ComponentResource):
    account: storage.StorageAccount
    containers: dict[str, storage.BlobContainer]

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:storage:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = storage.StorageAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="StorageV2",
            sku={"name": args.sku},
            access_tier="Hot",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=args.shared_key_access,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            tags=dict(args.tags),
            opts=child,
        )
        account_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.account])
        self.blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            blob_services_name="default",
            delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            opts=account_opts,
        )
        names = {role: getattr(args.containers, role) for role in ROLES}
        self.containers = {
            role: storage.BlobContainer(
                f"{name}-{role}",
                account_name=self.account.name,
                resource_group_name=args.resource_group_name,
                container_name=container,
                public_access="None",
                opts=account_opts,
            )
            for role, container in names.items()
        }
        self.lifecycle = storage.ManagementPolicy(
            f"{name}-lifecycle",
            account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            management_policy_name="default",
            policy={"rules": [{
                "name": "delete-old-outputs",
                "type": "Lifecycle",
                "enabled": True,
                "definition": {
                    "filters": {"blob_types": ["blockBlob"], "prefix_match": [f"{names['outputs']}/"]},
                    "actions": {"base_blob": {"delete": {
                        "days_after_modification_greater_than": args.output_retention_days}}},
                },
            }]},
            opts=account_opts,
        )
        self.account_name = self.account.name
        self.account_id = self.account.id
        self.blob_endpoint = self.account.primary_endpoints.blob
        self.container_names = {role: c.name for role, c in self.containers.items()}
        self.container_ids = {role: c.id for role, c in self.containers.items()}
        self.register_outputs({
            "account_name": self.account_name,
            "blob_endpoint": self.blob_endpoint,
            "containers": self.container_names,
        })
