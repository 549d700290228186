"""One Batch client and one Blob client per run, with the retry policy configured once.

azure-core retries 408/429/5xx and honours Retry-After; it leaves POST and PATCH alone on a dropped
connection because they are not idempotent in general. The runner's POSTs are idempotent by design
(job and task ids are deterministic; JobExists/TaskExists are checked against the spec), so its
policy retries them too. No retry loop is written by hand anywhere in the runner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential, TokenCredential
from azure.core.pipeline.policies import RetryPolicy
from azure.storage.blob import BlobServiceClient, ContainerClient, ExponentialRetry

from bigcompute.runner.target import Target

ALL_METHODS = frozenset(["HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "POST", "PATCH"])


class IdempotentRetryPolicy(RetryPolicy):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._method_whitelist = ALL_METHODS


@dataclass(frozen=True)
class RetrySettings:
    total: int = 10
    backoff_factor: float = 0.5
    backoff_max: int = 30
    connection_timeout: float = 10
    read_timeout: float = 60

    def batch_policy(self) -> IdempotentRetryPolicy:
        return IdempotentRetryPolicy(retry_total=self.total, retry_connect=self.total, retry_read=self.total,
                                     retry_status=self.total, retry_backoff_factor=self.backoff_factor,
                                     retry_backoff_max=self.backoff_max)

    def blob_policy(self) -> ExponentialRetry:
        # Storage's own policy: every blob call the runner makes is a PUT, GET, HEAD or list.
        return ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=self.total)


@dataclass
class Clients:
    batch: BatchClient
    blob: BlobServiceClient
    target: Target

    def container(self, role: str) -> ContainerClient:
        return self.blob.get_container_client(self.target.containers[role])

    def close(self) -> None:
        self.batch.close()
        self.blob.close()


def connect(target: Target, retry: RetrySettings = RetrySettings(), credential: TokenCredential | None = None) -> Clients:
    """Clients for `target`; on Azure, `credential` (default: the runner's chain) signs Batch and Storage requests."""
    # azure-core logs request headers at DEBUG; keep its loggers quiet so no token can leak into output.
    logging.getLogger("azure").setLevel(logging.WARNING)
    timeouts = {"connection_timeout": retry.connection_timeout, "read_timeout": retry.read_timeout}
    if target.kind == "local":
        batch_credential = AzureNamedKeyCredential(target.batch_account, target.batch_key or "")
        blob_credential = {"account_name": target.storage_account, "account_key": target.storage_key or ""}
    else:
        from bigcompute.runner.credentials import azure_credential

        batch_credential = blob_credential = credential or azure_credential()  # one credential: one token cache
    batch = BatchClient(target.batch_endpoint, batch_credential, retry_policy=retry.batch_policy(), **timeouts)
    blob = BlobServiceClient(target.blob_endpoint, credential=blob_credential, retry_policy=retry.blob_policy(),
                             max_single_put_size=4 << 20, max_block_size=4 << 20, **timeouts)
    return Clients(batch, blob, target)
