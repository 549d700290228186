"""Short image aliases for pools, resolved to a marketplace image and the matching Batch node agent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageReference:
    publisher: str
    offer: str
    sku: str
    version: str
    node_agent_sku: str

    @property
    def is_windows(self) -> bool:
        return self.node_agent_sku.startswith("batch.node.windows")

    @property
    def has_container_runtime(self) -> bool:
        return (self.publisher.lower(), self.offer.lower()) in CONTAINER_OFFERS


# Marketplace images that ship a container runtime, as Batch lists them for container workloads
# ("Supported VM images", https://learn.microsoft.com/azure/batch/batch-docker-container-workloads).
# The plain Canonical, Debian, AlmaLinux and Windows Server images have none: a pool with
# `containerConfiguration` on them fails to start its nodes.
CONTAINER_OFFERS = frozenset({
    ("microsoft-dsvm", "ubuntu-hpc"),
    ("almalinux", "8-hpc-gen1"),
    ("almalinux", "8-hpc-gen2"),
})


IMAGE_ALIASES: dict[str, ImageReference] = {
    "ubuntu-22.04": ImageReference("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "latest",
                                   "batch.node.ubuntu 22.04"),
    "ubuntu-24.04": ImageReference("canonical", "ubuntu-24_04-lts", "server", "latest", "batch.node.ubuntu 24.04"),
    # Ubuntu HPC (with a container runtime): the image Batch's container docs name for Linux
    "ubuntu-hpc-22.04": ImageReference("microsoft-dsvm", "ubuntu-hpc", "2204", "latest", "batch.node.ubuntu 22.04"),
    "debian-12": ImageReference("debian", "debian-12", "12", "latest", "batch.node.debian 12"),
    "almalinux-9": ImageReference("almalinux", "almalinux-x86_64", "9-gen2", "latest", "batch.node.el 9"),
    "windows-2022": ImageReference("microsoftwindowsserver", "windowsserver", "2022-datacenter-smalldisk",
                                   "latest", "batch.node.windows amd64"),
}
