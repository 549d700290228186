"""Auto pools (`poolInfo.autoPoolSpecification`): the pool Batch creates for a job, or for a job schedule, and
deletes when that job or schedule ends unless `keepAlive` (BatchAutoPoolSpecification, BatchPoolLifetimeOption
in the Batch REST spec).

- lifetime `job`: a pool per job, created with the job (for a schedule, with each job it creates), deleted when
  the job completes or is deleted;
- lifetime `jobschedule` (job schedules only): one pool, created with the schedule's first job, shared by its
  jobs, deleted when the schedule completes or is deleted.

The job keeps its poolInfo as given; `executionInfo.poolId` names the auto pool ("If it does not [contain a
poolId], it means the Job ran on an auto Pool, and this property contains the ID of that auto Pool",
BatchJobExecutionInfo.poolId). The pool's id is `<autoPoolIdPrefix>_<GUID>`: Batch assigns each auto pool "a
unique identifier on creation" with the prefix added.
"""

from __future__ import annotations

import uuid
from typing import Any

from bigcompute.emulator.core.errors import BatchError, invalid_property, missing_property
from bigcompute.emulator.state.common import Ctx
from bigcompute.emulator.state.models import PoolState
from bigcompute.emulator.state.pools import PoolStore
from bigcompute.emulator.state.validate import ID_RE

LIFETIMES = ("job", "jobschedule")
MAX_PREFIX = 20  # "The prefix can be up to 20 characters long" (autoPoolIdPrefix)


def check_spec(auto: Any, prop: str, *, in_schedule: bool) -> None:
    """What Batch refuses in an autoPoolSpecification before anything is created."""
    if not isinstance(auto, dict):
        raise invalid_property(prop, f"{prop} must be an object.")
    lifetime = auto.get("poolLifetimeOption")
    if lifetime is None:
        raise missing_property(f"{prop}.poolLifetimeOption")
    if lifetime not in LIFETIMES:
        raise invalid_property(f"{prop}.poolLifetimeOption", "poolLifetimeOption must be job or jobschedule.", lifetime)
    if lifetime == "jobschedule" and not in_schedule:
        # "You may apply this option only to Job Schedules, not to Jobs." (BatchPoolLifetimeOption.jobschedule)
        raise invalid_property(f"{prop}.poolLifetimeOption", "The jobschedule lifetime applies only to job "
                               "schedules, not to jobs.", lifetime)
    prefix = auto.get("autoPoolIdPrefix") or ""
    if len(prefix) > MAX_PREFIX or (prefix and not ID_RE.fullmatch(prefix)):
        raise invalid_property(f"{prop}.autoPoolIdPrefix", "autoPoolIdPrefix is at most 20 letters, digits, hyphens "
                               "and underscores.", prefix)
    if not isinstance(auto.get("pool"), dict):
        raise missing_property(f"{prop}.pool")
    if not auto["pool"].get("vmSize"):
        raise missing_property(f"{prop}.pool.vmSize")


def check_pool_info(pool_info: dict[str, Any], prop: str, *, in_schedule: bool) -> None:
    """Either a poolId or an autoPoolSpecification, "but not both" (BatchPoolInfo)."""
    auto = pool_info.get("autoPoolSpecification")
    if auto is not None and pool_info.get("poolId"):
        raise invalid_property(prop, "Specify either poolInfo.poolId or poolInfo.autoPoolSpecification, not both.")
    if auto is not None:
        check_spec(auto, f"{prop}.autoPoolSpecification", in_schedule=in_schedule)
    elif not pool_info.get("poolId"):
        raise missing_property(f"{prop}.poolId")


def check_update(current: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    """A job's poolInfo changed by Job - Update or Replace: "If you specify an autoPoolSpecification in the
    poolInfo, only the keepAlive property of the autoPoolSpecification can be updated, and then only if the
    autoPoolSpecification has a poolLifetimeOption of Job" (BatchJobUpdateOptions.poolInfo)."""
    new_auto = spec_of(new)
    if new_auto is None:
        return
    old_auto = spec_of(current) or {}
    same = {k: v for k, v in new_auto.items() if k != "keepAlive"} == {k: v for k, v in old_auto.items()
                                                                        if k != "keepAlive"}
    keep_alive_changed = bool(new_auto.get("keepAlive")) != bool(old_auto.get("keepAlive"))
    if not same or (keep_alive_changed and old_auto.get("poolLifetimeOption") != "job"):
        raise invalid_property("poolInfo.autoPoolSpecification", "Only keepAlive of a job's auto pool specification "
                               "can be updated, and only with poolLifetimeOption job.")


def spec_of(pool_info: dict[str, Any] | None) -> dict[str, Any] | None:
    return (pool_info or {}).get("autoPoolSpecification")


class AutoPools:
    def __init__(self, ctx: Ctx, pools: PoolStore) -> None:
        self.ctx = ctx
        self.pools = pools

    def create(self, auto: dict[str, Any]) -> str:
        """A new auto pool from the specification (inside the caller's transaction); BatchError when the pool
        store refuses it."""
        prefix, guid = auto.get("autoPoolIdPrefix"), str(uuid.uuid4()).upper()
        pool_id = f"{prefix}_{guid}" if prefix else guid
        self.pools.create({**auto["pool"], "id": pool_id})
        return pool_id

    def lifetime_ended(self, auto: dict[str, Any] | None, pool_id: str | None, owner: str) -> None:
        """The job or schedule (`owner`) the pool lives for has ended: delete the pool unless keepAlive."""
        if not auto or not pool_id or auto.get("poolLifetimeOption") != owner or auto.get("keepAlive"):
            return
        pool = self.pools.find(pool_id)
        if pool is not None and pool["state"] != PoolState.DELETING:
            self.pools.delete(pool_id)


def scheduling_error(err: BatchError) -> dict[str, Any]:
    """The job's executionInfo.schedulingError when its auto pool could not be created: "If auto Pool creation
    fails, the Batch service moves the Job to a completed state, and the Pool creation error is set in the Job's
    scheduling error property" (BatchPoolInfo.autoPoolSpecification)."""
    return {"category": "usererror", "code": err.code, "message": err.message,
            "details": [{"name": k, "value": str(v)} for k, v in (err.values or {}).items()]}
