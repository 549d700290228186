"""Job manager tasks and job-scoped authentication tokens through the real SDK: the manager is a task of its
job queued first, killJobOnCompletion (default true) ends the job with it, runExclusive keeps its node to
itself, and `authenticationTokenSettings: {access: [job]}` gives a task AZ_BATCH_AUTHENTICATION_TOKEN, which
the emulator accepts as a bearer token for that job's operations only."""

from __future__ import annotations

import json

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError

from bigcompute.local.testing import make_job, make_pool, signed, unique, wait_for, wait_task

TOKEN = {"access": ["job"]}  # not in azure-batch 15.x's models (retired on Azure): sent as a raw property
# Calls the emulator with the task's token: its own job, a task added to it, another job, the pool list.
_PROBE = """
import json, os, urllib.request as u, urllib.error as e
base, tok, job = os.environ['AZ_BATCH_ACCOUNT_URL'], os.environ['AZ_BATCH_AUTHENTICATION_TOKEN'], os.environ['AZ_BATCH_JOB_ID']
def call(method, path, body=None):
    headers = {'Authorization': 'Bearer ' + tok, 'Content-Type': 'application/json; odata=minimalmetadata'}
    req = u.Request(base + path + '?api-version=2024-07-01.20.0', data=body, method=method, headers=headers)
    try:
        return u.urlopen(req).status
    except e.HTTPError as err:
        return [err.code, json.loads(err.read())['code']]
added = json.dumps({'id': 'added', 'commandLine': 'true'}).encode()
print(json.dumps({'own': call('GET', '/jobs/' + job), 'add': call('POST', '/jobs/' + job + '/tasks', added),
                  'other': call('GET', '/jobs/' + os.environ['OTHER_JOB']), 'pools': call('GET', '/pools')}))
"""


def manager(**kwargs) -> m.BatchJobManagerTask:
    data = {"id": "manager", "commandLine": kwargs.pop("command_line", "exit 0")}
    data.update(kwargs)
    return m.BatchJobManagerTask(data)


@pytest.fixture
def pool(batch) -> str:
    return make_pool(batch, nodes=1, slots=2)


@pytest.fixture(scope="module")
def process_pool(process_emulator) -> str:
    return make_pool(process_emulator.client(), nodes=1, slots=2)


def _stdout(batch, job_id: str, task_id: str) -> str:
    return b"".join(batch.download_task_file(job_id, task_id, "stdout.txt")).decode()


def test_the_manager_is_a_task_of_its_job_and_ends_the_job(batch, pool) -> None:
    job_id = make_job(batch, pool, job_manager_task=manager())
    job = wait_for(lambda: (j := batch.get_job(job_id)).state == "completed" and j)
    assert job.execution_info.termination_reason == "JMComplete"  # killJobOnCompletion defaults to true
    task = batch.get_task(job_id, "manager")
    assert (task.state, task.execution_info.result) == ("completed", "success")
    assert batch.get_job_task_counts(job_id).task_counts.succeeded == 1
    assert batch.get_job(job_id).job_manager_task.id == "manager"


def test_without_kill_job_on_completion_the_job_stays_active(batch, pool) -> None:
    job_id = make_job(batch, pool, job_manager_task=manager(killJobOnCompletion=False))
    wait_task(batch, job_id, "manager")
    assert batch.get_job(job_id).state == "active"


def test_a_manager_sharing_the_preparation_task_id_is_refused(batch, pool) -> None:
    with pytest.raises(HttpResponseError) as info:
        make_job(batch, pool, job_manager_task=manager(id="jobpreparation"),
                 job_preparation_task=m.BatchJobPreparationTask(command_line="exit 0"))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"


def test_token_access_other_than_job_is_refused(batch, pool) -> None:
    with pytest.raises(HttpResponseError) as info:
        make_job(batch, pool, job_manager_task=manager(authenticationTokenSettings={"access": ["pool"]}))
    assert info.value.error.code == "InvalidPropertyValue"


@pytest.mark.parametrize("exclusive", [True, False])
def test_run_exclusive_keeps_the_node_to_the_manager(process_batch, process_pool, exclusive) -> None:
    job_id = make_job(process_batch, process_pool,
                      job_manager_task=manager(command_line="sleep 1", runExclusive=exclusive,
                                               killJobOnCompletion=False))
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="work", command_line="true"))
    jm, work = wait_task(process_batch, job_id, "manager"), wait_task(process_batch, job_id, "work")
    ran_after = work.execution_info.start_time >= jm.execution_info.end_time
    assert ran_after is exclusive  # on a 2-slot node only runExclusive keeps `work` waiting


def test_a_job_token_opens_its_own_job_only(process_batch, process_pool, process_emulator) -> None:
    other = make_job(process_batch, process_pool)
    job_id = make_job(process_batch, process_pool, job_manager_task=manager(
        command_line="""python3 -c "import os; exec(os.environ['PROBE'])" """, killJobOnCompletion=False,
        authenticationTokenSettings=TOKEN,
        environmentSettings=[{"name": "PROBE", "value": _PROBE}, {"name": "OTHER_JOB", "value": other}]))
    task = wait_task(process_batch, job_id, "manager")
    out = _stdout(process_batch, job_id, "manager")
    assert task.execution_info.exit_code == 0, out
    assert json.loads(out) == {"own": 200, "add": 201, "other": [403, "AuthenticationFailed"],
                               "pools": [403, "AuthenticationFailed"]}
    assert wait_task(process_batch, job_id, "added").execution_info.result == "success"  # added with the token
    # A task without authenticationTokenSettings gets no token.
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="plain", command_line="""python3 -c "import os; print('AZ_BATCH_AUTHENTICATION_TOKEN' in os.environ)" """))
    wait_task(process_batch, job_id, "plain")
    assert _stdout(process_batch, job_id, "plain").strip() == "False"


def test_a_forged_token_is_refused(emulator) -> None:
    forged = "eyJhY2NvdW50IjoiZGV2YmF0Y2giLCJqb2IiOiJqIn0~bm90LWEtbWFj"
    res = signed(emulator, "GET", f"/jobs/{unique('j')}", "api-version=2025-06-01")
    assert res.status_code == 404  # signed with the key: the route answers
    import requests

    res = requests.get(f"{emulator.url}/jobs/j?api-version=2025-06-01", headers={"Authorization": f"Bearer {forged}"},
                       timeout=10)
    assert res.status_code == 403 and res.json()["code"] == "AuthenticationFailed"


def test_a_manager_kept_off_spot_nodes_waits_for_a_dedicated_one(batch) -> None:
    pool = make_pool(batch, nodes=0, target_low_priority_nodes=1)
    job_id = make_job(batch, pool, job_manager_task=manager(allowLowPriorityNode=False))
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="spot-ok", command_line="exit 0"))
    wait_task(batch, job_id, "spot-ok")  # the spot node runs other tasks
    assert batch.get_task(job_id, "manager").state == "active"
    batch.begin_resize_pool(pool, m.BatchPoolResizeOptions(target_dedicated_nodes=1, target_low_priority_nodes=1),
                            polling_interval=0).result()
    task = wait_task(batch, job_id, "manager")
    node = batch.get_node(pool, task.node_info.node_id)
    assert node.is_dedicated is True
