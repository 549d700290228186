"""Optional virtual network for the pools: VNet, subnet, the NSG rules Batch needs, outbound NAT."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network


@dataclass(frozen=True)
class NetworkArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    address_space: str
    subnet_prefix: str
    # nodes without public IPs need a NAT gateway for outbound traffic (apt, pip, container registries)
    nat_gateway: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


def security_rules(location: str) -> list[dict]:
    """Simplified node communication: nodes only call out to Batch node management and Storage on 443.

    No inbound rule is needed (the classic mode's 29876-29877 inbound ports are not used), so inbound
    traffic from the internet is denied explicitly as well as by default.
    """
    def outbound(name: str, priority: int, tag: str) -> dict:
        return {"name": name, "priority": priority, "direction": "Outbound", "access": "Allow", "protocol": "Tcp",
                "source_address_prefix": "VirtualNetwork", "source_port_range": "*",
                "destination_address_prefix": tag, "destination_port_range": "443"}

    return [
        outbound("AllowBatchNodeManagementOutbound", 100, f"BatchNodeManagement.{location}"),
        outbound("AllowStorageOutbound", 110, f"Storage.{location}"),
        {"name": "DenyInternetInbound", "priority": 4000, "direction": "Inbound", "access": "Deny", "protocol": "*",
         "source_address_prefix": "Internet", "source_port_range": "*",
         "destination_address_prefix": "*", "destination_port_range": "*"},
    ]


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        common = {"resource_group_name": args.resource_group_name, "location": args.location, "tags": dict(args.tags)}
        self.nsg = network.NetworkSecurityGroup(f"{name}-nsg", security_rules=security_rules(args.location),
                                                **common, opts=child)
        self.vnet = network.VirtualNetwork(f"{name}-vnet", address_space={"address_prefixes": [args.address_space]},
                                           **common, opts=child)
        self.nat = None
        if args.nat_gateway:
            self.nat_ip = network.PublicIPAddress(f"{name}-nat-ip", sku={"name": "Standard"},
                                                  public_ip_allocation_method="Static", **common, opts=child)
            self.nat = network.NatGateway(f"{name}-nat", sku={"name": "Standard"},
                                          public_ip_addresses=[{"id": self.nat_ip.id}], **common, opts=child)
        self.subnet = network.Subnet(
            f"{name}-subnet",
            resource_group_name=args.resource_group_name,
            virtual_network_name=self.vnet.name,
            address_prefix=args.subnet_prefix,
            network_security_group={"id": self.nsg.id},
            nat_gateway={"id": self.nat.id} if self.nat else None,
            # private endpoints (Batch node management) live in this subnet too
            private_endpoint_network_policies="Disabled",
            default_outbound_access=False,
            opts=child,
        )
        self.vnet_id = self.vnet.id
        self.subnet_id = self.subnet.id
        self.register_outputs({"vnet_id": self.vnet_id, "subnet_id": self.subnet_id})
