"""The names the service defines: variables, aliases, constants (reference §B4, §B7)."""

from __future__ import annotations

from bigcompute.autoscale.values import DEALLOCATION_OPTIONS, T

TARGET_DEDICATED = "$TargetDedicatedNodes"
TARGET_LOW_PRIORITY = "$TargetLowPriorityNodes"
DEALLOCATION = "$NodeDeallocationOption"

# Read-write. The aliases are distinct slots: when both are set the full name wins (§B4).
TARGET_ALIASES = {"$TargetDedicated": TARGET_DEDICATED, "$TargetLowPriority": TARGET_LOW_PRIORITY}
READ_WRITE: dict[str, T] = {TARGET_DEDICATED: T.DOUBLE, "$TargetDedicated": T.DOUBLE,
                            TARGET_LOW_PRIORITY: T.DOUBLE, "$TargetLowPriority": T.DOUBLE,
                            DEALLOCATION: T.DEALLOC}

# Read-only, sampled: read only through sample methods. Whether they can be read as plain scalars is
# undocumented (§B10) and the official examples never do, so reading them bare is an error here.
SAMPLED_METRICS = (
    "$CPUPercent", "$WallClockSeconds", "$MemoryBytes", "$DiskBytes", "$DiskReadBytes", "$DiskWriteBytes",
    "$DiskReadOps", "$DiskWriteOps", "$NetworkInBytes", "$NetworkOutBytes", "$SampleNodeCount",
    "$ActiveTasks", "$RunningTasks", "$PendingTasks", "$SucceededTasks", "$FailedTasks",
)
# Read-only node counts and pool properties: the examples use them as scalars
# ($CurrentDedicatedNodes * 1.1) and as sampled metrics ($PreemptedNodeCount.GetSample(...)); both work.
NODE_COUNTS = ("$CurrentDedicatedNodes", "$CurrentLowPriorityNodes", "$PreemptedNodeCount",
               "$UsableNodeCount", "$TaskSlotsPerNode")
# Old names still seen in the wild (the PowerShell example of §B9-11 reads $CurrentDedicated).
READ_ONLY_ALIASES = {"$CurrentDedicated": "$CurrentDedicatedNodes",
                     "$CurrentLowPriority": "$CurrentLowPriorityNodes"}
METRICS = SAMPLED_METRICS + NODE_COUNTS


def canonical_metric(name: str) -> str | None:
    """The history key of a read-only variable, or None if `name` is not one."""
    name = READ_ONLY_ALIASES.get(name, name)
    return name if name in METRICS else None


SECOND = 1.0
INTERVALS = {
    "TimeInterval_Zero": 0.0,
    "TimeInterval_100ns": 1e-7,
    "TimeInterval_Microsecond": 1e-6,
    "TimeInterval_Millisecond": 1e-3,
    "TimeInterval_Second": SECOND,
    "TimeInterval_Minute": 60 * SECOND,
    "TimeInterval_Hour": 3600 * SECOND,
    "TimeInterval_Day": 86400 * SECOND,
    "TimeInterval_Week": 7 * 86400 * SECOND,
    "TimeInterval_Year": 365 * 86400 * SECOND,
}
CONSTANTS: dict[str, tuple[T, object]] = {
    **{name: (T.INTERVAL, value) for name, value in INTERVALS.items()},
    **{word: (T.DEALLOC, word) for word in DEALLOCATION_OPTIONS},
}

TIMESTAMP_MEMBERS = ("year", "month", "day", "weekday", "hour", "minute", "second")
SAMPLE_METHODS = ("GetSample", "GetSamplePeriod", "GetSamplePercent", "Count", "HistoryBeginTime")

# Every name a user variable must not shadow, even in a different case: Batch's case rules are
# undocumented (§B10), so `$targetDedicatedNodes = 5` is either a silent no-op or a target write.
RESERVED = {**{name.lower(): name for name in (*READ_WRITE, *METRICS, *READ_ONLY_ALIASES, *CONSTANTS)}}
