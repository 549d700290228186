"""The `api-version` query parameter every Batch request carries, checked as the service checks it.

Accepted: the GA data-plane versions from 2024-02-01.19.0 (the msrest-based azure-batch 14.x SDK and
azure-cli's `az batch` send it) through 2025-06-01 (azure-batch 15.x's default). Anything else is refused
with Batch's error shape: 400 `MissingRequiredQueryParameter` when absent, 400 `InvalidQueryParameterValue`
when not one of these. Previews (`2024-07-01.20.0-preview`...) and versions older or newer than the range
are refused: the emulator speaks these wire formats only.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from bigcompute.emulator.core.errors import BatchError

SUPPORTED: tuple[str, ...] = (
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
        raise BatchError(400, "InvalidQueryParameterValue",
                         "Value for one of the query parameters specified in the request URI is invalid.",
                         {"QueryParameterName": _NAME, "QueryParameterValue": version,
                          "Reason": f"The api-version is not supported; use one of {', '.join(SUPPORTED)}."})
    return version
