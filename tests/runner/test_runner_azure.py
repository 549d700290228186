"""The azure target's wiring, with the emulators standing in for Azure: endpoints and names from a stack
outputs file, Entra ID bearer tokens over HTTPS (the credential DefaultAzureCredential hands out), and
resource/output files through the pool identity, never a key or SAS in a job."""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.blob import BlobServiceClient
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.local import azurite as az
from bigcompute.local.testing import LOCAL_VM
from tests.conftest import ACCOUNT
from tests.runner.conftest import TENANT, EntraCredential, entra_token, rsa_key, write_workload

IDENTITY = ("/subscriptions/0/resourceGroups/rg-bigcompute-test/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/id-pool")


def deploy_azure_like(repo, azure_like, https_azurite, credential, pool_identity: bool = False) -> BatchClient:
    """What `pulumi up` leaves: containers, a pool (with the stack's identity when `pool_identity`, as ARM sets
    it) and the stack outputs file; plus a workload doubling a number."""
    containers = {"inputs": "inputs", "outputs": "outputs"}
    blob = BlobServiceClient(https_azurite, credential=credential)
    for name in containers.values():
        if not blob.get_container_client(name).exists():
            blob.create_container(name)
    batch = BatchClient(azure_like.url, credential)
    pool = m.BatchPoolCreateOptions(id="cpu", vm_size="standard_d2s_v5", target_dedicated_nodes=1,
                                    task_slots_per_node=2, virtual_machine_configuration=LOCAL_VM)
    if pool_identity:
        pool["identity"] = {"type": "UserAssigned", "userAssignedIdentities": [{"resourceId": IDENTITY}]}
    batch.create_pool(pool)
    outputs = {"resourceGroup": "rg-bigcompute-test", "batchAccountName": ACCOUNT,
               "batchAccountEndpoint": azure_like.url, "storageAccountName": az.DEV_ACCOUNT,
               "blobEndpoint": https_azurite, "containers": containers, "poolIds": {"cpu": "cpu"},
               "identityResourceId": IDENTITY}
    (repo / "outputs.json").write_text(json.dumps(outputs))
    (repo / "workloads" / "data.txt").write_text("42\n")
    return batch


def apply_doubling(repo) -> tuple[str, object]:
    name = f"azure-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, """\
        inputs: [data.txt]
        tasks:
          - id: double
            command: mkdir -p out && echo $(( $(cat data.txt) * 2 )) > out/result.txt
            outputs: [out/result.txt]
        download: [double/result.txt]
        """)
    result = CliRunner().invoke(cli, ["apply", "--target", "azure", "--stack", "test", "--outputs", "outputs.json",
                                      "--wait", "--poll-interval", "0.2", "--download", "out"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (repo / "out" / name / "double" / "result.txt").read_text() == "84\n"
    return name, result


def test_apply_on_the_azure_target_uses_tokens_and_the_pool_identity(repo, azure_like, https_azurite,
                                                                     signing_key, monkeypatch):
    credential = EntraCredential(signing_key)
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: credential)
    batch = deploy_azure_like(repo, azure_like, https_azurite, credential)
    name, _ = apply_doubling(repo)
    assert "https://batch.core.windows.net//.default" in credential.scopes
    assert "https://storage.azure.com/.default" in credential.scopes
    [job] = [j for j in batch.list_jobs() if j.id.startswith(name)]
    task = batch.get_task(job.id, "double").as_dict()
    staged = batch.get_job(job.id).as_dict()["jobPreparationTask"]  # its input, staged once per node
    assert {rf["identityReference"]["resourceId"] for rf in staged["resourceFiles"]} == {IDENTITY}
    assert "resourceFiles" not in task
    assert {o["destination"]["container"]["identityReference"]["resourceId"] for o in task["outputFiles"]} == {IDENTITY}
    text = json.dumps([task, staged])
    assert "sig=" not in text and "?" not in text and "AccountKey" not in text


class LoggedOut:
    """DefaultAzureCredential on a machine where nobody signed in."""

    def get_token(self, *scopes, **kwargs):
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    get_token_info = get_token

    def close(self) -> None:
        pass


def test_not_logged_in_says_how_to_fix_it(repo, monkeypatch):
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: LoggedOut())
    (repo / "outputs.json").write_text(json.dumps({
        "batchAccountName": "acct", "batchAccountEndpoint": "https://127.0.0.1:9", "storageAccountName": "st",
        "blobEndpoint": "https://127.0.0.1:9/st", "containers": {"inputs": "i", "outputs": "o"},
        "poolIds": {"cpu": "cpu"}}))
    write_workload(repo, "w", "tasks:\n  - {id: a, command: x}\n")
    result = CliRunner().invoke(cli, ["plan", "--target", "azure", "--stack", "test", "--outputs", "outputs.json"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "✗ not logged in to Azure: run `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and a federated token "
        "or secret for a service principal), then retry")


GITHUB_REQUEST_TOKEN = "ghs-request-token-never-logged"
CLIENT_ID = "66666666-7777-8888-9999-000000000000"


def serve(handler, tls: tuple[str, str] | None = None):
    """A stand-in HTTP(S) service on 127.0.0.1, serving in a thread until `.shutdown()`."""
    import ssl
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(*servers) -> None:
    for server in servers:
        server.shutdown()
        server.server_close()


class Answering(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def answer(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": content_type, "Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class FakeTokenServers:
    """GitHub's ID token endpoint (HTTP) and Entra ID's token endpoint (HTTPS, as azure-identity requires of an
    authority), both on 127.0.0.1. GitHub hands out a new ID token per call; Entra ID records the client assertion
    of each token request and answers with a token that expires in `lifetime` seconds."""

    def __init__(self, tls: tuple[str, str], private_key, lifetime: int = 1) -> None:
        from urllib.parse import parse_qs, urlsplit

        self.id_tokens: list[str] = []
        self.github_requests: list[tuple[dict, str | None]] = []  # (query, Authorization header)
        self.token_requests: list[dict] = []
        self.refusal: str | None = None  # an Entra ID error description: refuse every token request with it
        fakes = self

        class Handler(Answering):
            def do_GET(self) -> None:  # GitHub: ACTIONS_ID_TOKEN_REQUEST_URL
                fakes.github_requests.append((parse_qs(urlsplit(self.path).query), self.headers.get("Authorization")))
                fakes.id_tokens.append(f"github-id-token-{len(fakes.id_tokens) + 1}")
                self.answer(200, json.dumps({"count": 1, "value": fakes.id_tokens[-1]}).encode())

            def do_POST(self) -> None:  # Entra ID: {authority}/{tenant}/oauth2/v2.0/token
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                        .items()}
                fakes.token_requests.append({"path": self.path, **form})
                if fakes.refusal:
                    self.answer(400, json.dumps({"error": "invalid_client", "error_description": fakes.refusal,
                                                 "error_codes": [70021]}).encode())
                    return
                self.answer(200, json.dumps({"token_type": "Bearer", "expires_in": lifetime,
                                             "access_token": entra_token(private_key, form["scope"])}).encode())

        self.github, self.entra = serve(Handler), serve(Handler, tls)

    def environment(self) -> dict[str, str]:
        """What a GitHub Actions job with `id-token: write` and `azure/login`'s inputs has in its environment."""
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": f"http://127.0.0.1:{self.github.server_port}/token?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": GITHUB_REQUEST_TOKEN, "AZURE_CLIENT_ID": CLIENT_ID,
                "AZURE_TENANT_ID": TENANT, "AZURE_AUTHORITY_HOST": f"https://127.0.0.1:{self.entra.server_port}"}

    def stop(self) -> None:
        stop(self.github, self.entra)


@pytest.fixture
def github_oidc(tls, signing_key, monkeypatch):
    """A GitHub Actions job's OIDC environment, served by FakeTokenServers; DefaultAzureCredential is logged out,
    so any token the runner gets came through the GitHub federation."""
    fakes = FakeTokenServers(tls, signing_key)
    for name, value in fakes.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls[0])
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: LoggedOut())
    yield fakes
    fakes.stop()


def test_github_federation_fetches_a_fresh_id_token_for_every_access_token(github_oidc):
    from bigcompute.runner.credentials import azure_credential

    credential = azure_credential()
    first = credential.get_token("https://batch.core.windows.net//.default")
    time.sleep(1.5)  # the access token has expired (expires_in: 1): a run longer than a GitHub ID token's life
    second = credential.get_token("https://batch.core.windows.net//.default")
    assert first.token != second.token
    assert github_oidc.id_tokens == ["github-id-token-1", "github-id-token-2"]
    assert [r["client_assertion"] for r in github_oidc.token_requests] == github_oidc.id_tokens
    for request in github_oidc.token_requests:
        assert request["path"] == f"/{TENANT}/oauth2/v2.0/token"
        assert request["client_id"] == CLIENT_ID
        assert request["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    for query, authorization in github_oidc.github_requests:
        assert query == {"api-version": ["2.0"], "audience": ["api://AzureADTokenExchange"]}
        assert authorization == f"Bearer {GITHUB_REQUEST_TOKEN}"


def test_without_the_github_environment_the_chain_is_default_azure_credential(github_oidc, monkeypatch):
    from bigcompute.runner.credentials import azure_credential

    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")  # a job without `permissions: id-token: write`
    with pytest.raises(ClientAuthenticationError, match="DefaultAzureCredential failed"):
        azure_credential().get_token("https://batch.core.windows.net//.default")
    assert github_oidc.github_requests == [] and github_oidc.token_requests == []


def test_a_failing_github_token_endpoint_says_what_to_check(github_oidc, monkeypatch):
    from bigcompute.runner.credentials import azure_credential

    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:9/token?api-version=2.0")
    with pytest.raises(ClientAuthenticationError) as caught:
        azure_credential().get_token("https://batch.core.windows.net//.default")
    assert "id-token: write" in str(caught.value)
    assert GITHUB_REQUEST_TOKEN not in str(caught.value)


def test_a_long_apply_wait_in_github_actions_keeps_getting_fresh_tokens(repo, azure_like, https_azurite,
                                                                       signing_key, github_oidc):
    """Every access token lives one second here, as if the run outlasted GitHub's ten-minute ID tokens: the apply
    still ends well, each Entra ID token request carrying a GitHub ID token fetched for it."""
    deploy_azure_like(repo, azure_like, https_azurite, EntraCredential(signing_key))
    apply_doubling(repo)
    assert len(github_oidc.id_tokens) >= 2
    assert [r["client_assertion"] for r in github_oidc.token_requests] == github_oidc.id_tokens
    assert {r["scope"] for r in github_oidc.token_requests} == {"https://batch.core.windows.net//.default",
                                                                "https://storage.azure.com/.default"}


def refusing(status: int, body: bytes, content_type: str = "application/json", **headers: str) -> type:
    """A service that refuses every request the same way (an account behind network rules)."""

    class Refusing(Answering):
        def do_GET(self) -> None:
            self.answer(status, body, content_type, **headers)

        do_PUT = do_POST = do_HEAD = do_GET

    return Refusing


def batch_error(code: str, message: str) -> bytes:
    """A Batch error body, as the service writes it (batch-rest.md: code, message.value, values)."""
    return json.dumps({"odata.metadata": "https://acct.westeurope.batch.azure.com/$metadata#Microsoft.Azure.Batch."
                       "Protocol.Entities.Container.errors/@Element", "code": code,
                       "message": {"lang": "en-US", "value": f"{message}\nRequestId:{uuid.uuid4()}\nTime:"
                                                             "2026-12-07T04:00:00.0000000Z"}}).encode()


def plan_against(repo, batch_url: str) -> object:
    (repo / "outputs.json").write_text(json.dumps({
        "batchAccountName": "acct", "batchAccountEndpoint": batch_url, "storageAccountName": "st",
        "blobEndpoint": "https://127.0.0.1:9/st", "containers": {"inputs": "i", "outputs": "o"},
        "poolIds": {"cpu": "cpu"}}))
    write_workload(repo, "w", "tasks:\n  - {id: a, command: x}\n")
    return CliRunner().invoke(cli, ["plan", "--target", "azure", "--stack", "test", "--outputs", "outputs.json"])


@pytest.mark.parametrize(("code", "message", "ip"), [
    ("Forbidden", "Public network access is disabled for this account: connect through a private endpoint.", None),
    ("AuthorizationFailure", "This request is not authorized to perform this operation from IP address "
                             "203.0.113.7.", "203.0.113.7"),
])
def test_a_403_from_the_batch_account_network_rules_is_a_network_problem(repo, tls, signing_key, monkeypatch, code,
                                                                         message, ip):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls[0])
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: EntraCredential(signing_key))
    server = serve(refusing(403, batch_error(code, message)), tls)
    try:
        result = plan_against(repo, f"https://127.0.0.1:{server.server_port}")
    finally:
        stop(server)
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"✗ the Batch account refused the connection from this network "
                           f"({ip or 'this machine' + chr(39) + 's egress IP'}; HTTP 403 {code}): "), last
    assert "batch.runnerAccess" in last and "inside the VNet" in last
    assert "az login" not in result.output


def test_a_rejected_token_still_says_sign_in(repo, azure_like, monkeypatch):
    """The emulator verifies bearer tokens: one signed by another key is a sign-in problem (HTTP 401), not a
    network one."""
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: EntraCredential(rsa_key()))
    result = plan_against(repo, azure_like.url)
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("✗ not logged in to Azure: run `az login`"), last
    assert "network" not in last


STORAGE_ERROR = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}\n'
                 'RequestId:0c1b</Message></Error>')


@pytest.mark.parametrize(("code", "message", "network"), [
    ("AuthorizationFailure", "This request is not authorized to perform this operation.", True),
    ("AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this "
                                        "permission.", False),
    ("InvalidAuthenticationInfo", "Server failed to authenticate the request. Please refer to the information in "
                                  "the www-authenticate header.", False),
    # Azurite's answer to a wrong account key
    ("AuthorizationFailure", "Server failed to authenticate the request. Make sure the value of the Authorization "
                             "header is formed correctly including the signature.", False),
])
def test_storage_firewall_refusals_are_told_apart_from_sign_in_ones(tls, signing_key, monkeypatch, code, message,
                                                                    network):
    from azure.core.exceptions import HttpResponseError

    from bigcompute.runner.refusals import refusal_message as refused

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls[0])
    body = STORAGE_ERROR.format(code=code, message=message).encode()
    server = serve(refusing(403, body, "application/xml", **{"x-ms-error-code": code}), tls)
    try:
        blob = BlobServiceClient(f"https://127.0.0.1:{server.server_port}/st", credential=EntraCredential(signing_key),
                                 retry_total=0)
        with pytest.raises(HttpResponseError) as caught:
            blob.get_container_client("outputs").get_container_properties()
    finally:
        stop(server)
    sentence = refused(caught.value)
    if network:
        assert sentence.startswith("the storage account refused the connection from this network"), sentence
        assert "az login" not in sentence
    elif code == "AuthorizationPermissionMismatch":  # signed in, without the role: signing in again will not help
        assert sentence.startswith("the storage account refused the runner's request (HTTP 403 "
                                   "AuthorizationPermissionMismatch): the identity it signed in as lacks a data role")
        assert "az login" not in sentence
    else:
        assert sentence.startswith("the storage account refused the runner's credentials"), sentence
        assert "az login" in sentence


def test_the_deploy_jobs_give_apply_what_github_federation_needs():
    """`bigcompute apply` renews its sign-in only where the job may mint ID tokens and names the app registration."""
    from pathlib import Path

    import yaml

    workflow = yaml.safe_load((Path(__file__).parents[2] / ".github" / "workflows" / "deploy.yml").read_text())
    applying = {name: job for name, job in workflow["jobs"].items()
                if any("bigcompute apply --target azure" in step.get("run", "") for step in job.get("steps", []))}
    assert applying
    for name, job in applying.items():
        assert {**workflow.get("permissions", {}), **job.get("permissions", {})}.get("id-token") == "write", name
        env = {**workflow.get("env", {}), **job.get("env", {})}
        assert env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID"), name


def test_a_refused_github_sign_in_names_the_entra_code_and_where_to_fix_it(repo, github_oidc):
    github_oidc.refusal = ("AADSTS70021: No matching federated identity record found for presented assertion. "
                           "Assertion Issuer: 'https://token.actions.githubusercontent.com'.")
    result = plan_against(repo, "https://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "✗ Azure refused the GitHub OIDC sign-in of AZURE_CLIENT_ID (Entra ID answered AADSTS70021): check that the "
        "app registration has a federated credential for this repository and environment (docs/gitops.md) and "
        "that the job has `permissions: id-token: write`")
    assert github_oidc.id_tokens[0] not in result.output and GITHUB_REQUEST_TOKEN not in result.output
