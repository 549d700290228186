"""Built-in Azure role definitions used by the platform, and how to name them in a subscription."""

from __future__ import annotations

import pulumi

# Built-in role ids are the same in every tenant and cloud; from
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage and .../built-in-roles/compute
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BATCH_DATA_CONTRIBUTOR = "6aaa78f1-f7de-44ca-8722-c64a23943cae"
# Jobs and job schedules only (dataActions jobs/*, jobSchedules/*), no pool or account writes: the least of the
# built-in Batch roles that lets a scheduled run's job manager add tasks
# (https://learn.microsoft.com/azure/batch/batch-role-based-access-control#azure-batch-job-submitter)
BATCH_JOB_SUBMITTER = "48e5e92e-a480-4e71-aa9c-2778f4c13781"
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers#acrpull
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"

# Blob reads only in containers named app-*: the containers Batch creates for application packages.
# Format: https://learn.microsoft.com/azure/role-based-access-control/conditions-format (container name
# attribute: https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-attributes).
APP_PACKAGE_CONTAINERS_ONLY = (
    "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}))"
    " OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringStartsWith 'app-'))"
)

ROLE_NAMES = {
    STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    BATCH_DATA_CONTRIBUTOR: "Azure Batch Data Contributor",
    BATCH_JOB_SUBMITTER: "Azure Batch Job Submitter",
    ACR_PULL: "AcrPull",
}


def subscription_scope(resource_group_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """`/subscriptions/<id>` from a resource group id; avoids an extra getClientConfig invoke."""
    return pulumi.Output.from_input(resource_group_id).apply(lambda rid: rid.split("/resourceGroups/")[0])


def role_definition_id(subscription: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(subscription, "/providers/Microsoft.Authorization/roleDefinitions/", role)
