"""The `api-version` query parameter every Batch request carries, checked as the service checks it.

Accepted: the GA data-plane versions from 2022-01-01.15.0 (tools pinned to an older SDK) through 2025-06-01
(azure-batch 15.x's default); the msrest-based azure-batch 14.x SDK and azure-cli's `az batch` send
2024-02-01.19.0. Anything else is refused as Batch refuses it: 400 `MissingRequiredQueryParameter` when
absent, 400 `UnsupportedRequestVersion` when not one of these ("The specified request version is not
supported", Batch's status and error codes). Previews (`2024-07-01.20.0-preview`...) are refused too. The
wire formats of these versions differ only in properties the emulator does not serve (cloudServiceConfiguration,
certificates), which it refuses whatever the version.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from bigcompute.emulator.core.errors import BatchError

SUPPORTED: tuple[str, ...] = (
    "2022-01-01.15.0",
    "2022-10-01.16.0",
    "2023-05-01.17.0",
    "2023-11-01.18.0",
    "2024-02-01.19.0",
    "2024-07-01.20.0",
    "2025-06-01",
)
_SUPPORTED = frozenset(SUPPORTED)
_NAME = "api-version"


def api_version(query: str) -> str | None:
    """The first `api-version` value of a raw query string (as parse_qs would decode it), or None."""
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep and unquote_plus(name) == _NAME:
            return unquote_plus(value) or None
    return None


def check(query: str) -> str:
    """The request's api-version when supported; raises BatchError otherwise."""
    version = api_version(query)
    if version is None:
        raise BatchError(400, "MissingRequiredQueryParameter",
                         "A query parameter that's mandatory for this request is not specified.",
                         {"QueryParameterName": _NAME})
    if version not in _SUPPORTED:
        raise BatchError(400, "UnsupportedRequestVersion", "The specified request version is not supported.",
                         {"QueryParameterName": _NAME, "QueryParameterValue": version,
                          "Reason": f"Use one of {', '.join(SUPPORTED)}."})
    return version
