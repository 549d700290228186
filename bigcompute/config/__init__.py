"""The stack config: one model and one JSON Schema shared by the Pulumi program and the runner."""

from bigcompute.config.images import IMAGE_ALIASES, ImageReference
from bigcompute.config.loader import (
    ConfigError,
    build_stack,
    find_stack_file,
    load_stack,
    stack_from_document,
)
from bigcompute.config.model import (
    ApplicationRef,
    AutoScale,
    BatchConfig,
    ContainerRegistry,
    Containers,
    FixedScale,
    LocalApplication,
    LocalPool,
    MonitoringConfig,
    NetworkConfig,
    PoolConfig,
    Pricing,
    RunnerNetworkAccess,
    StackConfig,
    StartTask,
    StorageConfig,
)

__all__ = [
    "IMAGE_ALIASES", "ApplicationRef", "AutoScale", "BatchConfig", "ConfigError", "ContainerRegistry", "Containers", "FixedScale",
    "ImageReference", "LocalApplication", "LocalPool", "MonitoringConfig", "NetworkConfig", "PoolConfig", "Pricing", "RunnerNetworkAccess", "StackConfig",
    "StartTask", "StorageConfig", "build_stack", "find_stack_file", "load_stack", "stack_from_document",
]
