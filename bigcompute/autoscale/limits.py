"""Batch's limits on autoscale pools, each with the page it comes from. One place: the stack loader,
the simulator and the CLI all check against these."""

from __future__ import annotations

from datetime import timedelta

from bigcompute.autoscale.durations import format_duration

AUTOSCALE_DOC = "https://learn.microsoft.com/azure/batch/batch-automatic-scaling"
QUOTA_DOC = "https://learn.microsoft.com/azure/batch/batch-quota-limit"
SPOT_DOC = "https://learn.microsoft.com/azure/batch/batch-spot-vms"
# "autoScaleEvaluationInterval: The default value is 15 minutes. The minimum and maximum value are
# 5 minutes and 168 hours respectively" (Pool - Enable Auto Scale; AUTOSCALE_DOC); Batch answers 400 outside.
MIN_INTERVAL, MAX_INTERVAL = timedelta(minutes=5), timedelta(hours=168)
DEFAULT_INTERVAL = timedelta(minutes=15)
# Pool size limits Batch sets and no quota request changes (QUOTA_DOC, "Pool size limits").
INTER_NODE_POOL_LIMIT = 100


def interval_problem(interval: timedelta) -> str | None:
    """Why Batch would refuse this evaluation interval, or None."""
    if MIN_INTERVAL <= interval <= MAX_INTERVAL:
        return None
    return (f"evaluation interval {format_duration(interval)} is outside Batch's range PT5M to PT168H "
            f"(the service refuses it with HTTP 400; {AUTOSCALE_DOC})")


def nodes_within_quota(vcpus_per_node: int, core_quota: int | None) -> int | None:
    """How many nodes of a size fit in an account's core quota; None without a quota.

    Batch creates nodes only up to the quota, so a larger target is never reached (QUOTA_DOC: "if your
    pool doesn't reach your target number of compute nodes, you might have reached the core quota").
    """
    if core_quota is None:
        return None
    return core_quota // max(1, vcpus_per_node)
