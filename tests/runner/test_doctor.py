"""`bigcompute doctor`: each check against what really produces its condition. The local target (Azurite and the
emulator) fails start tasks, autoscale formulas and storage permissions; conditions the emulator cannot produce
(resize errors, unusable nodes) come as the Batch SDK's own models, deserialized from Batch-shaped JSON; the Batch
account's quotas come from the official ARM examples, served to the real azure-mgmt-batch client."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from azure.batch import models as m
from azure.core.credentials import AccessToken, AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ChainedTokenCredential, CredentialUnavailableError
from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.config import load_stack
from bigcompute.local.azurite import DEV_ACCOUNT, DEV_KEY
from bigcompute.local.testing import signed
from bigcompute.runner.doctor import FAIL, OK, WARN, access, account, diagnose, pools, quotas
from bigcompute.runner.doctor.diagnose import management_findings
from bigcompute.runner.jobs import wire
from bigcompute.runner.plan import ACTIVE_STATES
from bigcompute.runner.target import Target
from tests.conftest import ACCOUNT, transport
from tests.runner.conftest import TENANT, EntraCredential, write_local_files

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "tests/data/specs/batch/resource-manager/Microsoft.Batch/stable/2024-07-01/examples"
IMAGE = m.VirtualMachineConfiguration(
    image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
    node_agent_sku_id="batch.node.ubuntu 24.04")


def by_check(report) -> dict[str, object]:
    return {f.check: f for f in report.findings}


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def on_pool(repo: Path, target: Target, pool_id: str) -> Target:
    """The target with the stack's pool `cpu` deployed as `pool_id`, written where the doctor looks for it."""
    moved = replace(target, pool_ids={"cpu": pool_id})
    write_local_files(repo, moved)
    return moved


def new_pool(emulator, **options) -> str:
    pool_id = f"doctor-{uuid.uuid4().hex[:6]}"
    emulator.client().create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v5",
                                                           virtual_machine_configuration=IMAGE, **options))
    return pool_id


# --- on the local target ---------------------------------------------------------------------------------------

def test_a_healthy_pool_is_all_ok_and_the_write_probe_leaves_nothing(repo, emulator, instant_target, azurite):
    target = on_pool(repo, instant_target, new_pool(emulator, target_dedicated_nodes=1))
    wait_for(lambda: [n for n in emulator.client().list_nodes(target.pool_ids["cpu"]) if n.state == "idle"])
    # every job that holds a quota slot (active, disabling, disabled, terminating), as the doctor counts them
    active = lambda: {j.id for j in emulator.client().list_jobs() if wire(j.state) in ACTIVE_STATES}  # noqa: E731
    # The emulator is shared with this worker's other tests: their jobs may end meanwhile, and job schedules they
    # left create runs; the doctor's count lies between the jobs active throughout and those active at either end.
    before = active()
    report = diagnose(load_stack("test"), "local")
    after = active()
    assert report.status == OK, [f for f in report.findings if f.status != OK]
    found = by_check(report)
    assert {"reach: Batch", "reach: storage", "credentials", "storage roles: inputs (read)",
            "storage roles: outputs (write, delete)", "access: Batch account", "pool cpu: nodes",
            "pool cpu: node health", "quota: active jobs"} <= set(found)
    assert found["pool cpu: node health"].detail == "idle 1"
    assert found["pool cpu: nodes"].detail == "steady; dedicated 1/1, spot 0/0 (current/target)"
    counted = re.fullmatch(r"(\d+) active job\(s\) of a quota of 500 \(the stack's batch.activeJobQuota\); (\d+) left",
                           found["quota: active jobs"].detail)
    assert counted, found["quota: active jobs"].detail
    assert len(before & after) <= int(counted[1]) <= len(before | after)
    assert int(counted[1]) + int(counted[2]) == 500
    outputs = azurite.service().get_container_client(target.containers["outputs"])
    assert not list(outputs.list_blobs(name_starts_with=access.PROBE_PREFIX))


def test_nodes_whose_start_task_failed_are_named_with_the_failure_and_exit_3(repo, emulator, instant_target):
    start = m.BatchStartTask(command_line="/bin/sh -c 'apt-get install -y nothing; exit 3'", wait_for_success=True)
    pool_id = new_pool(emulator, target_dedicated_nodes=2, start_task=start)
    on_pool(repo, instant_target, pool_id)
    wait_for(lambda: [n.state for n in emulator.client().list_nodes(pool_id)] == ["starttaskfailed"] * 2)

    found = by_check(diagnose(load_stack("test"), "local"))
    failed = found["pool cpu: node health (starttaskfailed)"]
    assert failed.status == FAIL
    lines = failed.detail.splitlines()
    assert lines[0] == "2 node(s) starttaskfailed:"
    # the instant executor writes no stderr, so the node's failureInfo is what is quoted (the process emulator's
    # start task stderr is quoted in test_a_failed_start_task_is_quoted_from_the_nodes_stderr)
    assert all(line.endswith(": start task failed, exit code 3, FailureExitCode: The task exited with an exit code "
                             "representing a failure") for line in lines[1:]), lines
    assert "fix the pool's startTask in stacks/Pulumi.test.yaml" in failed.action

    result = CliRunner().invoke(cli, ["doctor", "--stack", "test"], catch_exceptions=False)
    assert result.exit_code == 3, result.output
    assert "FAIL  pool cpu: node health (starttaskfailed): 2 node(s) starttaskfailed:\n" in result.output
    assert "      → nodes whose start task failed take no tasks" in result.output


def test_an_autoscale_formula_that_fails_and_the_jobs_waiting_for_it(repo, emulator, instant_target):
    pool_id = new_pool(emulator, enable_auto_scale=True, auto_scale_formula="a = 0; $TargetDedicatedNodes = 1 / a;",
                       auto_scale_evaluation_interval=dt.timedelta(minutes=5))
    on_pool(repo, instant_target, pool_id)
    emulator.client().create_job(m.BatchJobCreateOptions(id=f"waits-{uuid.uuid4().hex[:6]}",
                                                         pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    wait_for(lambda: emulator.client().get_pool(pool_id).auto_scale_run)

    found = by_check(diagnose(load_stack("test"), "local"))
    scale = found["pool cpu: autoscale"]
    assert scale.status == FAIL
    assert "failed: AutoScalingFormulaEvaluationError: Autoscale evaluation failed (Message: Line 1, Col 8: " \
           "$TargetDedicatedNodes evaluated to Infinity" in scale.detail
    assert "bigcompute autoscale simulate --stack test" in scale.action
    nodes = found["pool cpu: nodes"]
    assert nodes.status == WARN and nodes.detail.endswith("while 1 active job(s) wait for it")
    assert "autoscale formula asks for 0 nodes" in nodes.action


def test_a_missing_pool_and_a_missing_container_are_named(repo, emulator, instant_target):
    write_local_files(repo, replace(instant_target, pool_ids={"cpu": "never-deployed"},
                                    containers={**instant_target.containers, "inputs": "no-such-container"}))
    found = by_check(diagnose(load_stack("test"), "local"))
    assert found["pool cpu"].status == FAIL
    assert found["pool cpu"].detail == "pool 'never-deployed' does not exist in the Batch account"
    assert found["storage roles: inputs (read)"].detail == "container no-such-container does not exist"
    assert found["storage roles: outputs (write, delete)"].status == OK


def test_a_runner_without_write_access_to_outputs_is_told_which_role_the_stack_grants(instant_target, azurite):
    """A read-only SAS makes Azurite answer as Azure does for a missing role: 403 AuthorizationPermissionMismatch."""
    name = instant_target.containers["outputs"]
    sas = generate_container_sas(DEV_ACCOUNT, name, account_key=DEV_KEY,
                                 permission=ContainerSasPermissions(read=True, list=True),
                                 expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    container = ContainerClient(azurite.blob_endpoint, name, credential=sas, retry_total=0)
    assert access.read_probe(container, "outputs").status == OK
    found = access.write_probe(container, "outputs")
    assert found.status == FAIL
    assert found.detail == (f"HTTP 403 AuthorizationPermissionMismatch on container {name}: the signed-in identity "
                            "lacks Storage Blob Data Contributor there")
    assert "grants Storage Blob Data Contributor" in found.action and "batch.runnerPrincipalId" in found.action
    assert "az login" not in found.action


def test_the_cli_reports_json_and_exits_0_on_a_healthy_target(repo, emulator, instant_target):
    target = on_pool(repo, instant_target, new_pool(emulator, target_dedicated_nodes=1))
    wait_for(lambda: [n for n in emulator.client().list_nodes(target.pool_ids["cpu"]) if n.state == "idle"])
    result = CliRunner().invoke(cli, ["doctor", "--stack", "test", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["target"], body["stack"], body["status"]) == ("local", "test", "ok")
    assert all(set(f) == {"check", "status", "detail", "action"} for f in body["findings"])


def test_a_stopped_target_is_reported_as_unreachable_and_nothing_else_is_tried(repo, instant_target):
    import socket

    with socket.socket() as a, socket.socket() as b:  # two ports nothing listens on
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        batch_url, blob_url = (f"http://127.0.0.1:{s.getsockname()[1]}" for s in (a, b))
    write_local_files(repo, replace(instant_target, batch_endpoint=batch_url, blob_endpoint=f"{blob_url}/devstoreaccount1"))
    report = diagnose(load_stack("test"), "local")
    assert [(f.check, f.status) for f in report.findings] == [
        ("reach: Batch", FAIL), ("reach: storage", FAIL), ("credentials", OK)]
    assert {f.action for f in report.findings if f.status == FAIL} == {"start the local target: `bigcompute local up`"}


def test_broken_local_credentials_are_a_finding_with_the_fix(repo, instant_target):
    folder = write_local_files(repo, instant_target)
    (folder / "credentials.json").write_text(json.dumps({"batchAccountKey": "not base64!", "storageAccountKey": "x"}))
    [found] = diagnose(load_stack("test"), "local").findings
    assert (found.check, found.status) == ("local target", FAIL)
    assert "batchAccountKey is not a base64 account key" in found.detail
    assert found.action == "`bigcompute local up --stack test` rewrites its files"
    assert "not base64!" not in found.detail


# --- reachability and credentials ------------------------------------------------------------------------------

def test_an_endpoint_that_does_not_resolve_or_answer(emulator):
    dns = access.reach_finding("Batch", "https://bcnothere.invalid")
    assert dns.status == FAIL and dns.detail.startswith("bcnothere.invalid does not resolve")
    assert "privatelink zone" in dns.action
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = access.reach_finding("storage", f"http://127.0.0.1:{port}/devstoreaccount1")
    assert closed.status == FAIL and f"port {port} does not answer" in closed.detail
    assert closed.action == "start the local target: `bigcompute local up`"


def _jwt(claims: dict) -> str:
    import base64

    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{part}.c2lnbmF0dXJl"


class SignedIn:
    def __init__(self) -> None:
        self.token = _jwt({"upn": "ops@example.com", "oid": "0b1c", "tid": "7e57"})

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


class NoSession:
    """Like AzureCliCredential without `az login`: unavailable, so the chain tries the next credential."""

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        raise CredentialUnavailableError("Please run 'az login' to set up an account")


class Expired:
    def get_token(self, *scopes, **kwargs) -> AccessToken:
        raise ClientAuthenticationError("AADSTS700024: Client assertion is not within its valid time range.")


def test_credentials_name_the_credential_and_identity_never_the_token():
    from bigcompute.runner.session import sign_in_failure

    signed = SignedIn()
    found = access.credential_findings(ChainedTokenCredential(NoSession(), signed), sign_in_failure)
    assert [f.check for f in found] == ["credentials: Batch token", "credentials: Storage token",
                                        "credentials: Azure Resource Manager token"]
    assert {f.detail for f in found} == {"from SignedIn, as ops@example.com (object id 0b1c, tenant 7e57)"}
    assert all(signed.token not in f.detail + f.action for f in found)

    refused = access.credential_findings(ChainedTokenCredential(NoSession(), Expired()), sign_in_failure)
    assert {f.status for f in refused} == {FAIL}
    assert refused[0].detail == "no token for https://batch.core.windows.net//.default"
    assert "AADSTS700024" in refused[0].action and "az login" in refused[0].action


def test_a_batch_403_from_a_network_rule_is_a_network_finding():
    from azure.batch import BatchClient

    body = {"code": "Forbidden", "message": {"lang": "en-US", "value": "This request is not authorized to perform "
                                                                      "this operation from IP address 203.0.113.9."}}
    http, _ = transport({("GET", "/pools"): (403, body)})
    client = BatchClient("https://acct.westeurope.batch.azure.com", AzureNamedKeyCredential("acct", DEV_KEY),
                         transport=http, retry_total=0)
    with pytest.raises(Exception) as caught:
        list(client.list_pools())
    found = access.service_failure("access: Batch account", caught.value)
    assert found.detail == "HTTP 403 Forbidden: refused by the network rules"
    assert "203.0.113.9" in found.action and "batch.runnerAccess" in found.action and "az login" not in found.action


def test_the_start_tasks_stderr_tail_is_read_from_the_node_when_it_serves_it():
    from azure.batch import BatchClient

    from bigcompute.runner.doctor.diagnose import stderr_tail

    stderr = b"".join(b"line %d\n" % i for i in range(20000)) + b"E: Unable to locate package pythn3-numpy\n"
    files = {"value": [{"name": "startup/stdout.txt", "isDirectory": False, "properties": {"contentLength": 10}},
                       {"name": "startup/stderr.txt", "isDirectory": False,
                        "properties": {"contentLength": len(stderr)}}]}
    size, base = len(stderr), "/pools/cpu/nodes/tvm-1/files"
    http, adapter = transport({("GET", base): (200, files),
                               ("GET", f"{base}/startup/stderr.txt"): (200, stderr[size - 64 * 1024:])})
    client = BatchClient("https://acct.westeurope.batch.azure.com", AzureNamedKeyCredential("acct", DEV_KEY),
                         transport=http, retry_total=0)
    tail = stderr_tail(client, "cpu", m.BatchNode({"id": "tvm-1", "state": "starttaskfailed"}))
    assert tail.splitlines() == [f"line {i}" for i in range(19991, 20000)] + [
        "E: Unable to locate package pythn3-numpy"]
    listing, download = adapter.asked
    assert "recursive=true" in listing.url and "startswith" in listing.url
    assert download.headers["ocp-range"] == f"bytes={size - 64 * 1024}-{size - 1}"  # only the last 64 KiB


# --- the management plane: recorded from the official ARM examples ---------------------------------------------

def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


ACCOUNT_PATH = ("/subscriptions/subid/resourceGroups/default-azurebatch-japaneast/providers/Microsoft.Batch/"
                "batchAccounts/sampleacct")
SKUS_PATH = "/subscriptions/subid/providers/Microsoft.Batch/locations/japaneast/virtualMachineSkus"


def management(answers, subscription: str = "subid"):
    http, adapter = transport(answers)
    return account.management_client(SignedIn(), subscription, transport=http, retry_total=0), adapter


def test_the_account_example_is_read_through_azure_mgmt_batch():
    get = example("BatchAccountGet.json")
    assert get["parameters"]["api-version"] == account.API_VERSION
    client, adapter = management({("GET", ACCOUNT_PATH): (200, get["responses"]["200"]["body"])})
    got, location = account.read_quotas(client, "default-azurebatch-japaneast", "sampleacct")
    assert adapter.asked[0].url.endswith(f"{ACCOUNT_PATH}?api-version=2024-07-01")
    assert adapter.asked[0].headers["Authorization"].startswith("Bearer ")
    assert location == "japaneast"
    assert got == quotas.AccountQuotas(dedicated=20, spot=20, per_family={}, per_family_enforced=False, pools=20,
                                       active_jobs=20)


def test_prod_pools_outgrow_the_example_accounts_quotas():
    """The example account has 20 dedicated vCPUs; prod's cpu pool alone may ask for 40 x 16."""
    stack = load_stack("prod", REPO)
    got, _ = account.read_quotas(management({("GET", ACCOUNT_PATH): (
        200, example("BatchAccountGet.json")["responses"]["200"]["body"])})[0], "default-azurebatch-japaneast",
        "sampleacct")
    needs = [quotas.pool_need(p) for p in stack.pools]
    assert [(n.name, n.dedicated, n.spot) for n in needs] == [("cpu", 640, 0), ("render", 640, 0), ("mpi", 128, 0)]
    found = by_check_list(quotas.quota_findings(got, needs, {}, pools_in_account=2, stack="prod"))
    total = found["quota: dedicated vCPU quota"]
    assert total.status == FAIL
    assert total.detail == "pools may ask for 1408 vCPUs (cpu 640 + render 640 + mpi 128) of a quota of 20"
    assert "Request quota increase" in total.action and "stacks/Pulumi.prod.yaml" in total.action
    assert found["quota: spot vCPU quota"].detail == "pools may ask for 0 vCPUs (no pool) of a quota of 20"
    assert found["quota: pools"].status == OK


def by_check_list(findings) -> dict[str, object]:
    return {f.check: f for f in findings}


def test_per_family_quotas_when_the_account_enforces_them():
    """The example account, with per-family enforcement on (its 2024-07-01 schema's fields), and the example SKU
    list with the two sizes of the dev stack added in the example's shape."""
    body = example("BatchAccountGet.json")["responses"]["200"]["body"]
    body["properties"] |= {"dedicatedCoreQuotaPerVMFamilyEnforced": True, "dedicatedCoreQuotaPerVMFamily": [
        {"name": "standardDSv5Family", "coreQuota": 4}, {"name": "standardDFamily", "coreQuota": 100}]}
    skus = example("LocationListVirtualMachineSkus.json")["responses"]["200"]["body"]
    skus["value"] += [{"name": "Standard_D2s_v5", "familyName": "standardDSv5Family"},
                      {"name": "Standard_F4s_v2", "familyName": "standardFSv2Family"}]
    client, _ = management({("GET", ACCOUNT_PATH): (200, body), ("GET", SKUS_PATH): (200, skus)})
    got, location = account.read_quotas(client, "default-azurebatch-japaneast", "sampleacct")
    families = account.vm_families(client, location)
    assert families["standard_d1_v2"] == "standardDFamily" and families["standard_d2s_v5"] == "standardDSv5Family"
    stack = load_stack("dev", REPO)
    needs = [quotas.pool_need(p) for p in stack.pools]
    assert [(n.name, n.dedicated, n.spot) for n in needs] == [("cpu", 8, 8), ("render", 0, 4), ("mpi", 6, 0)]
    found = by_check_list(quotas.quota_findings(got, needs, families, pools_in_account=2, stack="dev"))
    family = found["quota: standardDSv5Family vCPU quota"]
    assert family.status == FAIL and family.detail == "pools may ask for 14 vCPUs (cpu 8 + mpi 6) of a quota of 4"
    assert found["quota: dedicated vCPU quota"].status == OK
    assert found["quota: spot vCPU quota"].detail == "pools may ask for 12 vCPUs (cpu 8 + render 4) of a quota of 20"
    assert "quota: standardFSv2Family vCPU quota" not in found  # render asks for no dedicated node


def test_an_identity_that_cannot_read_the_account_gets_a_warning_not_a_crash():
    denied = {"error": {"code": "AuthorizationFailed", "message": "The client 'ops' does not have authorization."}}
    client, _ = management({("GET", ACCOUNT_PATH): (403, denied)})
    stack = replace(load_stack("prod", REPO), subscription_id="subid")
    target = Target("azure", "prod", "https://sampleacct.japaneast.batch.azure.com", "sampleacct", "https://st",
                    "st", {}, {}, None, resource_group="default-azurebatch-japaneast")
    found, job_quota = management_findings(stack, target, SignedIn(), lambda cred, sub: client, 2)
    assert job_quota is None
    assert [(f.check, f.status) for f in found] == [("quota: Batch account", WARN)]
    assert found[0].detail == "cannot read the account from Azure Resource Manager (HTTP 403 AuthorizationFailed)"
    assert "Reader on the Batch account" in found[0].action


def test_the_azure_target_end_to_end_with_tokens_over_https(repo, azure_like, https_azurite, signing_key):
    """The azure path as a whole: the emulator and Azurite over HTTPS, verifying Entra ID tokens; the account's
    quotas from the ARM example (its path rewritten to this stack's subscription, group and account)."""
    from azure.batch import BatchClient

    credential = EntraCredential(signing_key)
    containers = {"inputs": "inputs", "outputs": "outputs"}
    blob = azure_blob(https_azurite, credential)
    for name in containers.values():
        if not blob.get_container_client(name).exists():
            blob.create_container(name)
    BatchClient(azure_like.url, credential).create_pool(m.BatchPoolCreateOptions(
        id="cpu", vm_size="standard_d2s_v5", target_dedicated_nodes=1, virtual_machine_configuration=IMAGE))
    identity = "/subscriptions/sub-0/resourceGroups/rg-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities/p"
    (repo / "outputs.json").write_text(json.dumps({
        "resourceGroup": "rg-test", "batchAccountName": ACCOUNT, "batchAccountEndpoint": azure_like.url,
        "storageAccountName": DEV_ACCOUNT, "blobEndpoint": https_azurite, "containers": containers,
        "poolIds": {"cpu": "cpu"}, "identityResourceId": identity}))
    body = example("BatchAccountGet.json")["responses"]["200"]["body"]
    arm, adapter = management({("GET", f"/subscriptions/sub-0/resourceGroups/rg-test/providers/Microsoft.Batch/"
                                     f"batchAccounts/{ACCOUNT}"): (200, body)}, "sub-0")

    report = diagnose(load_stack("test"), "azure", "outputs.json", credential=credential,
                      management=lambda cred, subscription: arm if (cred, subscription) == (credential, "sub-0")
                      else pytest.fail(f"management client for {subscription}"))
    assert report.status == OK, [f for f in report.findings if f.status != OK]
    found = by_check(report)
    assert found["credentials: Batch token"].detail.startswith("from EntraCredential (object id ")
    assert f"tenant {TENANT}" in found["credentials: Storage token"].detail
    assert found["storage roles: outputs (write, delete)"].status == OK
    assert found["quota: dedicated vCPU quota"].detail == "pools may ask for 2 vCPUs (cpu 2) of a quota of 20"
    assert found["quota: pools"].detail == "1 pool(s) in the account of a quota of 20"
    assert found["quota: active jobs"].detail == ("0 active job(s) of a quota of 20 (the account's "
                                                  "activeJobAndJobScheduleQuota); 20 left")
    assert "https://management.azure.com/.default" in credential.scopes
    assert adapter.asked[0].headers["Authorization"] == "Bearer " + SignedIn().token  # the factory's own credential
    assert not any(t in json.dumps(report.as_json()) for t in (SignedIn().token, "Bearer"))


def azure_blob(url: str, credential):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(url, credential=credential)


def test_pools_whose_size_cannot_be_bounded_are_said_to_be_unchecked():
    from bigcompute.config import AutoScale

    cpu = load_stack("dev", REPO).pools[0]
    formula = quotas.pool_need(replace(cpu, scale=AutoScale(formula="$TargetDedicatedNodes = $PendingTasks.GetSample(1);")))
    unknown = quotas.pool_need(replace(cpu, vm_size="Standard_Z9_v9"))
    got = quotas.AccountQuotas(dedicated=20, spot=20, per_family={}, per_family_enforced=False, pools=20, active_jobs=20)
    found = quotas.quota_findings(got, [formula, unknown], {}, 1, "dev")
    assert [(f.check, f.status, f.detail) for f in found[:2]] == [
        ("quota: pool cpu", WARN, "its autoscale formula is hand-written: its largest size is unknown"),
        ("quota: pool cpu", WARN, "vmSize Standard_Z9_v9 is not in bigcompute's vCPU table")]
    assert found[2].detail == "pools may ask for 0 vCPUs (no pool) of a quota of 20"


def test_active_job_headroom():
    assert quotas.job_quota_finding(20, 20, "q").status == FAIL
    assert quotas.job_quota_finding(19, 20, "q").status == WARN
    assert quotas.job_quota_finding(3, 20, "q").status == OK


# --- what the emulator cannot produce yet: Batch's own models, from Batch-shaped JSON --------------------------

def pool(**wire) -> m.BatchPool:
    return m.BatchPool({"id": "cpu", "allocationState": "steady", "currentDedicatedNodes": 0,
                        "targetDedicatedNodes": 0, **wire})


def test_resize_errors_say_quota_or_capacity():
    got = pool(targetDedicatedNodes=40, resizeErrors=[
        {"code": "AccountCoreQuotaReached", "message": "The specified account has reached core quota",
         "values": [{"name": "Reason", "value": "Required 640, available 20"}]},
        {"code": "AllocationFailed", "message": "Desired number of nodes could not be allocated"}])
    found = pools.pool_findings("cpu", "cpu", got, "prod")
    resize = [f for f in found if f.check == "pool cpu: resize"]
    assert [f.detail for f in resize] == [
        "AccountCoreQuotaReached: The specified account has reached core quota (Reason: Required 640, available 20)",
        "AllocationFailed: Desired number of nodes could not be allocated"]
    assert "request an increase" in resize[0].action and "stacks/Pulumi.prod.yaml" in resize[0].action
    assert "no capacity for this size" in resize[1].action
    short = next(f for f in found if f.check == "pool cpu: nodes")
    assert short.status == WARN and short.detail == "steady; dedicated 0/40, spot 0/0 (current/target)"


def test_unusable_nodes_quote_their_errors_and_count_the_rest():
    nodes = [m.BatchNode({"id": f"tvm-{i}", "state": "unusable", "errors": [
        {"code": "NodeManagementConnectivityError", "message": "The node cannot reach Batch node management",
         "errorDetails": [{"name": "Endpoint", "value": "privatelink.batch.azure.com"}]}]}) for i in range(5)]
    nodes.append(m.BatchNode({"id": "tvm-ok", "state": "idle"}))
    [found] = pools.node_findings("cpu", "cpu", nodes, "prod", lambda node: None)
    assert found.status == FAIL and found.check == "pool cpu: node health (unusable)"
    assert found.detail.splitlines() == ["5 node(s) unusable:"] + [
        f"node tvm-{i}: unusable (NodeManagementConnectivityError: The node cannot reach Batch node management "
        "(Endpoint: privatelink.batch.azure.com))" for i in range(3)] + ["(and 2 more)"]
    assert "node management" in found.action and "DNS zone" in found.action


def test_a_start_task_failure_quotes_the_stderr_tail_when_the_node_serves_it():
    node = m.BatchNode({"id": "tvm-1", "state": "starttaskfailed", "startTaskInfo": {
        "state": "completed", "startTime": "2026-12-07T06:00:00Z", "retryCount": 0, "exitCode": 100,
        "result": "failure", "failureInfo": {"category": "usererror", "code": "FailureExitCode",
                                             "message": "The task exited with an exit code representing a failure"}}})
    tails = {"tvm-1": "Reading package lists...\nE: Unable to locate package pythn3-numpy"}
    [found] = pools.node_findings("cpu", "cpu", [node], "dev", lambda n: tails[n.id])
    assert found.detail.splitlines() == [
        "1 node(s) starttaskfailed:",
        "node tvm-1: start task failed, exit code 100, FailureExitCode: The task exited with an exit code "
        "representing a failure",
        "  stderr (startup/stderr.txt, last lines):",
        "    Reading package lists...",
        "    E: Unable to locate package pythn3-numpy"]


# --- conditions the emulator produces on request (its control routes), met as on Azure -------------------------

def _ask(emulator, path: str, error: dict) -> None:
    resp = signed(emulator, "POST", f"/_emulator{path}", "api-version=2025-06-01", json.dumps(error).encode())
    assert resp.status_code == 204, resp.text


def test_a_failed_start_task_is_quoted_from_the_nodes_stderr(repo, process_emulator, local_target):
    start = m.BatchStartTask(command_line="/bin/sh -c 'echo Reading package lists...; "
                                          "echo E: Unable to locate package pythn3-numpy >&2; exit 100'",
                             wait_for_success=True)
    pool_id = new_pool(process_emulator, target_dedicated_nodes=1, start_task=start)
    on_pool(repo, local_target, pool_id)
    wait_for(lambda: [n.state for n in process_emulator.client().list_nodes(pool_id)] == ["starttaskfailed"])
    failed = by_check(diagnose(load_stack("test"), "local"))["pool cpu: node health (starttaskfailed)"]
    lines = failed.detail.splitlines()
    assert lines[1].endswith(": start task failed, exit code 100, FailureExitCode: The task exited with an exit "
                             "code representing a failure"), lines
    assert lines[2:] == ["  stderr (startup/stderr.txt, last lines):", "    E: Unable to locate package pythn3-numpy"]


def test_a_resize_error_the_emulator_was_asked_for(repo, emulator, instant_target):
    pool_id = new_pool(emulator, target_dedicated_nodes=0)
    on_pool(repo, instant_target, pool_id)
    wait_for(lambda: emulator.client().get_pool(pool_id).allocation_state == "steady")  # resizable once steady
    _ask(emulator, f"/pools/{pool_id}/resizeerror", {
        "code": "AccountCoreQuotaReached", "message": "The specified account has reached core quota",
        "values": [{"name": "Reason", "value": "Required 640, available 20"}]})
    emulator.client().begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=40),
                                        polling_interval=0).result()
    found = [f for f in diagnose(load_stack("test"), "local").findings if f.check == "pool cpu: resize"]
    assert [f.detail for f in found] == [
        "AccountCoreQuotaReached: The specified account has reached core quota (Reason: Required 640, available 20)"]
    assert "request an increase" in found[0].action


def test_an_unusable_node_the_emulator_was_asked_for(repo, emulator, instant_target):
    pool_id = new_pool(emulator, target_dedicated_nodes=2)
    on_pool(repo, instant_target, pool_id)
    node = wait_for(lambda: next(iter(emulator.client().list_nodes(pool_id)), None))
    _ask(emulator, f"/pools/{pool_id}/nodes/{node.id}/unusable", {
        "code": "NodeManagementConnectivityError", "message": "The node cannot reach Batch node management",
        "errorDetails": [{"name": "Endpoint", "value": "privatelink.batch.azure.com"}]})
    found = by_check(diagnose(load_stack("test"), "local"))["pool cpu: node health (unusable)"]
    assert found.status == FAIL
    assert found.detail.splitlines() == ["1 node(s) unusable:", f"node {node.id}: unusable (NodeManagementConnectivity"
                                         "Error: The node cannot reach Batch node management (Endpoint: "
                                         "privatelink.batch.azure.com))"]


def test_a_node_unusable_because_its_mount_is_not_local_names_the_mount(repo, emulator, instant_target):
    """A pool with a mount is accepted; its nodes cannot mount locally (emulator compute/node_setup.py), and the
    doctor quotes the node error that says so."""
    mount = m.MountConfiguration(nfs_mount_configuration=m.NfsMountConfiguration(
        source="10.0.0.4:/exports/ref", relative_mount_path="ref"))
    pool_id = new_pool(emulator, target_dedicated_nodes=1, mount_configuration=[mount])
    on_pool(repo, instant_target, pool_id)
    wait_for(lambda: [n.state for n in emulator.client().list_nodes(pool_id)] == ["unusable"])
    found = by_check(diagnose(load_stack("test"), "local"))["pool cpu: node health (unusable)"]
    assert found.status == FAIL
    assert "MountConfigurationError" in found.detail and "NFS mount 'ref' is not supported by the local target" \
        in found.detail and "MountConfigurationPath: ref" in found.detail
