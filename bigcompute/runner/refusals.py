"""Why Azure refused a request (HTTP 401/403): the runner's sign-in, or the account's network rules.

The two need different fixes and look alike (both are 403 on Storage). Storage answers a request its firewall
blocks with 403 `AuthorizationFailure` "This request is not authorized to perform this operation"; a missing role
is `AuthorizationPermissionMismatch` and a bad key or token `AuthenticationFailed`/`InvalidAuthenticationInfo`:
https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes
https://learn.microsoft.com/azure/storage/common/storage-network-security
A Batch account whose public network access is disabled, or whose account endpoint allows only listed IP ranges,
refuses other clients with 403 (https://learn.microsoft.com/azure/batch/public-network-access); its error code is
not documented, so a Batch 403 counts as a network refusal when its code or message says so.
"""

from __future__ import annotations

import ipaddress
import re

from azure.core.exceptions import HttpResponseError

# Storage's firewall code (documented); Batch's is undocumented and matched by its message too.
NETWORK_CODES = frozenset({"AuthorizationFailure", "IpAuthorizationFailure", "PublicNetworkAccessDisabled"})
# Codes that are always about the caller's identity, whatever their message says.
SIGN_IN_CODES = frozenset({"AuthenticationFailed", "InvalidAuthenticationInfo", "InvalidAuthenticationInfoV2",
                           "AuthorizationPermissionMismatch", "AuthorizationFailed", "KeyBasedAuthenticationNotPermitted"})
# Azurite answers a wrong key with `AuthorizationFailure` too, saying "Server failed to authenticate the request".
_SIGN_IN_WORDS = re.compile(r"failed to authenticate|signature|token", re.IGNORECASE)
_NETWORK_WORDS = re.compile(r"network|firewall|\bIP\b|ip address|private (?:endpoint|link)", re.IGNORECASE)
_IP = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d)|\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b", re.IGNORECASE)


def error_code(e: HttpResponseError) -> str:
    """The service's error code: azure-storage sets `error_code`, Batch errors carry it in `.error`."""
    code = getattr(e, "error_code", None)
    if code is not None:
        return str(getattr(code, "value", code))
    return (e.error.code if e.error is not None else "") or ""


def is_storage(e: HttpResponseError) -> bool:
    return getattr(e, "error_code", None) is not None


def by_network_rule(e: HttpResponseError) -> bool:
    """A 403 from the account's network rules (firewall, disabled public access), not from the credentials."""
    if e.status_code != 403:
        return False
    code, text = error_code(e), _text(e)
    if code in SIGN_IN_CODES or _SIGN_IN_WORDS.search(text):
        return False
    return code in NETWORK_CODES or (not is_storage(e) and bool(_NETWORK_WORDS.search(text)))


def client_ip(e: HttpResponseError) -> str | None:
    """The refused client's address when the service names it in its message."""
    for candidate in _IP.findall(_text(e)):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _text(e: HttpResponseError) -> str:
    parts = [e.message or ""]
    if e.error is not None:
        parts += [str(e.error.message or "")] + [str(d) for d in (getattr(e.error, "details", None) or [])]
    return "\n".join(parts)


def refusal_message(e: HttpResponseError) -> str:
    """One sentence for a 401/403: which service refused, its error code, and what to do (never the key). A
    network rule's refusal is not a sign-in problem: `az login` would not help."""
    service, code = "storage" if is_storage(e) else "Batch", error_code(e)
    if by_network_rule(e):
        ip = client_ip(e) or "this machine's egress IP"
        rules = "batch.runnerAccess" if service == "Batch" else "the storage account's network rules"
        return (f"the {service} account refused the connection from this network ({ip}; HTTP {e.status_code} "
                f"{code}): its network rules do not allow it. Add the runner's egress IP to {rules} in the stack "
                "(then `pulumi up`), or run from inside the VNet (a self-hosted runner); signing in again will not help")
    if code == "AuthorizationPermissionMismatch":  # signed in, but without a data role on the container
        return (f"the storage account refused the runner's request (HTTP {e.status_code} {code}): the identity it "
                "signed in as lacks a data role there; the stack grants them to batch.runnerPrincipalId (Storage Blob "
                "Data Contributor on inputs and outputs), and a new assignment can take minutes to apply")
    return (f"the {service} account refused the runner's credentials (HTTP "
            f"{e.status_code} {code}): on the local target, `bigcompute local up` rewrites "
            ".bigcompute/local/credentials.json; on Azure, sign in with `az login`")
