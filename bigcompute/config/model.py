"""The stack config model: what `stacks/Pulumi.<stack>.yaml` declares, as frozen dataclasses.

One model for both readers: the Pulumi program and the runner (and the local target).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bigcompute.config.images import ImageReference


@dataclass(frozen=True)
class Containers:
    inputs: str = "inputs"
    outputs: str = "outputs"


@dataclass(frozen=True)
class StorageConfig:
    sku: str = "Standard_LRS"
    containers: Containers = Containers()
    output_retention_days: int = 30
    shared_key_access: bool = False


@dataclass(frozen=True)
class RunnerNetworkAccess:
    """How the runner reaches the account endpoint: open | allowList (ips) | privateEndpoint."""
    mode: str = "open"
    ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchConfig:
    public_network_access: bool = True
    runner_access: RunnerNetworkAccess = RunnerNetworkAccess()
    authentication_modes: tuple[str, ...] = ("AAD",)
    runner_principal_id: str | None = None
    active_job_quota: int = 300


@dataclass(frozen=True)
class NetworkConfig:
    address_space: str
    subnet_prefix: str
    public_ips: str = "batchManaged"  # none | batchManaged


@dataclass(frozen=True)
class MonitoringConfig:
    log_retention_days: int = 30


@dataclass(frozen=True)
class FixedScale:
    dedicated: int = 0
    spot: int = 0


@dataclass(frozen=True)
class AutoScale:
    preset: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    formula: str | None = None
    evaluation_interval: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class StartTask:
    command: str | None = None
    apt_packages: tuple[str, ...] = ()
    pip_packages: tuple[str, ...] = ()
    elevated: bool = False
    wait_for_success: bool = True


@dataclass(frozen=True)
class ApplicationRef:
    id: str
    version: str | None = None


@dataclass(frozen=True)
class LocalApplication:
    """An application package of the local target's account (`localApplications`): version -> folder or zip,
    relative to the project root."""
    id: str
    versions: Mapping[str, str]
    display_name: str | None = None
    default_version: str | None = None


@dataclass(frozen=True)
class ContainerRegistry:
    """An Azure Container Registry the nodes pull from as the pool identity (AcrPull on `resource_id`)."""
    server: str
    resource_id: str


@dataclass(frozen=True)
class Pricing:
    """What one node of the pool's VM size costs per hour, and where the figures come from (cost lines of
    `plan`, `infra diff`, `autoscale check` and the simulator name the source and date)."""
    dedicated_per_hour: float = 0.0
    spot_per_hour: float = 0.0
    currency: str = "USD"
    source: str | None = None
    as_of: str | None = None  # the date the figures were read, as written (YYYY-MM-DD)

    @property
    def provenance(self) -> str:
        """`USD, Azure retail prices ..., as of 2026-11-02` (what a reviewer checks a cost figure against)."""
        parts = [self.currency, self.source or "source not given", f"as of {self.as_of}" if self.as_of else ""]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class LocalPool:
    nodes: int = 1
    task_slots_per_node: int | None = None


@dataclass(frozen=True)
class PoolConfig:
    name: str
    vm_size: str
    image: ImageReference
    scale: FixedScale | AutoScale
    task_slots_per_node: int = 1
    scheduling: str = "spread"
    node_deallocation_option: str = "taskcompletion"
    start_task: StartTask | None = None
    applications: tuple[ApplicationRef, ...] = ()
    container_images: tuple[str, ...] = ()
    container_registries: tuple[ContainerRegistry, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    pricing: Pricing | None = None
    local: LocalPool = LocalPool()
    image_alias: str | None = None
    # enableInterNodeCommunication: nodes reach each other directly, which multi-instance (MPI) tasks need
    inter_node_communication: bool = False

    def formula(self) -> str | None:
        """The autoscale formula Batch will run: a rendered preset or the raw formula."""
        if not isinstance(self.scale, AutoScale):
            return None
        if self.scale.formula is not None:
            return self.scale.formula
        from bigcompute.autoscale import presets

        # the pool's nodeDeallocation becomes the formula's $NodeDeallocationOption: on an autoscale pool
        # Batch reads the option from the formula alone
        return presets.render(self.scale.preset or "",
                              {"deallocation": self.node_deallocation_option, **self.scale.params})

    @property
    def uses_spot(self) -> bool:
        if isinstance(self.scale, FixedScale):
            return self.scale.spot > 0
        return "$TargetLowPriorityNodes" in (self.formula() or "")

    @property
    def local_slots(self) -> int:
        return self.local.task_slots_per_node or self.task_slots_per_node

    @property
    def local_nodes(self) -> int:
        return self.local.nodes

    @property
    def max_nodes(self) -> int | None:
        """The most nodes the pool can have on Azure; None when a raw formula states no ceiling we can read."""
        from bigcompute.config.capacity import pool_capacity

        return pool_capacity(self).max_nodes


@dataclass(frozen=True)
class StackConfig:
    name: str
    path: str
    location: str
    environment: str
    pools: tuple[PoolConfig, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    allow_spot: bool = True
    storage: StorageConfig = StorageConfig()
    batch: BatchConfig = BatchConfig()
    network: NetworkConfig | None = None
    monitoring: MonitoringConfig = MonitoringConfig()
    # the Azure subscription this stack deploys to; the program refuses to run signed in to another
    subscription_id: str | None = None
    # protect stateful resources from `pulumi destroy`/replacement and lock the storage account
    protect: bool = False
    local_applications: tuple[LocalApplication, ...] = ()

    def pool(self, name: str) -> PoolConfig | None:
        return next((p for p in self.pools if p.name == name), None)

    def registry_ids(self) -> tuple[str, ...]:
        """Every pool's container registries, once each: the pool identity pulls from all of them."""
        ids = {r.resource_id.lower(): r.resource_id for p in self.pools for r in p.container_registries}
        return tuple(sorted(ids.values(), key=str.lower))  # ARM ids compare case-insensitively

    def pools_by_name(self) -> dict[str, PoolConfig]:
        """Each pool by name: what the workload checks need of the stack (slots, images, OS: workload.fit)."""
        return {p.name: p for p in self.pools}

    def task_slots(self) -> dict[str, int]:
        """Each pool's taskSlotsPerNode, by pool name: what workload checks need of the stack."""
        return {p.name: p.task_slots_per_node for p in self.pools}
