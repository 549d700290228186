"""State enums and the explicit transition tables that the stores check every state change against."""

from __future__ import annotations

from enum import StrEnum

from bigcompute.emulator.errors import BatchError


class TaskState(StrEnum):
    ACTIVE = "active"
    PREPARING = "preparing"
    RUNNING = "running"
    COMPLETED = "completed"


class JobState(StrEnum):
    ACTIVE = "active"
    DISABLING = "disabling"
    DISABLED = "disabled"
    ENABLING = "enabling"
    TERMINATING = "terminating"
    COMPLETED = "completed"
    DELETING = "deleting"


class PoolState(StrEnum):
    ACTIVE = "active"
    DELETING = "deleting"


class AllocationState(StrEnum):
    STEADY = "steady"
    RESIZING = "resizing"
    STOPPING = "stopping"


class NodeState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    STARTING = "starting"
    START_TASK_FAILED = "starttaskfailed"
    LEAVING_POOL = "leavingpool"


T, J = TaskState, JobState

# Requeue (node removed, service restarted, job disabled) moves preparing/running back to active;
# reactivate moves a failed completed task back to active.
TASK_TRANSITIONS: frozenset[tuple[TaskState, TaskState]] = frozenset({
    (T.ACTIVE, T.PREPARING), (T.ACTIVE, T.RUNNING), (T.PREPARING, T.RUNNING),
    (T.RUNNING, T.COMPLETED), (T.PREPARING, T.COMPLETED), (T.ACTIVE, T.COMPLETED),
    (T.RUNNING, T.ACTIVE), (T.PREPARING, T.ACTIVE), (T.COMPLETED, T.ACTIVE),
})

JOB_TRANSITIONS: frozenset[tuple[JobState, JobState]] = frozenset({
    (J.ACTIVE, J.TERMINATING), (J.DISABLED, J.TERMINATING), (J.TERMINATING, J.COMPLETED),
    (J.ACTIVE, J.DISABLING), (J.DISABLING, J.DISABLED), (J.DISABLED, J.ENABLING), (J.ENABLING, J.ACTIVE),
    (J.ACTIVE, J.DELETING), (J.DISABLED, J.DELETING), (J.COMPLETED, J.DELETING), (J.TERMINATING, J.DELETING),
})


def check_task_transition(old: str, new: str) -> None:
    if (TaskState(old), TaskState(new)) not in TASK_TRANSITIONS:
        raise BatchError(409, "InvalidTaskState", f"A task cannot move from state {old} to {new}.")


def check_job_transition(old: str, new: str) -> None:
    if (JobState(old), JobState(new)) not in JOB_TRANSITIONS:
        raise BatchError(409, "JobInvalidStateTransition", f"A job cannot move from state {old} to {new}.")
