"""Private endpoint for Batch node management, for accounts whose public network access is off.

Without it, nodes in a private subnet cannot reach the account's node management endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network, privatedns

BATCH_PRIVATE_DNS_ZONE = "privatelink.batch.azure.com"


@dataclass(frozen=True)
class BatchPrivateLinkArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    batch_account_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    virtual_network_id: pulumi.Input[str]
    group_id: str = "nodeManagement"
    tags: Mapping[str, str] = field(default_factory=dict)


class BatchPrivateLink(pulumi.ComponentResource):
    def __init__(self, name: str, args: BatchPrivateLinkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:network:BatchPrivateLink", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.zone = privatedns.PrivateZone(
            f"{name}-zone",
            private_zone_name=BATCH_PRIVATE_DNS_ZONE,
            resource_group_name=args.resource_group_name,
            location="global",
            tags=dict(args.tags),
            opts=child,
        )
        self.zone_link = privatedns.VirtualNetworkLink(
            f"{name}-zone-link",
            private_zone_name=self.zone.name,
            resource_group_name=args.resource_group_name,
            location="global",
            registration_enabled=False,
            virtual_network={"id": args.virtual_network_id},
            tags=dict(args.tags),
            opts=child,
        )
        self.endpoint = network.PrivateEndpoint(
            f"{name}-endpoint",
            resource_group_name=args.resource_group_name,
            location=args.location,
            subnet={"id": args.subnet_id},
            private_link_service_connections=[{
                "name": args.group_id,
                "private_link_service_id": args.batch_account_id,
                "group_ids": [args.group_id],
            }],
            tags=dict(args.tags),
            opts=child,
        )
        self.dns_group = network.PrivateDnsZoneGroup(
            f"{name}-dns",
            private_endpoint_name=self.endpoint.name,
            resource_group_name=args.resource_group_name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[{"name": "batch", "private_dns_zone_id": self.zone.id}],
            opts=child,
        )
        self.register_outputs({"endpoint_id": self.endpoint.id})
