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

    @property
    def has_gpu_drivers(self) -> bool:
        return (self.publisher.lower(), self.offer.lower()) in GPU_OFFERS


# Marketplace images that ship a container runtime, as Batch lists them for container workloads
# ("Supported VM images", https://learn.microsoft.com/azure/batch/batch-docker-container-workloads).
# The plain Canonical, Debian, AlmaLinux and Windows Server images have none: a pool with
# `containerConfiguration` on them fails to start its nodes.
CONTAINER_OFFERS = frozenset({
    ("microsoft-dsvm", "ubuntu-hpc"),
    ("almalinux", "8-hpc-gen1"),
    ("almalinux", "8-hpc-gen2"),
})


# Marketplace images that ship NVIDIA GPU drivers (and CUDA), so an N-series node can use its GPUs without an
# extension or a start task: the Azure HPC images (Ubuntu-HPC, AlmaLinux-HPC: "GPU drivers: NVIDIA ... CUDA",
# https://learn.microsoft.com/azure/virtual-machines/configure#vm-images) and the Data Science VMs for Windows
# (https://learn.microsoft.com/azure/machine-learning/data-science-virtual-machine/tools-included), the images
# Batch names for GPU pools ("Use RDMA or GPU instances in Batch pools",
# https://learn.microsoft.com/azure/batch/batch-pool-compute-intensive-sizes#example-nvidia-gpu-drivers-on-linux-nc-vm-pool).
# Plain Ubuntu, Debian, AlmaLinux and Windows Server images have none.
GPU_OFFERS = frozenset({
    ("microsoft-dsvm", "ubuntu-hpc"),
    ("almalinux", "8-hpc-gen2"),
    ("microsoft-dsvm", "dsvm-win-2022"),
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
    # GPU: Ubuntu-HPC carries NVIDIA drivers (GPU_OFFERS), Windows through the Data Science VM for Windows 2022
    # (microsoft-dsvm/dsvm-win-2022/winserver-2022, "Data Science VM – Windows 2022" in
    # https://learn.microsoft.com/azure/machine-learning/data-science-virtual-machine/release-notes); both with
    # the node agent of their OS ("List supported node agent SKUs": batch.node.ubuntu 22.04, batch.node.windows amd64)
    "ubuntu-hpc-22.04-gpu": ImageReference("microsoft-dsvm", "ubuntu-hpc", "2204", "latest", "batch.node.ubuntu 22.04"),
    "windows-2022-gpu": ImageReference("microsoft-dsvm", "dsvm-win-2022", "winserver-2022", "latest",
                                       "batch.node.windows amd64"),
}

GPU_SIZE_PREFIXES = ("standard_nc", "standard_nd", "standard_nv")  # the N-series: sizes with GPUs


def is_gpu_size(vm_size: str) -> bool:
    """N-series sizes (https://learn.microsoft.com/azure/virtual-machines/sizes/overview#gpu-accelerated)."""
    return vm_size.lower().startswith(GPU_SIZE_PREFIXES)
