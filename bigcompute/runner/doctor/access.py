"""Can the runner reach and use the target: endpoints resolve and accept connections, a token for each service can
be had (and from which credential), and the runner's roles let it read `inputs` and write `outputs`."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Callable
from urllib.parse import urlparse

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import ContainerClient

from bigcompute.runner.doctor.findings import Finding, fail, ok
from bigcompute.runner.reach import LOCAL_HOSTS, connection_failure
from bigcompute.runner.refusals import by_network_rule, error_code, refusal_message

# Entra ID scopes of the three APIs the runner and doctor call (the SDKs' own defaults).
SCOPES = {"Batch": "https://batch.core.windows.net//.default", "Storage": "https://storage.azure.com/.default",
          "Azure Resource Manager": "https://management.azure.com/.default"}
PROBE_PREFIX = ".bigcompute-doctor/"  # the probe blob's folder in outputs: no job's outputs live there
CONNECT_TIMEOUT = 5.0


def reach_finding(service: str, url: str) -> Finding:
    """DNS resolution and a TCP connection to the endpoint's host and port."""
    check = f"reach: {service}"
    parts = urlparse(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = sorted({a[4][0] for a in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except socket.gaierror as e:
        return fail(check, f"{host} does not resolve ({e.strerror})",
                    "check DNS: inside the VNet with a private endpoint, the privatelink zone must be linked to the "
                    "VNet; elsewhere, that the stack is deployed and the outputs name the right account")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as e:
        return fail(check, f"{host} resolves to {', '.join(addresses)} but port {port} does not answer "
                    f"({e.strerror or type(e).__name__})",
                    "start the local target: `bigcompute local up`" if host in LOCAL_HOSTS else
                    "check the network path: a firewall or proxy between here and Azure, the account's network "
                    "rules (batch.runnerAccess), or run from inside the VNet")
    return ok(check, f"{host} resolves to {', '.join(addresses)}; port {port} accepts connections")


def _claims(token: str) -> dict[str, object]:
    """The access token's claims, read (not verified) to say who signed in; the token itself is never shown."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def _who(claims: dict[str, object]) -> str:
    """Whom the token signs in as: what role assignments need (the object id) and what people recognise."""
    name = claims.get("upn") or claims.get("unique_name") or claims.get("appid")
    ids = ", ".join(f"{label} {claims[key]}" for label, key in (("object id", "oid"), ("tenant", "tid")) if claims.get(key))
    return (f", as {name}" if name else "") + (f" ({ids})" if ids else "")


def successful_credential(credential: object) -> str:
    """Which credential of a chain produced the token (azure-identity records it on the chain, not publicly)."""
    inner = getattr(credential, "_successful_credential", None)
    return successful_credential(inner) if inner is not None else type(credential).__name__


def credential_findings(credential: TokenCredential, sign_in_failure: Callable[[str], str]) -> list[Finding]:
    """A token for each service's scope: which credential produced it and who it signs in as."""
    found = []
    for service, scope in SCOPES.items():
        check = f"credentials: {service} token"
        try:
            token = credential.get_token(scope)
        except ClientAuthenticationError as e:
            found.append(fail(check, f"no token for {scope}", sign_in_failure(str(e))))
            continue
        found.append(ok(check, f"from {successful_credential(credential)}{_who(_claims(token.token))}"))
    return found


def service_failure(check: str, error: Exception) -> Finding:
    """A failed call to Batch or Storage as a finding: network, sign-in, or unreachable."""
    if isinstance(error, ClientAuthenticationError) and getattr(error, "status_code", None) is None:
        return fail(check, f"no token: {error}", "sign in: `az login` (or a federated credential in CI)")
    if isinstance(error, HttpResponseError) and error.status_code in (401, 403):
        kind = "refused by the network rules" if by_network_rule(error) else "refused the credentials"
        return fail(check, f"HTTP {error.status_code} {error_code(error)}: {kind}", refusal_message(error))
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return fail(check, f"no answer ({type(error).__name__})", connection_failure(error))
    return fail(check, f"{type(error).__name__}: {error}", "see the message; `bigcompute doctor` again once fixed")


def read_probe(container: ContainerClient, role: str) -> Finding:
    """List one blob of the container: what Storage Blob Data Reader (or Contributor) allows."""
    check = f"storage roles: {role} (read)"
    try:
        next(iter(container.list_blobs(results_per_page=1).by_page()), None)
    except ResourceNotFoundError:
        return _missing(check, container.container_name)
    except (HttpResponseError, ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as e:
        return _storage_failure(check, e, container.container_name, "Storage Blob Data Contributor")
    return ok(check, f"listed container {container.container_name}")


def write_probe(container: ContainerClient, role: str) -> Finding:
    """Write then delete a small blob: what Storage Blob Data Contributor allows (the runner writes manifests)."""
    check = f"storage roles: {role} (write, delete)"
    name = f"{PROBE_PREFIX}{uuid.uuid4().hex}.txt"
    try:
        blob = container.get_blob_client(name)
        blob.upload_blob(b"bigcompute doctor write probe\n", overwrite=True)
        blob.delete_blob()
    except ResourceNotFoundError:
        return _missing(check, container.container_name)
    except (HttpResponseError, ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as e:
        return _storage_failure(check, e, container.container_name, "Storage Blob Data Contributor")
    return ok(check, f"wrote and deleted {container.container_name}/{name}")


def _missing(check: str, container: str) -> Finding:
    return fail(check, f"container {container} does not exist", "deploy the stack (`pulumi up`); on the local "
                "target `bigcompute local up` creates it")


def _storage_failure(check: str, e: Exception, container: str, role: str) -> Finding:
    if isinstance(e, HttpResponseError) and error_code(e) == "AuthorizationPermissionMismatch":
        return fail(check, f"HTTP 403 AuthorizationPermissionMismatch on container {container}: the signed-in "
                    f"identity lacks {role} there",
                    f"the stack grants {role} on {container} to batch.runnerPrincipalId: set it to the object id "
                    "shown under credentials and `pulumi up`; a new role assignment can take minutes to apply")
    return service_failure(check, e)
