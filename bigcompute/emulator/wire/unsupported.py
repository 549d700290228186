"""Operations the local target refuses as a whole, Batch-shaped, saying why (docs/emulator.md, coverage)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.core.errors import BatchError

_CERTIFICATES = "/certificates"
_ONE_CERTIFICATE = "/certificates(thumbprintAlgorithm={algorithm},thumbprint={thumbprint})"


async def certificates(req: Request) -> Response:
    """Batch removed account certificates, so the emulator has none to keep:
    - Batch refuses new ones and their pool references since 29 February 2024, and no longer defines or fills
      AZ_BATCH_CERTIFICATES_DIR on Linux nodes ("Migrate Batch account certificates to Azure Key Vault",
      https://learn.microsoft.com/azure/batch/batch-certificate-migration-guide);
    - the 2025-06-01 data-plane API has no certificate operation (BatchService.json, the azure-batch 15.x
      BatchClient), and "all certificate related commands have been removed from Batch" (Migration Guide for
      Az 15.0.0, https://learn.microsoft.com/powershell/azure/migrate-az-15.0.0).
    A pool that references one is refused as well (state/pools.py)."""
    raise BatchError(400, "InvalidUri", "The requested URI does not represent any resource on the server: Batch "
                     "retired account certificates on 29 February 2024 and the 2025-06-01 API has no certificate "
                     "operations; deliver certificates with Azure Key Vault instead.")


ROUTES: list[tuple[str, str, object]] = [
    ("POST", _CERTIFICATES, certificates),
    ("GET", _CERTIFICATES, certificates),
    ("GET", _ONE_CERTIFICATE, certificates),
    ("DELETE", _ONE_CERTIFICATE, certificates),
    ("POST", f"{_ONE_CERTIFICATE}/canceldelete", certificates),
]
