"""Private endpoints of the Batch account in the stack's subnet, with the `privatelink.batch.azure.com` zone.

Two sub-resources, one DNS zone (https://learn.microsoft.com/azure/batch/private-connectivity):
- `nodeManagement`: nodes without public IPs reach node management privately
  (https://learn.microsoft.com/azure/batch/simplified-node-communication-pool-no-public-ip);
- `batchAccount`: a runner inside the VNet (self-hosted CI) reaches the account endpoint (jobs, tasks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network, privatedns

BATCH_PRIVATE_DNS_ZONE = "privatelink.batch.azure.com"
NODE_MANAGEMENT, BATCH_ACCOUNT = "nodeManagement", "batchAccount"
# resource name suffixes; nodeManagement keeps the names it had when it was the only endpoint
_SUFFIX = {NODE_MANAGEMENT: "", BATCH_ACCOUNT: "-account"}


@dataclass(frozen=True)
class BatchPrivateLinkArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    batch_account_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    virtual_network_id: pulumi.Input[str]
    group_ids: Sequence[str] = (NODE_MANAGEMENT,)
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
        self.endpoints: dict[str, network.PrivateEndpoint] = {}
        self.dns_groups: dict[str, network.PrivateDnsZoneGroup] = {}
        for group in args.group_ids:
            suffix = _SUFFIX[group]
            self.endpoints[group] = network.PrivateEndpoint(
                f"{name}{suffix}-endpoint",
                resource_group_name=args.resource_group_name,
                location=args.location,
                subnet={"id": args.subnet_id},
                private_link_service_connections=[{
                    "name": group,
                    "private_link_service_id": args.batch_account_id,
                    "group_ids": [group],
                }],
                tags=dict(args.tags),
                opts=child,
            )
            self.dns_groups[group] = network.PrivateDnsZoneGroup(
                f"{name}{suffix}-dns",
                private_endpoint_name=self.endpoints[group].name,
                resource_group_name=args.resource_group_name,
                private_dns_zone_group_name="default",
                private_dns_zone_configs=[{"name": "batch", "private_dns_zone_id": self.zone.id}],
                opts=child,
            )
        self.register_outputs({f"{group}_endpoint_id": e.id for group, e in self.endpoints.items()})

    def ready(self, group: str) -> list[pulumi.Resource]:
        """What must exist before a client of `group` resolves the account privately: the endpoint, its
        DNS record (zone group) and the zone's link to the VNet; none if there is no such endpoint."""
        if group not in self.endpoints:
            return []
        return [self.endpoints[group], self.dns_groups[group], self.zone_link]
