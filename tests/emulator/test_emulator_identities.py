"""Pool managed identities on local nodes: a task of a pool with user-assigned identities finds its node's IMDS
in AZURE_POD_IDENTITY_AUTHORITY_HOST, gets a token there for one of its pool's identities only (as Azure's IMDS
answers, https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token), and
Batch honours the token with the rights of the identity's role on the account (Azure Batch Job Submitter: jobs,
not pools; no role: nothing)."""

from __future__ import annotations

import json

import pytest
import requests
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError

from bigcompute.emulator.core.identities import IMDS_PATH
from bigcompute.local.testing import LOCAL_VM, make_job, unique, wait_for, wait_task

JOB_SUBMITTER = "48e5e92e-a480-4e71-aa9c-2778f4c13781"  # Azure Batch Job Submitter's role definition id
_UAI = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
TOKEN_PATH = "/metadata/identity/oauth2/token"

# Run by a task: a token from its node's IMDS for CLIENT_ID, then Batch calls with it.
_PROBE = """
import json, os, urllib.parse as p, urllib.request as u, urllib.error as e
base, job = os.environ['AZ_BATCH_ACCOUNT_URL'], os.environ['AZ_BATCH_JOB_ID']
query = p.urlencode({'api-version': '2018-02-01', 'resource': 'https://batch.core.windows.net/',
                     'client_id': os.environ['CLIENT_ID']})
def fetch(req):
    try:
        with u.urlopen(req) as r:
            return r.status, json.loads(r.read() or b'{}')
    except e.HTTPError as err:
        return err.code, json.loads(err.read() or b'{}')
status, body = fetch(u.Request(os.environ['AZURE_POD_IDENTITY_AUTHORITY_HOST'] + '/metadata/identity/oauth2/token?'
                               + query, headers={'Metadata': 'true'}))
out = {'imds': [status, body.get('error_description')]}
if status == 200:
    def call(method, path, data=None):
        req = u.Request(base + path + '?api-version=2025-06-01', data=data, method=method, headers={
            'Authorization': 'Bearer ' + body['access_token'], 'Content-Type': 'application/json; odata=minimalmetadata'})
        code, answer = fetch(req)
        return code if code < 400 else [code, answer.get('code')]
    pool = json.dumps({'id': 'nope', 'vmSize': 'standard_d2s_v3'}).encode()
    out.update(add=call('POST', '/jobs/' + job + '/tasks', json.dumps({'id': 'added', 'commandLine': 'true'}).encode()),
               pools=call('GET', '/pools'), create_pool=call('POST', '/pools', pool))
print(json.dumps(out))
"""


def identity_pool(client, *names: str) -> tuple[str, list[m.BatchUserAssignedIdentity]]:
    """A one-node pool carrying the named user-assigned identities (ARM sets them on Azure)."""
    pool_id = unique("pool")
    options = m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=1,
                                       task_slots_per_node=2, virtual_machine_configuration=LOCAL_VM)
    options["identity"] = {"type": "UserAssigned",
                           "userAssignedIdentities": [{"resourceId": _UAI + name} for name in names]}
    client.create_pool(options)
    wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady")
    return pool_id, client.get_pool(pool_id).identity.user_assigned_identities


@pytest.fixture(scope="module")
def pools(process_emulator):
    """Pool A with identity a (a Job Submitter), pool B with identity b, and identity c (no role) on pool A too."""
    client = process_emulator.client()
    name = unique("uai")
    a, a_ids = identity_pool(client, f"{name}-a", f"{name}-c")
    b, b_ids = identity_pool(client, f"{name}-b")
    process_emulator.state.identities.assign(_UAI + f"{name}-a", JOB_SUBMITTER)
    process_emulator.state.identities.assign(_UAI + f"{name}-b", JOB_SUBMITTER)
    return {"A": a, "B": b, "a": a_ids[0].client_id, "c": a_ids[1].client_id, "b": b_ids[0].client_id}


def probe(client, pool: str, client_id: str) -> dict:
    job_id = make_job(client, pool)
    client.create_task(job_id, m.BatchTaskCreateOptions(
        id="probe", command_line="""python3 -c "import os; exec(os.environ['PROBE'])" """,
        environment_settings=[m.EnvironmentSetting(name="PROBE", value=_PROBE),
                              m.EnvironmentSetting(name="CLIENT_ID", value=client_id)]))
    task = wait_task(client, job_id, "probe", timeout=30)
    out = b"".join(client.download_task_file(job_id, "probe", "stdout.txt")).decode()
    assert task.execution_info.exit_code == 0, out
    return json.loads(out) | {"job": job_id}


def test_a_token_for_the_pools_identity_carries_its_roles_rights(process_batch, pools) -> None:
    seen = probe(process_batch, pools["A"], pools["a"])
    assert seen["imds"] == [200, None]
    # Job Submitter: tasks of jobs and reading pools; creating a pool is Batch's 403 for a missing data action
    assert (seen["add"], seen["pools"], seen["create_pool"]) == (201, 200, [403, "AuthorizationFailure"])
    assert wait_task(process_batch, seen["job"], "added").execution_info.result == "success"


def test_a_token_for_another_pools_identity_is_refused(process_batch, pools) -> None:
    seen = probe(process_batch, pools["A"], pools["b"])
    assert seen["imds"] == [400, "Identity not found"]


def test_an_identity_without_a_role_gets_a_token_that_batch_refuses(process_batch, pools) -> None:
    seen = probe(process_batch, pools["A"], pools["c"])
    assert seen["imds"] == [200, None]
    assert (seen["add"], seen["pools"]) == ([403, "AuthorizationFailure"], [403, "AuthorizationFailure"])


def test_imds_answers_only_with_the_metadata_header_and_a_nodes_key(process_emulator, pools) -> None:
    identities = process_emulator.state.identities
    node = f"{process_emulator.url}{IMDS_PATH}/{identities.node_key(pools['A'], 'tvmps_1')}{TOKEN_PATH}"
    query = {"api-version": "2018-02-01", "resource": "https://batch.core.windows.net/", "client_id": pools["a"]}
    bare = requests.get(node, params=query, timeout=10)
    assert (bare.status_code, bare.json()["error_description"]) == (400, "Required metadata header not specified")
    forged = node.replace(identities.node_key(pools["A"], "tvmps_1"), identities.node_key(pools["A"], "x")[:-4] + "0000")
    assert requests.get(forged, params=query, headers={"Metadata": "true"}, timeout=10).status_code == 404
    good = requests.get(node, params=query, headers={"Metadata": "true"}, timeout=10)
    assert good.status_code == 200 and good.json()["client_id"] == pools["a"]
    assert good.json()["resource"] == "https://batch.core.windows.net/" and good.json()["token_type"] == "Bearer"


def test_a_task_of_a_pool_without_identities_has_no_imds(process_batch) -> None:
    pool = unique("pool")
    process_batch.create_pool(m.BatchPoolCreateOptions(id=pool, vm_size="standard_d2s_v3", target_dedicated_nodes=1,
                                                       virtual_machine_configuration=LOCAL_VM))
    job_id = make_job(process_batch, pool)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="env", command_line="""python3 -c "import os; print('AZURE_POD_IDENTITY_AUTHORITY_HOST' in os.environ)" """))
    wait_task(process_batch, job_id, "env", timeout=30)
    assert b"".join(process_batch.download_task_file(job_id, "env", "stdout.txt")).decode().strip() == "False"


def test_a_pool_identity_that_is_not_a_user_assigned_identity_is_refused(batch) -> None:
    options = m.BatchPoolCreateOptions(id=unique("pool"), vm_size="standard_d2s_v3", target_dedicated_nodes=0,
                                       virtual_machine_configuration=LOCAL_VM)
    options["identity"] = {"type": "UserAssigned", "userAssignedIdentities": [{"resourceId": "/subscriptions/0/x"}]}
    with pytest.raises(HttpResponseError) as info:
        batch.create_pool(options)
    assert info.value.error.code == "InvalidPropertyValue"
