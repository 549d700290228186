"""What the runner tells its caller while a command runs: plain values a front end renders (the CLI draws progress
bars and prints lines; tests record them). Light: no SDK is loaded by importing this module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STEP, OK, WARN = "step", "ok", "warn"


@dataclass(frozen=True)
class Message:
    """A sentence about what the runner does or found: `level` is step, ok or warn."""

    text: str
    level: str = STEP


@dataclass(frozen=True)
class Phase:
    """The command entered a phase: submitting, watching, downloading or pruning. A front end that is interrupted
    says what that means for the phase it was in (a watch stops watching; the jobs keep running)."""

    name: str


@dataclass(frozen=True)
class Submitting:
    """Tasks of `workload` are being added to `job`: `total` in all."""

    workload: str
    job: str
    total: int


@dataclass(frozen=True)
class TasksAdded:
    workload: str
    count: int


@dataclass(frozen=True)
class Watching:
    """Watching starts: one (workload, job, task count) per job."""

    jobs: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Polled:
    """One poll of a watched job: its task counts (runner.monitor.Progress) and the completion rate so far."""

    workload: str
    job: str
    progress: Any
    rate: float


@dataclass(frozen=True)
class Waiting:
    """Tasks wait and none runs: one finding about why (pool size and state, autoscale, node errors, quota)."""

    check: str
    detail: str
    action: str
    status: str  # ok | warn | fail

    def text(self) -> str:
        return f"nothing runs: {self.check}: {self.detail}" + (f" → {self.action}" if self.action else "")


Event = Message | Phase | Submitting | TasksAdded | Watching | Polled | Waiting
Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The listener of a caller that wants only the result."""
