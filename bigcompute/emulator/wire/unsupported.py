"""Operations the local target refuses as a whole, Batch-shaped, saying why (docs/emulator.md, coverage)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.core.errors import BatchError

_CERTIFICATES = "/certificates"
_ONE_CERTIFICATE = "/certificates(thumbprintAlgorithm={algorithm},thumbprint={thumbprint})"


async def certificates(req: Request) -> Response:
    """Batch retired account certificates on 29 February 2024 ("Migrate Batch account certificates to Azure
    Key Vault", learn.microsoft.com/azure/batch/batch-certificate-migration-guide): nothing on a local node
    could use one, and pools that reference one are refused too (pools.py)."""
    raise BatchError(400, "InvalidUri", "Certificates are not supported by the local target: Batch retired "
                     "account certificates in February 2024; deliver them with Azure Key Vault instead.")


ROUTES: list[tuple[str, str, object]] = [
    ("POST", _CERTIFICATES, certificates),
    ("GET", _CERTIFICATES, certificates),
    ("GET", _ONE_CERTIFICATE, certificates),
    ("DELETE", _ONE_CERTIFICATE, certificates),
    ("POST", f"{_ONE_CERTIFICATE}/canceldelete", certificates),
]
