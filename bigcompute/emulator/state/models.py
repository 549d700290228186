"""The resources' documents (TypedDicts), their state enums, and the explicit transition tables that the
stores check every state change against.

A document is what Batch sends for the resource (camelCase keys, as on the wire) plus the emulator's own
bookkeeping under keys starting with `_`, which the HTTP layer never serializes (`common.public`). Every key
either kind of code reads is declared here, so a typo is a type error rather than a silent `None`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypedDict

from bigcompute.emulator.core.errors import BatchError


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
    CREATING = "creating"
    STARTING = "starting"
    WAITING_FOR_START_TASK = "waitingforstarttask"
    START_TASK_FAILED = "starttaskfailed"
    LEAVING_POOL = "leavingpool"
    UNUSABLE = "unusable"
    REBOOTING = "rebooting"
    REIMAGING = "reimaging"
    DEALLOCATING = "deallocating"
    DEALLOCATED = "deallocated"


# A task may be dispatched to a node in these states (`running` is derived: idle with tasks on it).
USABLE_NODE_STATES = frozenset({NodeState.IDLE, NodeState.RUNNING})

Predicate = Callable[[Mapping[str, Any]], bool]  # a parsed $filter over a wire document


class Resource(TypedDict, total=False):
    """What every top-level resource (pool, job, task) carries."""

    id: str
    url: str
    displayName: str
    eTag: str
    lastModified: str
    creationTime: str
    state: str
    stateTransitionTime: str
    previousState: str | None
    previousStateTransitionTime: str | None


class NodeDoc(TypedDict, total=False):
    id: str
    url: str
    state: str
    schedulingState: str
    stateTransitionTime: str
    allocationTime: str
    lastBootTime: str
    ipAddress: str
    affinityId: str
    isDedicated: bool
    vmSize: str
    totalTasksRun: int
    totalTasksSucceeded: int
    runningTasksCount: int
    runningTaskSlotsCount: int
    virtualMachineInfo: dict[str, Any]
    nodeAgentInfo: dict[str, Any]
    endpointConfiguration: dict[str, Any]
    startTask: dict[str, Any]  # the pool's, as Batch shows it on the node
    ipv6Address: str
    startTaskInfo: dict[str, Any]
    errors: list[dict[str, Any]]
    _pending: str  # a node operation (reboot, reimage, deallocate, start) waiting for its tasks or under way
    _until: float  # when the operation under way, or the boot phase (creating, starting), ends
    _users: dict[str, dict[str, Any]]  # user accounts by name: name, isAdmin, expiryTime, sshPublicKey (state/node_users)
    _setup: bool  # starting while its agent sets it up (pulls the pool's container images: compute/node_setup)
    _packages: list[dict[str, Any]]  # the pool's package references when the node last booted: what it installs


class PoolDoc(Resource, total=False):
    vmSize: str
    virtualMachineConfiguration: dict[str, Any]
    resizeTimeout: str
    resizeErrors: list[dict[str, Any]]
    allocationState: str
    allocationStateTransitionTime: str
    targetDedicatedNodes: int
    targetLowPriorityNodes: int
    currentDedicatedNodes: int
    currentLowPriorityNodes: int
    enableAutoScale: bool
    autoScaleFormula: str
    autoScaleEvaluationInterval: str
    autoScaleRun: dict[str, Any]
    enableInterNodeCommunication: bool
    currentNodeCommunicationMode: str
    networkConfiguration: dict[str, Any]
    startTask: dict[str, Any]
    applicationPackageReferences: list[dict[str, Any]]
    taskSlotsPerNode: int
    taskSchedulingPolicy: dict[str, Any]
    userAccounts: list[dict[str, Any]]
    metadata: list[dict[str, str]]
    mountConfiguration: list[dict[str, Any]]
    identity: dict[str, Any]
    upgradePolicy: dict[str, Any]
    targetNodeCommunicationMode: str
    _nodes: list[NodeDoc]  # the pool's nodes, in creation order
    _nodeSeq: int  # the last node number handed out (node ids never repeat within a pool)
    _dealloc: str  # nodeDeallocationOption of the resize in progress
    _lastEnable: float  # when autoscale was last enabled (Batch spaces enables 30 s apart)
    _nextEval: float  # when the autoscale formula is next evaluated
    _failResize: dict[str, Any]  # the resize error the next growth meets, asked for by a test (fail_next_resize)
    _until: float  # when the transition under way (stopping, deleting) ends (compute/transitions.py)
    _allocAt: float  # when the resize under way allocates its next node
    _allocStep: float  # seconds between two allocations of that resize
    _allocBy: float  # when that resize gives up (its resizeTimeout): steady, with AllocationTimedOut


class JobDoc(Resource, total=False):
    priority: int
    maxParallelTasks: int
    allowTaskPreemption: bool
    usesTaskDependencies: bool
    constraints: dict[str, Any]
    poolInfo: dict[str, Any]
    commonEnvironmentSettings: list[dict[str, str]]
    onAllTasksComplete: str
    onTaskFailure: str
    metadata: list[dict[str, str]]
    jobPreparationTask: dict[str, Any]
    jobReleaseTask: dict[str, Any]
    jobManagerTask: dict[str, Any]
    networkConfiguration: dict[str, Any]
    executionInfo: dict[str, Any]
    _created: float  # the clock at creation, for maxWallClockTime
    _disableTasks: str  # requeue | terminate | wait, of the disable in progress
    _prep: dict[str, str]  # node id -> done | failed: the job preparation task's outcome on that node
    _prepInfo: dict[str, dict[str, Any]]  # node id -> its preparation and release task status (wire shape)
    _prepFailed: list[str]  # nodes no task of this job is sent to again
    _releasedOnDelete: bool  # its release task ran because it was deleted before it ended
    _until: float  # when the transition under way (deleting, terminating, disabling) ends


class TaskDoc(Resource, total=False):
    commandLine: str
    containerSettings: dict[str, Any]
    resourceFiles: list[dict[str, Any]]
    outputFiles: list[dict[str, Any]]
    environmentSettings: list[dict[str, str]]
    affinityInfo: dict[str, Any]
    constraints: dict[str, Any]
    requiredSlots: int
    userIdentity: dict[str, Any]
    exitConditions: dict[str, Any]
    dependsOn: dict[str, Any]
    applicationPackageReferences: list[dict[str, Any]]
    authenticationTokenSettings: dict[str, Any]
    multiInstanceSettings: dict[str, Any]
    executionInfo: dict[str, Any]
    nodeInfo: dict[str, Any]
    _attempt: int  # the current attempt's number: a late result of an older one is ignored
    _waiting: bool  # blocked on dependencies not yet satisfied
    _depOk: bool  # completed in a way that satisfies its dependents
    _killJob: bool  # a job manager task with killJobOnCompletion: the job terminates when it completes
    _exclusive: bool  # a job manager task with runExclusive: nothing else runs on its node meanwhile
    _dedicatedOnly: bool  # a job manager task with allowLowPriorityNode false: never on a spot node
    _subtasks: list[dict[str, Any]]  # a multi-instance task's BatchSubtask records, ids 1..n-1 (compute/multi_instance)
    _subtasksAttempt: int  # the attempt `_subtasks` belong to


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
        raise BatchError(409, "OperationInvalidForCurrentState", f"A task cannot move from state {old} to {new}.")


def check_job_transition(old: str, new: str) -> None:
    if (JobState(old), JobState(new)) not in JOB_TRANSITIONS:
        raise BatchError(409, "OperationInvalidForCurrentState", f"A job cannot move from state {old} to {new}.")


class JobScheduleState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    TERMINATING = "terminating"
    COMPLETED = "completed"
    DELETING = "deleting"


class JobScheduleDoc(Resource, total=False):
    schedule: dict[str, Any]  # doNotRunUntil, doNotRunAfter, startWindow, recurrenceInterval
    jobSpecification: dict[str, Any]
    executionInfo: dict[str, Any]  # nextRunTime, recentJob {id, url}, endTime
    metadata: list[dict[str, str]]
    _runs: int  # jobs created so far: the next one is `<id>:job-<_runs + 1>`
    _due: float | None  # the clock time of the next recurrence, None when no job is due any more
    _last: float  # the recurrence the last job was created for
    _autoPool: str  # the auto pool its jobs share (poolLifetimeOption jobschedule), once the first job created it
