"""Policy rules over a stack's resources, as plain Python.

One rule set, three users: the tests (every stack), `bigcompute infra plan` (offline review) and the
CrossGuard pack in `policy/` (`pulumi preview --policy-pack policy`). Rules read Azure property names
(camelCase), as both the mock graph and the Pulumi engine present them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bigcompute.config import StackConfig

STACK = "pulumi:pulumi:Stack"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
BATCH_ACCOUNT = "azure-native:batch:BatchAccount"
POOL = "azure-native:batch:Pool"
PRODUCTION = frozenset({"prod", "production", "prd"})


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    # URNs of the resources it depends on; state holds no ARM path parameters (an account's name in
    # a child's URL), so this is how a rule finds which account a blob service belongs to
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyContext:
    environment: str
    allow_spot: bool
    shared_key_access: bool = False

    @property
    def production(self) -> bool:
        return self.environment in PRODUCTION

    @classmethod
    def from_stack(cls, stack: StackConfig) -> PolicyContext:
        return cls(stack.environment, stack.allow_spot, stack.storage.shared_key_access)


# when the stack is unknown, judge it by the strictest standard
STRICT = PolicyContext("prod", allow_spot=False, shared_key_access=False)


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    resource: str
    message: str
    urn: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "resource": self.resource, "message": self.message, "urn": self.urn}


Check = Callable[[Sequence[Resource], PolicyContext], Iterator[tuple[Resource, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    check: Check


def _of(resources: Iterable[Resource], type_: str) -> Iterator[Resource]:
    return (r for r in resources if r.type == type_)


def _get(props: Mapping[str, Any], *path: str) -> Any:
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def storage_secure_transport(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    for r in _of(resources, STORAGE_ACCOUNT):
        if r.props.get("enableHttpsTrafficOnly") is not True:
            yield r, "storage account must accept HTTPS only (enableHttpsTrafficOnly: true)"
        if r.props.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
            yield r, f"storage account must require TLS 1.2 or later, not {r.props.get('minimumTlsVersion')!r}"


def storage_no_public_access(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    for r in _of(resources, STORAGE_ACCOUNT):
        if r.props.get("allowBlobPublicAccess") is not False:
            yield r, "storage account must forbid anonymous blob access (allowBlobPublicAccess: false)"
    for r in _of(resources, BLOB_CONTAINER):
        if r.props.get("publicAccess") not in (None, "None"):
            yield r, f"container must not be public (publicAccess: {r.props.get('publicAccess')})"


def storage_shared_key(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    if ctx.shared_key_access:
        return
    for r in _of(resources, STORAGE_ACCOUNT):
        if r.props.get("allowSharedKeyAccess") is not False:
            yield r, "storage account keys must be disabled (allowSharedKeyAccess: false) unless the stack enables them"


def storage_soft_delete(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    # a blob service depends on its account (it is declared with the account's name)
    protected = {
        urn for r in _of(resources, BLOB_SERVICE)
        if _get(r.props, "deleteRetentionPolicy", "enabled") is True
        and (_get(r.props, "deleteRetentionPolicy", "days") or 0) >= 1
        for urn in r.dependencies
    }
    for r in _of(resources, STORAGE_ACCOUNT):
        if r.urn not in protected:
            yield r, "storage account needs blob soft delete (blob service deleteRetentionPolicy enabled, >= 1 day)"


def batch_security(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    for r in _of(resources, BATCH_ACCOUNT):
        if r.props.get("poolAllocationMode", "BatchService") != "BatchService":
            yield r, "Batch account must allocate pools in Batch service mode"
        if _get(r.props, "autoStorage", "authenticationMode") != "BatchAccountManagedIdentity":
            yield r, "auto-storage must authenticate with the account's managed identity, not storage keys"
        if not _get(r.props, "autoStorage", "nodeIdentityReference", "resourceId"):
            yield r, "auto-storage needs a node identity reference, so nodes reach it without keys"
        modes = list(r.props.get("allowedAuthenticationModes") or [])
        if "SharedKey" in modes:
            yield r, "Batch account must not accept shared-key authentication"
        if ctx.production and modes != ["AAD"]:
            yield r, f"production Batch accounts accept Entra ID (AAD) only, not {modes}"


def pool_identity(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    for r in _of(resources, POOL):
        identity = r.props.get("identity") or {}
        if identity.get("type") != "UserAssigned" or not identity.get("userAssignedIdentities"):
            yield r, "pool needs a user-assigned identity (tasks reach storage through it, never with keys)"


def pool_no_public_ips(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    if not ctx.production:
        return
    for r in _of(resources, POOL):
        network = r.props.get("networkConfiguration") or {}
        provision = _get(network, "publicIPAddressConfiguration", "provision") or "BatchManaged"
        if not network.get("subnetId") or provision != "NoPublicIPAddresses":
            yield r, f"production pools must sit in a subnet without public IPs (provision: {provision})"


_SPOT_ASSIGNMENT = re.compile(r"\$TargetLowPriorityNodes\s*=(?!=)\s*([^;]*)")


def formula_uses_spot(formula: str) -> bool:
    """True when the formula may ask for spot nodes: any assignment other than a literal 0."""
    return any(value.strip() not in ("0", "0.0") for value in _SPOT_ASSIGNMENT.findall(formula))


def pool_spot_allowed(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    # Low-priority nodes were retired on 30 Sep 2025; Batch now allocates Spot VMs for the same fields in
    # Batch-managed accounts too (Azure/Batch#196, system-initiated migration from March 2026), as it always
    # did in user-subscription accounts (https://learn.microsoft.com/azure/batch/batch-spot-vms). So a spot
    # target is real in either pool allocation mode, at Spot's variable price.
    if ctx.allow_spot:
        return
    for r in _of(resources, POOL):
        spot = _get(r.props, "scaleSettings", "fixedScale", "targetLowPriorityNodes") or 0
        formula = _get(r.props, "scaleSettings", "autoScale", "formula") or ""
        if spot or formula_uses_spot(formula):
            yield r, "the stack does not allow spot nodes (allowSpot: false), but this pool asks for them"


_SECRET_NAME = re.compile(r"key|secret|password|passwd|sas|token|connectionstring|credential", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"AccountKey=|SharedAccessSignature=|[?&]sig=|^[A-Za-z0-9+/]{60,}={0,2}$")
_SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def _secrets(value: Any, path: str, top: bool = False) -> Iterator[str]:
    if isinstance(value, Mapping):
        if value.get(_SECRET_SIG[0]) == _SECRET_SIG[1]:
            yield f"{path} is a secret"
            return
        for key, item in value.items():
            # only output names: deeper keys are data (pool names), and a pool may be called "tokenizer"
            if top and _SECRET_NAME.search(str(key)):
                yield f"{path}.{key} is named like a credential"
            yield from _secrets(item, f"{path}.{key}")
    elif isinstance(value, Sequence) and not isinstance(value, str):  # lists, and CrossGuard's list proxies
        for i, item in enumerate(value):
            yield from _secrets(item, f"{path}[{i}]")
    elif isinstance(value, str) and _SECRET_VALUE.search(value):
        yield f"{path} looks like an account key, SAS token or connection string"


def outputs_no_secrets(resources: Sequence[Resource], ctx: PolicyContext) -> Iterator[tuple[Resource, str]]:
    for r in _of(resources, STACK):
        for problem in _secrets(r.props, "outputs", top=True):
            yield r, f"stack outputs carry no keys or secrets: {problem}"


RULES: tuple[Rule, ...] = (
    Rule("storage-secure-transport", "Storage accounts accept HTTPS only, with TLS 1.2 or later.",
         storage_secure_transport),
    Rule("storage-no-public-access", "No anonymous access to storage accounts or containers.",
         storage_no_public_access),
    Rule("storage-shared-key-off", "Storage account keys are disabled unless the stack turns them on.",
         storage_shared_key),
    Rule("storage-soft-delete", "Blob soft delete is on for every storage account.", storage_soft_delete),
    Rule("batch-account-security", "Batch service allocation, identity-based auto-storage, no shared keys "
         "(AAD only in production).", batch_security),
    Rule("pool-identity", "Every pool has a user-assigned managed identity.", pool_identity),
    Rule("pool-no-public-ips-in-production", "Production pools get no public IP addresses.", pool_no_public_ips),
    Rule("pool-spot-allowed", "Spot nodes (Spot VMs in either pool allocation mode since the low-priority "
         "retirement) only in stacks with allowSpot.", pool_spot_allowed),
    Rule("outputs-no-secrets", "No account key, SAS token or secret in the stack outputs.", outputs_no_secrets),
)


def evaluate(resources: Sequence[Resource], ctx: PolicyContext, rules: Sequence[Rule] = RULES) -> list[Violation]:
    return sorted(Violation(rule.id, r.name, message, r.urn)
                  for rule in rules for r, message in rule.check(resources, ctx))
