"""A pool's updatable properties, sent with Pool - Update (PATCH) instead of azure-native's full PUT.

Why (README, "Changing a live pool"): azure-native updates every resource whose API has a
PUT with a PUT of the whole body (its generator sets `updateMethod` to PATCH only for paths without a PUT,
pulumi/pulumi-azure-native provider/pkg/gen/schema.go; provider/pkg/provider/crud/crud.go `CreateOrUpdate`).
A PUT on a live pool re-sends `deploymentConfiguration` and `networkConfiguration`, and Batch answers
PropertyCannotBeUpdated for them even unchanged (Azure/Batch#153, Azure/Batch#144,
Azure/terraform-provider-azapi#263: a formula-only change of a pool in a VNet). Pool - Update "replaces only
the pool properties specified in the request"
(https://learn.microsoft.com/rest/api/batchmanagement/pool/update), so the pool resource ignores changes to
these properties and this resource PATCHes those of them that changed; any other change replaces the pool
(pool_spec.REPLACE_ON_CHANGES), so azure-native never sends a PUT to a live pool.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider, UpdateResult

# The pool inputs this resource owns (ARM names); the pool resource ignores changes to them.
UPDATABLE = ("scaleSettings", "startTask", "metadata", "applicationPackages", "identity", "tags")

_POOL_ID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Batch/"
                      r"batchAccounts/(?P<account>[^/]+)/pools/(?P<pool>[^/]+)$", re.IGNORECASE)


def camel(value: Any) -> Any:
    """azure-native's snake_case input keys as ARM's camelCase (the PATCH body is sent as plain JSON)."""
    if isinstance(value, Mapping):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def patch_body(settings: Mapping[str, Any], identity_id: Any, tags: Mapping[str, str]) -> dict[str, Any]:
    """The Pool - Update body for the pool's updatable settings (azure-native input names).

    Every owned property is always sent, so removing one from the stack removes it from the pool: an empty
    `startTask` removes the start task ("In an PATCH (update) operation, this property can be set to an empty
    object to remove the start task", Batch management 2024-07-01 PoolProperties.startTask), and empty
    `metadata`/`applicationPackages` lists replace the existing ones.
    """
    return {
        "properties": {
            "scaleSettings": camel(settings["scale_settings"]),
            "startTask": camel(settings.get("start_task", {})),
            "metadata": camel(settings.get("metadata", [])),
            "applicationPackages": camel(settings.get("application_packages", [])),
        },
        "identity": {"type": "UserAssigned", "userAssignedIdentities": pulumi.Output.from_input(identity_id).apply(
            lambda i: {i: {}})},
        "tags": dict(tags),
    }


def without_old_identities(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """`new` with each identity the pool had and no longer should set to null: a PATCH merges user-assigned
    identities, so one left out would stay on the pool (hashicorp/terraform-provider-azurerm#30206, whose PATCH
    could not drop a pool identity), and a null entry is how an ARM PATCH removes one ("userAssignedIdentities":
    {"<id>": null}, https://learn.microsoft.com/azure/automation/remove-user-assigned-identity#remove-using-rest-api)."""
    had = (old.get("identity") or {}).get("userAssignedIdentities") or {}
    wanted = dict(new["identity"]["userAssignedIdentities"])
    kept = {i.lower() for i in wanted}  # ARM ids compare case-insensitively; a GET may spell them otherwise
    gone = {i: None for i in had if i.lower() not in kept}
    return {**new, "identity": {**new["identity"], "userAssignedIdentities": {**wanted, **gone}}} if gone else dict(new)


def management_client(subscription: str) -> Any:
    """The ARM client for Pool - Update, signed in like the runner (a fresh GitHub ID token in CI)."""
    from azure.mgmt.batch import BatchManagementClient

    from bigcompute.runner.credentials import azure_credential

    return BatchManagementClient(azure_credential(), subscription, api_version="2024-07-01")


def _holds(have: Any, want: Any) -> bool:
    """Whether `have` (old inputs, or the live pool) already says what `want` says. A plain value `have` lacks
    is not compared (Pool - Get omits request-only fields such as nodeDeallocationOption), a missing structure
    (autoScale where the pool has fixedScale) is a change; an empty `want` ({} start task, [] metadata) means
    none, so `have` must be empty too."""
    if isinstance(want, (Mapping, list)) and not want:
        return not have
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(
            _holds(have[k], v) if k in have else not isinstance(v, (Mapping, list)) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(_holds, have, want))
    return have == want


def changes(have: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the PATCH body `want` that `have` does not hold yet: only what changed is sent, so an
    unchanged autoscale formula is never re-enabled while the pool resizes ("You cannot enable automatic
    scaling on a pool if a resize operation is in progress",
    https://learn.microsoft.com/rest/api/batchservice/pool/enable-auto-scale)."""
    props = {k: v for k, v in want["properties"].items() if not _holds((have.get("properties") or {}).get(k), v)}
    body: dict[str, Any] = {"properties": props} if props else {}
    had = set((have.get("identity") or {}).get("userAssignedIdentities") or {})
    if {i.lower() for i in had} != {i.lower() for i in want["identity"]["userAssignedIdentities"]}:
        body["identity"] = without_old_identities(have, want)["identity"]
    if dict(have.get("tags") or {}) != dict(want["tags"]):
        body["tags"] = dict(want["tags"])
    return body


class PoolUpdateProvider(ResourceProvider):
    """PATCHes the pool named by `poolId` with what `body` changes: against the old inputs on an update,
    against the live pool on a create (the first deployment with this resource, or after the pool was
    replaced and created with the old values of the properties it ignores)."""

    serialize_as_secret_always = False  # nothing secret is captured: the provider holds no credential

    def __init__(self, connect: Callable[[str], Any] = management_client) -> None:
        super().__init__()
        self.connect = connect

    def create(self, props: dict[str, Any]) -> CreateResult:
        client, where = self._pool(props["poolId"])
        live = client.pool.get(*where, cls=lambda response, _model, _headers: response.http_response.json())
        self._patch(client, where, changes(live, props["body"]))
        return CreateResult(id_=props["poolId"], outs=props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client, where = self._pool(news["poolId"])
        self._patch(client, where, changes(olds.get("body") or {}, news["body"]))
        return UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the settings live in the pool, which the pool resource deletes."""

    def _pool(self, pool_id: str) -> tuple[Any, tuple[str, str, str]]:
        found = _POOL_ID.match(pool_id)
        if found is None:
            raise ValueError(f"not a Batch pool id: {pool_id}")
        return self.connect(found["sub"]), (found["rg"], found["account"], found["pool"])

    @staticmethod
    def _patch(client: Any, where: tuple[str, str, str], body: dict[str, Any]) -> None:
        if body:
            client.pool.update(*where, body)


class PoolUpdate(Resource, module="batch", name="PoolUpdate"):
    """The pool's updatable properties; replaced (so sent again) whenever its pool is replaced."""

    def __init__(self, name: str, pool_id: pulumi.Input[str], body: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PoolUpdateProvider(), name, {"poolId": pool_id, "body": body}, opts)
