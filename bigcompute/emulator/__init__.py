"""Local Azure Batch data-plane emulator: the real BatchClient talks to it unchanged."""

from bigcompute.emulator.errors import BatchError
from bigcompute.emulator.executor import InstantExecutor, SubprocessExecutor
from bigcompute.emulator.server import EmulatorServer
from bigcompute.emulator.state import BatchState

__all__ = ["BatchError", "BatchState", "EmulatorServer", "InstantExecutor", "SubprocessExecutor"]
