"""The job manager script of scheduled runs (runner/addtasks.py), run as a node runs it (`python3 -I -S`: the
standard library only): against a real emulator that throttles and fails part of its requests, as the pool's
managed identity with a token from the node's IMDS (the emulator's), every task is added, in collections of at
most 100, the job id filled in, and a second run adds nothing twice; against a fake IMDS and Batch on 127.0.0.1,
the token request is exactly the one Azure's IMDS expects and the token goes to Batch only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from bigcompute.emulator import BatchState, EmulatorServer, InstantExecutor
from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.core.identities import IMDS_PATH
from bigcompute.emulator.wire.faults import FaultPlan
from bigcompute.local.launcher import JOB_SUBMITTER
from bigcompute.local.testing import LOCAL_VM
from bigcompute.runner import addtasks
from bigcompute.runner.schedules import SCRIPT
from bigcompute.workload.storage import JOB_MARK
from tests.conftest import ACCOUNT, new_key

JOB = "nightly:job-3"  # a schedule's run, as Batch names it
IDENTITY = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pool-id"


@pytest.fixture(scope="module")
def flaky(tmp_path_factory):
    """An emulator answering about a third of its requests with 429 or 503, with a pool and a run's job."""
    state = BatchState(account=ACCOUNT, data_dir=tmp_path_factory.mktemp("emu-flaky"), executor=InstantExecutor())
    faults = FaultPlan("429=0.2,503=0.15", seed=7)
    with EmulatorServer(state, new_key(), faults=faults) as server:
        state.stores.pools.create({"id": "p", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 0,
                                   "virtualMachineConfiguration": LOCAL_VM.as_dict(),
                                   "identity": {"type": "UserAssigned",
                                                "userAssignedIdentities": [{"resourceId": IDENTITY}]}})
        state.identities.assign(IDENTITY, JOB_SUBMITTER)
        state.stores.jobs.insert(JOB, {"id": JOB, "poolInfo": {"poolId": "p"}})
        yield server, faults


def node_env(account_url: str, imds: str, client_id: str) -> dict[str, str]:
    """What a job manager task finds on a node: Batch's variables, IMDS's address (locally) and AZURE_CLIENT_ID."""
    return {"PATH": os.environ["PATH"], "AZ_BATCH_ACCOUNT_URL": account_url, "AZ_BATCH_JOB_ID": JOB,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": imds, "AZURE_CLIENT_ID": client_id}


def run_script(server, tasks: list[dict], tmp_path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    lines = tmp_path / "tasks.jsonl"
    lines.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    if env is None:
        [identity] = server.state.pools.get("p")["identity"]["userAssignedIdentities"]
        imds = f"{server.url}{IMDS_PATH}/{server.state.identities.node_key('p', 'tvmps_1')}"
        env = node_env(server.url, imds, identity["clientId"])
    return subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), str(lines)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_every_task_is_added_through_throttling_and_only_once(flaky, tmp_path) -> None:
    server, faults = flaky
    tasks = [{"id": f"t{i}", "commandLine": "true",
              "environmentSettings": [{"name": "WHERE", "value": f"outputs/{JOB_MARK}/t{i}"}]} for i in range(250)]
    first = run_script(server, tasks, tmp_path)
    assert first.returncode == 0, first.stderr
    served = faults.served()
    assert served.get("429", 0) + served.get("503", 0) > 0  # it met the faults and got through them
    stored = {t["id"]: t for t in (server.state.stores.tasks.get(JOB, f"t{i}") for i in range(250))}
    assert stored["t249"]["environmentSettings"] == [{"name": "WHERE", "value": f"outputs/{JOB}/t249"}]
    # Batch's limit per addtaskcollection request (the emulator would answer a larger one 413 and the script split it)
    assert [len(c) for c in addtasks.chunks(str(tmp_path / "tasks.jsonl"), JOB)] == [100, 100, 50]
    again = run_script(server, tasks, tmp_path)  # a retried manager: TaskExists counts as added
    assert again.returncode == 0, again.stderr
    assert server.state.stores.tasks.counts(JOB)["taskCounts"]["active"] == 250


def test_a_refused_task_fails_the_manager_naming_it(flaky, tmp_path) -> None:
    server, _ = flaky
    result = run_script(server, [{"id": "ok", "commandLine": "true"}, {"id": "bad id!", "commandLine": "true"}],
                        tmp_path)
    assert result.returncode == 1
    assert "task bad id!: InvalidPropertyValue" in result.stderr
    assert server.state.stores.tasks.get(JOB, "ok")["state"] == "active"


class FakeNode(BaseHTTPRequestHandler):
    """IMDS and Batch in one: records every request, answers IMDS's token and Batch's addtaskcollection."""

    seen: list[tuple[str, str, dict[str, str], bytes]] = []
    TOKEN = "eyJ0eXAiOiJKV1QifQ.fake-imds-token.sig"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._record(b"")
        body = json.dumps({"access_token": self.TOKEN, "client_id": "c", "expires_in": "86399",
                           "expires_on": "1999999999", "resource": "https://batch.core.windows.net/",
                           "token_type": "Bearer"}).encode()
        self._answer(body)

    def do_POST(self) -> None:  # noqa: N802
        payload = self.rfile.read(int(self.headers["Content-Length"]))
        self._record(payload)
        tasks = json.loads(payload)["value"]
        self._answer(json.dumps({"value": [{"status": "success", "taskId": t["id"]} for t in tasks]}).encode())

    def _record(self, body: bytes) -> None:
        self.seen.append((self.command, self.path, dict(self.headers.items()), body))

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_node():
    FakeNode.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_token_request_is_the_one_azures_imds_expects_and_the_token_goes_to_batch_only(fake_node, tmp_path):
    client_id = "6f1c3e52-0b0e-4b7a-9a3e-0d4f5a7c9b21"
    result = run_script(None, [{"id": "a", "commandLine": "true"}], tmp_path,
                        env=node_env(fake_node, fake_node, client_id))
    assert result.returncode == 0, result.stderr
    (method, path, headers, _), (post, batch_path, batch_headers, body) = FakeNode.seen
    url = urlsplit(path)
    assert (method, url.path) == ("GET", "/metadata/identity/oauth2/token")
    # https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token
    assert dict(parse_qsl(url.query)) == {"api-version": "2018-02-01", "resource": "https://batch.core.windows.net/",
                                          "client_id": client_id}
    assert headers["Metadata"] == "true"
    assert "Authorization" not in headers
    assert (post, urlsplit(batch_path).path) == ("POST", f"/jobs/{urllib.parse.quote(JOB, safe='')}/addtaskcollection")
    assert dict(parse_qsl(urlsplit(batch_path).query)) == {"api-version": "2025-06-01"}
    assert batch_headers["Authorization"] == f"Bearer {FakeNode.TOKEN}"
    assert json.loads(body)["value"] == [{"id": "a", "commandLine": "true"}]
    assert FakeNode.TOKEN not in result.stdout + result.stderr  # never printed


def test_on_azure_the_token_comes_from_the_nodes_imds_address(monkeypatch) -> None:
    """Without the local override the manager asks 169.254.169.254, Azure's IMDS."""
    asked = []

    class Answer:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b'{"access_token": "t", "expires_on": "1999999999"}'

    def urlopen(request, timeout):
        asked.append((request.full_url, request.headers))
        return Answer()

    monkeypatch.setattr(addtasks.urllib.request, "urlopen", urlopen)
    assert addtasks.identity_token(addtasks.IMDS, "cid") == ("t", 1999999999.0)
    [(url, headers)] = asked
    assert url == ("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                   "&resource=https%3A%2F%2Fbatch.core.windows.net%2F&client_id=cid")
    assert headers == {"Metadata": "true"}


def test_a_manager_without_a_token_for_batch_adds_nothing_and_says_why(flaky, tmp_path) -> None:
    """IMDS refuses an identity the node's pool does not carry (here: another client id)."""
    server, _ = flaky
    imds = f"{server.url}{IMDS_PATH}/{server.state.identities.node_key('p', 'tvmps_1')}"
    result = run_script(server, [{"id": "never", "commandLine": "true"}], tmp_path,
                        env=node_env(server.url, imds, "00000000-0000-0000-0000-000000000000"))
    assert result.returncode == 1
    assert "no token for Batch from the node's managed identity 00000000-0000-0000-0000-000000000000" in result.stderr
    assert "Identity not found" in result.stderr
    with pytest.raises(BatchError, match="TaskNotFound|does not exist"):
        server.state.stores.tasks.get(JOB, "never")


@pytest.mark.parametrize(("lifetime", "fetches"), [(3600.0, 1), (60.0, 3)])
def test_the_token_is_fetched_again_before_it_expires(monkeypatch, lifetime, fetches) -> None:
    """A long manager run outlives one token: within five minutes of its expiry the next request gets a new one."""
    calls = []

    def token(endpoint, client_id):
        calls.append((endpoint, client_id))
        return f"t{len(calls)}", time.time() + lifetime

    monkeypatch.setattr(addtasks, "identity_token", token)
    credential = addtasks.IdentityCredential("http://imds", "cid")
    seen = [credential.headers()["Authorization"] for _ in range(3)]
    assert len(calls) == fetches and seen[-1] == f"Bearer t{fetches}"
