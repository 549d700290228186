"""Errors the user must act on. Each carries one clear sentence; keys and tokens never appear in it."""

from __future__ import annotations

from typing import Any


class DeployError(Exception):
    """A run stops: the message says what went wrong and, where it can, how to fix it."""


class LeaseHeld(DeployError):
    """Another apply holds the workload's lease."""


class LeaseLost(DeployError):
    """The apply's lease could not be renewed: it stops before its next side effect."""


class TargetLost(DeployError):
    """The target does not answer: not started, stopped meanwhile, or out of the network's reach."""


class InvalidInput(Exception):
    """Workloads or the stack are invalid: every diagnostic (located: file, line, field), reported before anything
    happens."""

    def __init__(self, diagnostics: list[Any]):
        super().__init__("\n".join(map(str, diagnostics)))
        self.diagnostics = diagnostics
