"""The Batch account's quotas from the management plane (azure-mgmt-batch), read with the runner's credential.

The API version is pinned to the one whose spec and examples the tests hold (tests/data/specs/batch): the quota
fields read here are the same in every version since 2017.
"""

from __future__ import annotations

import re

from azure.core.credentials import TokenCredential
from azure.mgmt.batch import BatchManagementClient

from bigcompute.runner.doctor.quotas import AccountQuotas

API_VERSION = "2024-07-01"
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)/", re.IGNORECASE)


def management_client(credential: TokenCredential, subscription: str, **kwargs) -> BatchManagementClient:
    kwargs.setdefault("retry_total", 2)
    return BatchManagementClient(credential, subscription, api_version=API_VERSION, **kwargs)


def subscription_of(stack_subscription: str | None, identity_resource_id: str | None) -> str | None:
    """The stack's subscription, or the one its pool identity's ARM id names."""
    if stack_subscription:
        return stack_subscription
    match = _SUBSCRIPTION.match(identity_resource_id or "")
    return match.group(1) if match else None


def read_quotas(client: BatchManagementClient, resource_group: str, account: str) -> tuple[AccountQuotas, str]:
    """The account's quotas and its region."""
    got = client.batch_account.get(resource_group, account)
    per_family = {q.name.lower(): q.core_quota or 0 for q in got.dedicated_core_quota_per_vm_family or [] if q.name}
    return AccountQuotas(dedicated=got.dedicated_core_quota, spot=got.low_priority_core_quota, per_family=per_family,
                         per_family_enforced=bool(got.dedicated_core_quota_per_vm_family_enforced),
                         pools=got.pool_quota, active_jobs=got.active_job_and_job_schedule_quota), got.location


def vm_families(client: BatchManagementClient, location: str) -> dict[str, str]:
    """VM size (lower case) -> the quota family Batch counts it in, for the sizes Batch supports in `location`."""
    return {sku.name.lower(): sku.family_name for sku in client.location.list_supported_virtual_machine_skus(location)
            if sku.name and sku.family_name}
