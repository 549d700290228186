"""A node's instance metadata service, token endpoint only: `GET <IMDS>/metadata/identity/oauth2/token
?api-version=2018-02-01&resource=...&client_id=...` with the header `Metadata: true`, answered as Azure's IMDS
answers (https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token):
a token for one of the identities of the pool the node belongs to, else 400 `invalid_request`.

Each node's IMDS is `/_emulator/imds/<node key>` (core/identities.py): the key, in the task's environment only,
is what makes a request come from that node. Not Batch's API: no SharedKey, no api-version check of Batch's.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.core.identities import IMDS_PATH

TOKEN_PATH = "/metadata/identity/oauth2/token"
# IMDS's selectors of a user-assigned identity; with none, a VM with exactly one identity uses that one.
_SELECTORS = {"client_id": "clientId", "object_id": "principalId", "msi_res_id": "resourceId",
              "mi_res_id": "resourceId"}


def _refused(description: str, status: int = 400, error: str = "invalid_request") -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def token(req: Request) -> Response:
    if req.headers.get("metadata", "").lower() != "true":
        return _refused("Required metadata header not specified")
    params = req.query_params
    if not params.get("api-version"):
        return _refused("Required query variable 'api-version' is missing")
    resource = params.get("resource")
    if not resource:
        return _refused("Required audience parameter not specified")
    state = req.app.state.batch
    pool_id = state.identities.pool_of(req.path_params["node_key"])
    if pool_id is None:
        return _refused("Not found", 404, "not_found")
    try:
        pool = state.pools.get(pool_id)
    except BatchError:  # the node's pool was deleted
        return _refused("Not found", 404, "not_found")
    identity = _chosen(pool.get("identity") or {}, params)
    if isinstance(identity, str):
        return _refused(identity)
    return JSONResponse(state.identities.issue(identity, resource))


def _chosen(pool_identity: dict[str, Any], params: Any) -> dict[str, Any] | str:
    """The requested identity of the pool, or why IMDS refuses."""
    identities = pool_identity.get("userAssignedIdentities") or []
    asked = [(field, params[name]) for name, field in _SELECTORS.items() if params.get(name)]
    if len(asked) > 1:
        return "Only one of client_id, object_id or msi_res_id may be given"
    if not asked:
        if len(identities) == 1:
            return identities[0]
        return ("Identity not found" if not identities else
                "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity "
                "in the token request")
    field, value = asked[0]
    found = [i for i in identities if i[field].lower() == value.lower()]
    return found[0] if found else "Identity not found"


ROUTES = [Route(f"{IMDS_PATH}/{{node_key}}{TOKEN_PATH}", token, methods=["GET"])]
