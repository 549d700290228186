"""Azure's own rules for a stack the schema accepts: what Azure would refuse at deploy, refused here with
the stack file's line and the page the rule comes from (each message names it)."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bigcompute.config.images import CONTAINER_OFFERS, GPU_OFFERS, IMAGE_ALIASES, is_gpu_size
from bigcompute.document import Diagnostic, Document
from bigcompute.vm_sizes import VCPUS, vcpus

BATCH_STORAGE = "https://learn.microsoft.com/azure/batch/accounts#azure-storage-accounts"
PREMIUM_BLOBS = "https://learn.microsoft.com/azure/storage/common/storage-account-overview#types-of-storage-accounts"
TASK_SLOTS = "https://learn.microsoft.com/azure/batch/batch-parallel-node-tasks"
CONTAINERS = "https://learn.microsoft.com/azure/batch/batch-docker-container-workloads#supported-vm-images"
DEALLOCATION = "https://learn.microsoft.com/azure/batch/batch-automatic-scaling#variables"
MAX_TASK_SLOTS = 256
SIMPLIFIED_NO_PUBLIC_IP = "https://learn.microsoft.com/azure/batch/simplified-node-communication-pool-no-public-ip"
PUBLIC_NETWORK_ACCESS = "https://learn.microsoft.com/azure/batch/public-network-access"
ACR_ANONYMOUS_PULL = "https://learn.microsoft.com/azure/container-registry/anonymous-pull-access"
GPU_DRIVERS = "https://learn.microsoft.com/azure/batch/batch-pool-compute-intensive-sizes"
INTER_NODE_POOL_SIZE = "https://learn.microsoft.com/azure/batch/batch-quota-limit#pool-size-limits"
MAX_INTER_NODE_NODES = 100  # Batch-service pool allocation mode, which components/batch_account.py sets
ACR_LOGIN_SERVER = "https://learn.microsoft.com/azure/container-registry/container-registry-get-started-portal#log-in-to-registry"

Locate = Callable[..., tuple]


def azure_problems(doc: Document, values: Mapping[str, Any], locate: Locate) -> Iterator[Diagnostic]:
    """Every rule below, for the stack's schema-valid `values`; `locate(*path)` gives a diagnostic path."""
    yield from _network_path(doc, values, locate)
    yield from _premium_storage(doc, values.get("storage", {}), lambda *p: locate("storage", *p))
    for i, pool in enumerate(values["pools"]):
        at = lambda *p, i=i: locate("pools", i, *p)  # noqa: E731
        yield from _task_slots(doc, pool, at)
        yield from _containers(doc, pool, at)
        yield from _gpu_drivers(doc, pool, at)
        yield from _registries(doc, pool, at)
        yield from _deallocation(doc, pool, at)
        yield from _inter_node_size(doc, pool, at)


def _premium_storage(doc: Document, storage: Mapping[str, Any], at: Locate) -> Iterator[Diagnostic]:
    # Premium block blobs exist only in a BlockBlobStorage account (a premium StorageV2 account holds
    # page blobs alone: every input upload would fail "Block blobs are not supported"), and Batch lists
    # only general-purpose v2/v1 and BlobStorage accounts for the storage account it links.
    sku = storage.get("sku", "")
    if sku.startswith("Premium_"):
        yield doc.diagnostic(at("sku"), f"storage sku {sku} is not supported: premium block blobs need a "
                             f"BlockBlobStorage account ({PREMIUM_BLOBS}), which is not among the account kinds "
                             f"Batch supports for its linked storage ({BATCH_STORAGE}); use a Standard_ sku",
                             code="azure-storage-sku")


def _task_slots(doc: Document, pool: Mapping[str, Any], at: Locate) -> Iterator[Diagnostic]:
    # taskSlotsPerNode: "The maximum value is the smaller of 4 times the number of cores of the vmSize of
    # the pool or 256" (Batch REST API, Pool - Add; "Run tasks concurrently", TASK_SLOTS).
    size = pool["vmSize"]
    cores = vcpus(size)
    if cores is None:
        close = difflib.get_close_matches(size, VCPUS, n=4, cutoff=0.8)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        yield doc.diagnostic(at("vmSize"), f"unknown VM size '{size}': its vCPUs bound taskSlotsPerNode "
                             f"({TASK_SLOTS}). {hint}The {len(VCPUS)} known sizes are listed in "
                             "bigcompute/vm_sizes.py; to use another size, add it there with its vCPU "
                             "count from its Azure page", code="azure-vm-size")
        return
    slots, limit = pool.get("taskSlotsPerNode", 1), min(4 * cores, MAX_TASK_SLOTS)
    if slots > limit:
        yield doc.diagnostic(at("taskSlotsPerNode"), f"taskSlotsPerNode {slots} is over Batch's limit for "
                             f"{size} ({cores} vCPUs): at most min(4 x vCPUs, {MAX_TASK_SLOTS}) = {limit} "
                             f"({TASK_SLOTS})", code="azure-task-slots")


def _containers(doc: Document, pool: Mapping[str, Any], at: Locate) -> Iterator[Diagnostic]:
    # containerImages and containerRegistries both give the pool a containerConfiguration
    field = next((f for f in ("containerImages", "containerRegistries") if pool.get(f)), None)
    if field is None:
        return
    image = pool["image"]
    if isinstance(image, str):
        reference = IMAGE_ALIASES.get(image)
        if reference is None or reference.has_container_runtime:  # an unknown alias is reported elsewhere
            return
        name = image
    elif (image["publisher"].lower(), image["offer"].lower()) in CONTAINER_OFFERS:
        return
    else:
        name = f"{image['publisher']}/{image['offer']}"
    capable = sorted(alias for alias, ref in IMAGE_ALIASES.items() if ref.has_container_runtime)
    offers = sorted(f"{p}/{o}" for p, o in CONTAINER_OFFERS)
    yield doc.diagnostic(at(field), f"{field} need an image with a container runtime; "
                         f"'{name}' has none ({CONTAINERS}). Use the image alias {' or '.join(capable)}, or an "
                         f"image reference of {', '.join(offers)}", code="azure-container-image")


def _gpu_drivers(doc: Document, pool: Mapping[str, Any], at: Locate) -> Iterator[Diagnostic]:
    # An N-series node uses its GPUs only with the vendor's driver: "you need to install the appropriate
    # drivers ... or use an image with drivers installed" (GPU_DRIVERS). A plain image would start nodes whose
    # GPUs no task can use, billed at GPU prices.
    if not is_gpu_size(pool["vmSize"]):
        return
    image = pool["image"]
    if isinstance(image, str):
        reference = IMAGE_ALIASES.get(image)
        if reference is None or reference.has_gpu_drivers:  # an unknown alias is reported elsewhere
            return
        name = image
    elif (image["publisher"].lower(), image["offer"].lower()) in GPU_OFFERS:
        return
    else:
        name = f"{image['publisher']}/{image['offer']}"
    with_drivers = sorted(alias for alias, ref in IMAGE_ALIASES.items() if ref.has_gpu_drivers)
    yield doc.diagnostic(at("image"), f"vmSize {pool['vmSize']} has GPUs, and image '{name}' has no GPU drivers "
                         f"({GPU_DRIVERS}): use an image alias with drivers ({', '.join(with_drivers)}) or an "
                         f"image reference of {', '.join(sorted(f'{p}/{o}' for p, o in GPU_OFFERS))}",
                         code="azure-gpu-image")


_ACR_SERVER = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.(io|cn|us)$")


def _registries(doc: Document, pool: Mapping[str, Any], at: Locate) -> Iterator[Diagnostic]:
    registries = pool.get("containerRegistries", ())
    for i, registry in enumerate(registries):
        # a registry's login server is its name in lower case under azurecr.io (ACR_LOGIN_SERVER): a server
        # and a resource id naming different registries would grant AcrPull on one and pull from the other
        name = registry["resourceId"].rsplit("/", 1)[1].lower()
        if registry["server"].split(".", 1)[0] != name:
            yield doc.diagnostic(at("containerRegistries", i, "server"), f"server {registry['server']} is not the "
                                 f"login server of the registry {name} that resourceId names ({name}.azurecr.io, "
                                 f"{ACR_LOGIN_SERVER})", code="azure-container-registry")
    # ACR serves pulls to authenticated callers only unless anonymous pull is enabled (ACR_ANONYMOUS_PULL):
    # an image of a registry the pool has no identity reference for fails every node's prefetch
    listed = {r["server"] for r in registries}
    for i, image in enumerate(pool.get("containerImages", ())):
        server = image.split("/", 1)[0].lower() if "/" in image else ""
        if _ACR_SERVER.match(server) and server not in listed:
            yield doc.diagnostic(at("containerImages", i), f"{image} is in the Azure Container Registry {server}, "
                                 "which serves authenticated pulls only (" + ACR_ANONYMOUS_PULL + "): add it to "
                                 f"containerRegistries (server: {server} and its resourceId) so the nodes pull it "
                                 "as the pool identity, which the stack grants AcrPull", code="azure-container-registry")


_ASSIGNED_OPTION = re.compile(r"\$NodeDeallocationOption\s*=\s*([A-Za-z]+)")


def _deallocation(doc: Document, pool: Mapping[str, Any], at: Locate) -> Iterator[Diagnostic]:
    # On an autoscale pool Batch takes the deallocation option from the formula's $NodeDeallocationOption
    # (DEALLOCATION), not from the pool: presets write the pool's nodeDeallocation there (model.py); a
    # preset parameter or a raw formula saying something else would silently win, so both are refused.
    wanted = pool.get("nodeDeallocation")
    if wanted == "retaineddata":
        from bigcompute.autoscale.presets import RETAINED_DATA_GONE

        yield doc.diagnostic(at("nodeDeallocation"), f"nodeDeallocation {RETAINED_DATA_GONE}",
                             code="azure-deallocation")
        return
    autoscale = pool["scale"].get("autoscale")
    if wanted is None or autoscale is None:
        return
    if "formula" in autoscale:
        found = _ASSIGNED_OPTION.findall(autoscale["formula"])
        if not found or found[-1] != wanted:  # the last assignment is the one Batch keeps
            said = f"sets $NodeDeallocationOption = {found[-1]}" if found else "does not set $NodeDeallocationOption"
            yield doc.diagnostic(at("nodeDeallocation"), f"nodeDeallocation {wanted} has no effect: the pool's "
                                 f"formula {said}, and Batch takes the option from the formula ({DEALLOCATION}); "
                                 f"write `$NodeDeallocationOption = {wanted};` in the formula",
                                 code="azure-deallocation")
    elif autoscale.get("deallocation", wanted) != wanted:
        yield doc.diagnostic(at("scale", "autoscale", "deallocation"),
                             f"preset deallocation {autoscale['deallocation']} contradicts the pool's "
                             f"nodeDeallocation {wanted}, and Batch takes the option from the formula ({DEALLOCATION}); "
                             "keep one (nodeDeallocation is passed to the preset)",
                             code="azure-deallocation")


def _network_path(doc: Document, values: Mapping[str, Any], locate: Locate) -> Iterator[Diagnostic]:
    """Refuse a stack whose runner cannot reach the account endpoint, or whose nodes cannot reach node
    management: both are only found by a real deployment otherwise (403 on submit, unusable nodes)."""
    batch, network = values.get("batch", {}), values.get("network")
    access = batch.get("runnerAccess")
    mode = (access or {}).get("mode", "open")
    at = lambda *p: locate("batch", *p)  # noqa: E731
    public = batch.get("publicNetworkAccess", True)
    if not public and (network or {}).get("publicIps", "batchManaged") != "none":
        # Disabled closes the public node management endpoint: nodes must reach it through the
        # nodeManagement private endpoint in the VNet, which pools without public IPs use (SIMPLIFIED_NO_PUBLIC_IP)
        yield doc.diagnostic(at("publicNetworkAccess"), "publicNetworkAccess: false closes the node management "
                             "endpoint to public networks, so nodes can only reach it from a network without public "
                             f"IPs: add 'network' with 'publicIps: none' (see {SIMPLIFIED_NO_PUBLIC_IP})",
                             code="network-path")
    if not public and mode != "privateEndpoint":
        # Disabled closes the account endpoint too: only a batchAccount private endpoint reaches it (PUBLIC_NETWORK_ACCESS)
        yield doc.diagnostic(at("runnerAccess", "mode") if access else at("publicNetworkAccess"),
                             "the runner cannot reach the account: publicNetworkAccess: false closes the account "
                             "endpoint (jobs, tasks); use 'runnerAccess: {mode: privateEndpoint}' for a runner inside "
                             "the VNet, or 'publicNetworkAccess: true' with 'runnerAccess: {mode: allowList, ips: "
                             f"[...]}}' (see {PUBLIC_NETWORK_ACCESS})", code="network-path")
    if mode == "privateEndpoint" and not network:
        yield doc.diagnostic(at("runnerAccess", "mode"), "runnerAccess mode privateEndpoint needs a 'network' "
                             "block: the private endpoint lives in the stack's subnet", code="network-path")
    if mode == "allowList" and not access.get("ips"):
        yield doc.diagnostic(at("runnerAccess"), "runnerAccess mode allowList needs 'ips': the public addresses "
                             "the runner calls from; with none, every caller is denied", code="network-path")
    if access and access.get("ips") and mode != "allowList":
        yield doc.diagnostic(at("runnerAccess", "ips"), f"'ips' only apply with mode allowList, not {mode}",
                             code="network-path")
    for i, ip in enumerate((access or {}).get("ips", ())):
        try:
            net = ipaddress.ip_network(ip)  # strict: 203.0.113.7/24 is a typo for an address or a range
        except ValueError as e:
            yield doc.diagnostic(at("runnerAccess", "ips", i), f"{e}; expected an IPv4 address or CIDR range",
                                 code="network-path")
            continue
        if net.version != 4:  # Batch IP rules take IPv4 only (PUBLIC_NETWORK_ACCESS)
            yield doc.diagnostic(at("runnerAccess", "ips", i), f"{ip} is not IPv4; Batch IP rules take IPv4 "
                                 "addresses and ranges", code="network-path")


def _inter_node_size(doc: Document, pool: Mapping[str, Any], at: Locate) -> Iterator[Diagnostic]:
    # "Compute nodes in inter-node communication enabled pool: Batch service pool allocation mode 100"; these
    # limits "can't be changed" (INTER_NODE_POOL_SIZE). A raw formula states no ceiling we can read.
    if not pool.get("interNodeCommunication"):
        return
    scale = pool["scale"]
    if "fixed" in scale:
        where, count = at("scale", "fixed"), scale["fixed"].get("dedicated", 0) + scale["fixed"].get("spot", 0)
    else:
        where, count = at("scale", "autoscale", "maxNodes"), scale["autoscale"].get("maxNodes", 0)
    if count > MAX_INTER_NODE_NODES:
        yield doc.diagnostic(where, f"{count} nodes in a pool with interNodeCommunication: Batch allows at most "
                             f"{MAX_INTER_NODE_NODES} ({INTER_NODE_POOL_SIZE})", code="azure-inter-node-size")
