"""Options of the runner's commands that a front end passes through (light: no SDK loads with it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WatchOptions:
    interval: float = 2.0  # seconds between polls
    timeout: float | None = None  # seconds; then the outcome is `timed_out`, the jobs still running
    stall_after: float | None = None  # seconds with tasks waiting and none running before saying why (5 polls)
