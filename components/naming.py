"""Physical names and tags: pure functions, so every component names things the same way."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta

import pulumi

PROJECT = "bigcompute"


def unique_name(prefix: str, environment: str, seed: str, kind: str) -> str:
    """A 3-24 character lowercase alphanumeric name, stable for one resource group.

    Storage and Batch account names are global (or regional) namespaces, so like Bicep's
    `uniqueString(resourceGroup().id)` the suffix hashes the resource group id.
    """
    digest = hashlib.sha256(seed.encode()).hexdigest()[:8]
    return f"{prefix}{environment}{kind}{digest}"[:24]


def unique_name_output(environment: str, resource_group_id: pulumi.Input[str], kind: str) -> pulumi.Output[str]:
    return pulumi.Output.from_input(resource_group_id).apply(lambda rid: unique_name("bc", environment, rid, kind))


def physical_name(kind: str, environment: str) -> str:
    """Names unique inside the resource group, in the Azure CAF style: `id-bigcompute-prod`."""
    return f"{kind}-{PROJECT}-{environment}"


def stack_tags(environment: str, tags: Mapping[str, str]) -> dict[str, str]:
    # the stack's own tags first, so `environment` and `managed-by` cannot be overridden by accident
    return {**tags, "environment": environment, "managed-by": PROJECT}


def iso_duration(delta: timedelta) -> str:
    """`timedelta(minutes=5)` -> `PT5M`, the form Batch expects for intervals."""
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if v)
    out = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return out if out != "P" else "PT0S"
