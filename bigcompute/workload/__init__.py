"""Workload files: schema, located loading, semantic checks, lazy task expansion."""

from bigcompute.workload.checks import DEFAULT_MAX_TASKS
from bigcompute.workload.expand import TaskSpec, count_tasks, iter_tasks
from bigcompute.workload.loader import (
    LoadedWorkload,
    WorkloadError,
    check_workloads,
    load_workload,
    workload_files,
)
from bigcompute.workload.model import Workload

__all__ = [
    "DEFAULT_MAX_TASKS", "LoadedWorkload", "TaskSpec", "Workload", "WorkloadError", "check_workloads",
    "count_tasks", "iter_tasks", "load_workload", "workload_files",
]
