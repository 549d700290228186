"""Local Azure Batch data-plane emulator: the real BatchClient talks to it unchanged."""

from bigcompute.emulator.compute.executor import InstantExecutor, SubprocessExecutor
from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.service import BatchState
from bigcompute.emulator.wire.server import EmulatorServer

__all__ = ["BatchError", "BatchState", "EmulatorServer", "InstantExecutor", "SubprocessExecutor"]
