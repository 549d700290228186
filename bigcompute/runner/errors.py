"""Errors the user must act on. Each carries one clear sentence; keys and tokens never appear in it."""

from __future__ import annotations


class DeployError(Exception):
    """A run stops: the message says what went wrong and, where it can, how to fix it."""


class LeaseHeld(DeployError):
    """Another apply holds the workload's lease."""


class LeaseLost(DeployError):
    """The apply's lease could not be renewed: it stops before its next side effect."""


class TargetLost(DeployError):
    """The target does not answer: not started, stopped meanwhile, or out of the network's reach."""
