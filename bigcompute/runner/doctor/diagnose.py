"""`bigcompute doctor`: every check in order, from "can the runner reach the account" to "why does this node take
no tasks". A check that cannot run because an earlier one failed is left out; everything else always runs, and
nothing here raises for what it finds: problems are findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from azure.batch import BatchClient
from azure.batch import models as batch
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.mgmt.batch import BatchManagementClient

from bigcompute.config import StackConfig
from bigcompute.runner.clients import Clients, RetrySettings, connect
from bigcompute.runner.doctor import access, account, pools, quotas
from bigcompute.runner.doctor.findings import FAIL, DoctorReport, Finding, fail, ok, warn
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import wire
from bigcompute.runner.plan import ACTIVE_STATES
from bigcompute.runner.target import Target, azure_target, local_target

# Few, quick retries: the doctor reports a service that does not answer rather than waiting minutes for it.
RETRY = RetrySettings(total=1, backoff_factor=0.2, backoff_max=2, connection_timeout=5, read_timeout=30)
STDERR_LINES = 10
STDERR_BYTES = 64 << 10
STARTUP, STDERR = "startup", "startup/stderr.txt"  # the start task's folder on a node, and its stderr
ManagementFactory = Callable[[TokenCredential, str], BatchManagementClient]  # (credential, subscription)


def diagnose(stack: StackConfig, target_kind: str, outputs: str | None = None,
             credential: TokenCredential | None = None,
             management: ManagementFactory = account.management_client) -> DoctorReport:
    found: list[Finding] = []
    target = _target(stack, target_kind, outputs, found)
    if target is not None:
        _checks(stack, target, credential, management, found)
    return DoctorReport(target_kind, stack.name, tuple(found))


def _target(stack: StackConfig, kind: str, outputs: str | None, found: list[Finding]) -> Target | None:
    try:
        target = azure_target(stack.name, outputs) if kind == "azure" else local_target()
    except DeployError as e:
        found.append(fail("stack outputs", str(e), "deploy the stack (`pulumi up`) or pass --outputs FILE")
                     if kind == "azure" else
                     fail("local target", str(e), f"`bigcompute local up --stack {stack.name}` rewrites its files"))
        return None
    if target is None:
        found.append(fail("local target", "not started (no .bigcompute/local/outputs.json)",
                          f"start it: `bigcompute local up --stack {stack.name}`"))
    return target


def _checks(stack: StackConfig, target: Target, credential: TokenCredential | None,
            management: ManagementFactory, found: list[Finding]) -> None:
    found += [access.reach_finding("Batch", target.batch_endpoint),
              access.reach_finding("storage", target.blob_endpoint)]
    if target.kind == "azure":
        from bigcompute.runner.credentials import azure_credential
        from bigcompute.runner.session import sign_in_failure

        credential = credential or azure_credential()
        found += access.credential_findings(credential, sign_in_failure)
    else:
        found.append(ok("credentials", "the local target's account keys (.bigcompute/local/credentials.json)"))
    if any(f.status == FAIL for f in found):
        return  # nothing below can answer
    clients = connect(target, RETRY, credential)
    try:
        _data_plane(stack, clients, credential, management, found)
    finally:
        clients.close()


def _data_plane(stack: StackConfig, clients: Clients, credential: TokenCredential | None,
                management: ManagementFactory, found: list[Finding]) -> None:
    target = clients.target
    found.append(access.read_probe(clients.container("inputs"), "inputs"))
    found.append(access.write_probe(clients.container("outputs"), "outputs"))
    try:
        live = {p.id.lower(): p for p in clients.batch.list_pools()}
        jobs = list(clients.batch.list_jobs(select=["id", "state", "poolInfo"]))
    except AzureError as e:
        found.append(access.service_failure("access: Batch account", e))
        return
    found.append(ok("access: Batch account", f"{len(live)} pool(s), {len(jobs)} job(s) in {target.batch_account}"))
    active = [j for j in jobs if wire(j.state) in ACTIVE_STATES]
    per_pool = Counter((j.pool_info.pool_id or "").lower() for j in active if j.pool_info)
    for cfg in stack.pools:
        pool_id = target.pool_ids.get(cfg.name, cfg.name)
        pool = live.get(pool_id.lower())
        found += pools.pool_findings(cfg.name, pool_id, pool, stack.name, per_pool[pool_id.lower()])
        if pool is not None:
            found += _nodes(clients.batch, cfg.name, pool.id, stack.name)
    job_quota = stack.batch.active_job_quota, "the stack's batch.activeJobQuota"
    if target.kind == "azure" and credential is not None:
        more, read = management_findings(stack, target, credential, management, len(live))
        found += more
        job_quota = read or job_quota
    found.append(quotas.job_quota_finding(len(active), *job_quota))


def _nodes(client: BatchClient, name: str, pool_id: str, stack: str) -> list[Finding]:
    try:
        nodes = list(client.list_nodes(pool_id, select=["id", "state", "startTaskInfo", "errors"]))
    except AzureError as e:
        return [access.service_failure(f"pool {name}: node health", e)]
    return pools.node_findings(name, pool_id, nodes, stack, lambda node: stderr_tail(client, pool_id, node))


def stderr_tail(client: BatchClient, pool_id: str, node: batch.BatchNode) -> str | None:
    """The start task's last stderr lines from the node, or None where the node (or the emulator) does not serve
    them; the node's startTaskInfo.failureInfo is quoted either way. Listed first: a failed listing raises cleanly,
    where a failed streamed download has the SDK log a traceback."""
    try:
        listed = client.list_node_files(pool_id, node.id, recursive=True, filter=f"startswith(name,'{STARTUP}')")
        size = next((f.properties.content_length for f in listed if f.name == STDERR and f.properties), None)
        if not size:
            return None
        data = b"".join(client.download_node_file(pool_id, node.id, STDERR,
                                                  ocp_range=f"bytes={max(size - STDERR_BYTES, 0)}-{size - 1}"))
    except AzureError:
        return None
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-STDERR_LINES:]) or None


def management_findings(stack: StackConfig, target: Target, credential: TokenCredential,
                        management: ManagementFactory, pools_in_account: int,
                        ) -> tuple[list[Finding], tuple[int, str] | None]:
    """Quota findings from the management plane, and the account's active-job quota when it could be read."""
    found: list[Finding] = []
    subscription = account.subscription_of(stack.subscription_id, target.identity_resource_id)
    if not subscription or not target.resource_group:
        found.append(warn("quota: Batch account", "the stack names no subscription, or its outputs no resourceGroup",
                          "set bigcompute:subscriptionId in the stack and redeploy, so quotas can be read"))
        return found, None
    try:
        client = management(credential, subscription)
        got, location = account.read_quotas(client, target.resource_group, target.batch_account)
        families = account.vm_families(client, location) if got.per_family_enforced else {}
    except HttpResponseError as e:
        found.append(warn("quota: Batch account", f"cannot read the account from Azure Resource Manager (HTTP "
                          f"{e.status_code} {e.error.code if e.error else ''})".rstrip(),
                          "give the signed-in identity Reader on the Batch account to see its quotas"))
        return found, None
    except AzureError as e:
        found.append(access.service_failure("quota: Batch account", e))
        return found, None
    needs = [quotas.pool_need(p) for p in stack.pools]
    found += quotas.quota_findings(got, needs, families, pools_in_account, stack.name)
    read = (got.active_jobs, "the account's activeJobAndJobScheduleQuota") if got.active_jobs is not None else None
    return found, read
