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
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

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


def _identity_ids(body: Mapping[str, Any]) -> set[str]:
    # ARM ids compare case-insensitively; a GET may spell them otherwise (resourcegroups)
    return {i.lower() for i in ((body.get("identity") or {}).get("userAssignedIdentities") or {})}


def identity_patches(have: Mapping[str, Any], want: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The PATCHes that leave the pool with exactly `want`'s identities, in place (Pool - Update takes `identity`).

    A PATCH merges user-assigned identities, so one left out would stay on the pool
    (hashicorp/terraform-provider-azurerm#30206); ARM's usual `{"<id>": null}` is not Batch's way: its
    UserAssignedIdentities is an object, not nullable, and the documented removal is the type `None` ("Setting
    `None` in update pool will remove existing identities", Batch management 2024-07-01 BatchPoolIdentity.type).
    So a removal first clears every identity, then sets the wanted ones. Either way, "only the new vms which are
    created after the pool shrinks to 0 will have the updated identities" (BatchPoolIdentity)."""
    had, wanted = _identity_ids(have), _identity_ids(want)
    if had == wanted:
        return []
    clear = [{"identity": {"type": "None"}}] if had - wanted else []
    return [*clear, {"identity": dict(want["identity"])}]


def management_client(subscription: str, **options: Any) -> Any:
    """The ARM client for Pool - Update, signed in like the runner (a fresh GitHub ID token in CI). `options` go
    to the client (a test's `base_url`); the credential is made here, per call, so the provider never holds one."""
    from azure.mgmt.batch import BatchManagementClient

    from bigcompute.runner.credentials import azure_credential

    return BatchManagementClient(azure_credential(), subscription, api_version="2024-07-01", **options)


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


def changes(have: Mapping[str, Any], want: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The PATCH bodies that bring `have` to `want`, in order; only what changed is sent, so an unchanged
    autoscale formula is never re-enabled while the pool resizes ("You cannot enable automatic scaling on a pool
    if a resize operation is in progress", https://learn.microsoft.com/rest/api/batchservice/pool/enable-auto-scale).
    An identity removal is its own PATCH before the rest (identity_patches)."""
    props = {k: v for k, v in want["properties"].items() if not _holds((have.get("properties") or {}).get(k), v)}
    body: dict[str, Any] = {"properties": props} if props else {}
    identity = identity_patches(have, want)
    if identity:
        body.update(identity.pop())  # the wanted identities go with the rest; a clearing PATCH stays before it
    if dict(have.get("tags") or {}) != dict(want["tags"]):
        body["tags"] = dict(want["tags"])
    return [*identity, body] if body else identity


class PoolUpdateProvider(ResourceProvider):
    """PATCHes the pool named by `poolId` with what `body` changes: against the old inputs on an update,
    against the live pool on a create (the first deployment with this resource, or after the pool was
    replaced and created with the old values of the properties it ignores)."""

    serialize_as_secret_always = False  # nothing secret is captured: the provider holds no credential

    def __init__(self, connect: Callable[[str], Any] = management_client) -> None:
        super().__init__()
        self.connect = connect

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """An update whenever the settings differ, identity included (Pool - Update changes a pool's identity in
        place); a replacement only for another pool, which has none of these settings yet. Only the inputs count,
        not the serialized provider code beside them, so a new release of this file alone changes nothing."""
        replaces = ["poolId"] if olds.get("poolId") != news.get("poolId") else []
        return DiffResult(changes=bool(replaces) or olds.get("body") != news.get("body"), replaces=replaces,
                          delete_before_replace=False)

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
    def _patch(client: Any, where: tuple[str, str, str], bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            client.pool.update(*where, body)


class PoolUpdate(Resource, module="batch", name="PoolUpdate"):
    """The pool's updatable properties; replaced (so sent again) whenever its pool is replaced."""

    def __init__(self, name: str, pool_id: pulumi.Input[str], body: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PoolUpdateProvider(), name, {"poolId": pool_id, "body": body}, opts)
