"""Managed identities of local pools: what a node's instance metadata service (IMDS) issues to its tasks, and
what the account lets those tokens do.

On Azure a pool's user-assigned identities are set through ARM (Microsoft.Batch/batchAccounts/pools), the data
plane only reads them back with their clientId and principalId; locally `identity` at pool creation stands in
for ARM, and each identity's ids are derived from its resource id (stable across restarts, like Azure's).
A task gets a token for one of its pool's identities from the node's IMDS
(https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token) and sends it to
Batch as `Authorization: Bearer`; Batch allows what the identity's role assignments on the account allow
(https://learn.microsoft.com/azure/batch/batch-role-based-access-control). Tokens are JWTs signed with a key
that lives only in this emulator's memory: no task can make one, and a restarted emulator forgets them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import uuid
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

import jwt

from bigcompute.emulator.core.errors import invalid_property

BATCH_RESOURCE = "https://batch.core.windows.net/"
# The IMDS address azure-identity takes in place of http://169.254.169.254 (its ImdsCredential), set in every task
# of a pool with identities; the node's endpoint is IMDS_PATH/<node key> on the emulator.
IMDS_ENV = "AZURE_POD_IDENTITY_AUTHORITY_HOST"
IMDS_PATH = "/_emulator/imds"
ISSUER = "bigcompute-emulator-imds"
LIFETIME = 3600  # seconds; IMDS tokens last about a day, an hour is plenty for a job manager
_IDS = uuid.UUID("6f2f0c9e-1a8b-4b55-9d3e-5c1f2a7e0b61")  # namespace of the derived client/principal ids

# Built-in Batch roles (https://learn.microsoft.com/azure/batch/batch-role-based-access-control): their
# actions and dataActions on the account, as Batch checks them for data-plane requests.
_B = "Microsoft.Batch/batchAccounts"
ROLES: dict[str, tuple[str, ...]] = {
    # Azure Batch Account Contributor
    "29fe4964-1e60-436b-bd3a-77fd4c178b3c": (f"{_B}/*",),
    # Azure Batch Account Reader
    "11076f67-66f6-4be0-8f6b-f0609fd05cc9": (f"{_B}/*/read",),
    # Azure Batch Data Contributor
    "6aaa78f1-f7de-44ca-8722-c64a23943cae": (f"{_B}/applications/*", f"{_B}/certificates/*", f"{_B}/pools/*",
                                             f"{_B}/jobSchedules/*", f"{_B}/jobs/*"),
    # Azure Batch Job Submitter
    "48e5e92e-a480-4e71-aa9c-2778f4c13781": (f"{_B}/applications/read", f"{_B}/applications/versions/read",
                                             f"{_B}/pools/read", f"{_B}/jobSchedules/*", f"{_B}/jobs/*"),
}
# The first segment of a data-plane path -> the resource type its operations are authorised as.
_RESOURCE = {"jobs": "jobs", "jobschedules": "jobSchedules", "pools": "pools", "nodecounts": "pools",
             "poolusagemetrics": "pools", "supportedimages": "pools", "applications": "applications",
             "certificates": "certificates"}


def derived_id(resource_id: str, kind: str) -> str:
    return str(uuid.uuid5(_IDS, f"{kind}:{resource_id.lower()}"))


def pool_identity(identity: Any) -> dict[str, Any]:
    """A pool's `identity` as Batch returns it: each user-assigned identity with its clientId and principalId."""
    if not isinstance(identity, dict) or identity.get("type") not in ("UserAssigned", "None"):
        raise invalid_property("identity.type", "The pool identity type must be UserAssigned or None.",
                               (identity or {}).get("type") if isinstance(identity, dict) else identity)
    listed = identity.get("userAssignedIdentities") or []
    out = []
    for i, entry in enumerate(listed):
        rid = entry.get("resourceId") if isinstance(entry, dict) else None
        if not isinstance(rid, str) or "/providers/microsoft.managedidentity/userassignedidentities/" not in rid.lower():
            raise invalid_property(f"identity.userAssignedIdentities[{i}].resourceId",
                                   "The value is not the ARM resource id of a user-assigned identity.", rid)
        out.append({"resourceId": rid, "clientId": derived_id(rid, "client"),
                    "principalId": derived_id(rid, "principal")})
    return {"type": identity["type"], "userAssignedIdentities": out} if out else {"type": "None"}


def action(method: str, raw_path: str) -> str | None:
    """The RBAC operation a data-plane request is authorised as, e.g. Microsoft.Batch/batchAccounts/jobs/write."""
    first = raw_path.strip("/").split("/", 1)[0].lower()
    kind = _RESOURCE.get(first)
    if kind is None:
        return None
    verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(method.upper(), "write")
    return f"{_B}/{kind}/{verb}"


class ManagedIdentities:
    """Issues IMDS tokens and node endpoints, holds the account's role assignments, and checks bearer tokens."""

    def __init__(self, account: str, secret: bytes | None = None) -> None:
        self.account = account
        self._secret = secret or os.urandom(32)
        self._roles: dict[str, set[str]] = {}  # identity resource id (lower case) -> role definition ids
        self.issued: dict[str, int] = {}  # client id -> tokens issued (tests prove the manager asked IMDS)

    # --- role assignments on the account ------------------------------------------------------------------
    def assign(self, identity_resource_id: str, role: str) -> None:
        """Grant a built-in Batch role on the account to a user-assigned identity (named by its resource id, which
        locally stands for its principal)."""
        if role not in ROLES:
            raise ValueError(f"role {role} is not a built-in Batch role ({', '.join(sorted(ROLES))})")
        self._roles.setdefault(identity_resource_id.lower(), set()).add(role)

    def allowed(self, identity_resource_id: str, method: str, raw_path: str) -> bool:
        wanted = action(method, raw_path)
        grants: Iterable[str] = (p for role in self._roles.get(identity_resource_id.lower(), ())
                                 for p in ROLES[role])
        return wanted is not None and any(fnmatchcase(wanted, pattern) for pattern in grants)

    # --- a node's IMDS endpoint ---------------------------------------------------------------------------
    def node_key(self, pool_id: str, node_id: str) -> str:
        """The path segment that stands for "this node" in its IMDS endpoint: only the node's tasks see it."""
        name = base64.urlsafe_b64encode(f"{pool_id}/{node_id}".encode()).decode().rstrip("=")
        return f"{name}.{self._mac(name)[:32]}"

    def pool_of(self, node_key: str) -> str | None:
        name, _, mac = node_key.partition(".")
        if not hmac.compare_digest(self._mac(name)[:32], mac):
            return None
        return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode().split("/", 1)[0]

    def _mac(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    # --- tokens ---------------------------------------------------------------------------------------------
    def issue(self, identity: dict[str, Any], resource: str) -> dict[str, str]:
        """IMDS's token response for one of the pool's identities."""
        now = int(time.time())
        claims = {"aud": resource, "iss": ISSUER, "iat": now, "nbf": now, "exp": now + LIFETIME,
                  "appid": identity["clientId"], "oid": identity["principalId"], "xms_mirid": identity["resourceId"]}
        self.issued[identity["clientId"]] = self.issued.get(identity["clientId"], 0) + 1
        return {"access_token": jwt.encode(claims, self._secret, algorithm="HS256", headers={"kid": ISSUER}),
                "client_id": identity["clientId"], "expires_in": str(LIFETIME), "expires_on": str(now + LIFETIME),
                "ext_expires_in": str(LIFETIME), "not_before": str(now), "resource": resource, "token_type": "Bearer"}

    @staticmethod
    def is_ours(token: str) -> bool:
        try:
            return jwt.get_unverified_header(token).get("kid") == ISSUER
        except jwt.PyJWTError:
            return False

    def identity_of(self, token: str) -> str | None:
        """The identity (resource id) a valid token for Batch stands for; None for anything else."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], audience=BATCH_RESOURCE, issuer=ISSUER,
                                options={"require": ["exp", "aud", "iss", "xms_mirid"]})
        except jwt.PyJWTError:
            return None
        return claims["xms_mirid"]
