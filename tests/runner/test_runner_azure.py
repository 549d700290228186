"""The azure target's wiring, with the emulators standing in for Azure: endpoints and names from a stack
outputs file, Entra ID bearer tokens over HTTPS (the credential DefaultAzureCredential hands out), and
resource/output files through the pool identity, never a key or SAS in a job."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import time
import uuid

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.blob import BlobServiceClient
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.emulator import BatchState, EmulatorServer, SubprocessExecutor
from bigcompute.emulator import azurite as az
from bigcompute.emulator.auth import TokenVerifier
from tests.conftest import ACCOUNT, new_key, start_azurite
from tests.runner.conftest import write_workload

TENANT = "11111111-2222-3333-4444-555555555555"
IDENTITY = ("/subscriptions/0/resourceGroups/rg-bigcompute-test/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/id-pool")


def _rsa():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: bearer tokens travel only over HTTPS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = _rsa()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                                       serialization.NoEncryption()))
    return str(folder / "cert.pem"), str(folder / "key.pem")


class EntraCredential:
    """What DefaultAzureCredential gives a logged-in user: RS256 tokens for the requested audience."""

    def __init__(self, private_key) -> None:
        self.private_key = private_key
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        import jwt

        self.scopes += scopes
        audience = scopes[0].removesuffix("/.default")  # batch: "https://batch.core.windows.net/"
        now = int(time.time())
        claims = {"aud": audience, "iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT,
                  "oid": str(uuid.uuid4()), "iat": now, "nbf": now - 60, "exp": now + 3600}
        return AccessToken(jwt.encode(claims, self.private_key, algorithm="RS256"), now + 3600)

    def get_token_info(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessTokenInfo

        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def signing_key():
    return _rsa()


@pytest.fixture(scope="module")
def https_azurite(tmp_path_factory, tls):
    port = az.free_port()
    proc = start_azurite(tmp_path_factory.mktemp("azurite-tls"), port, "--cert", tls[0], "--key", tls[1],
                         "--oauth", "basic")
    yield f"https://127.0.0.1:{port}/{az.DEV_ACCOUNT}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def azure_like(tmp_path_factory, tls, signing_key, https_azurite, monkeypatch):
    """An emulator that trusts the test tenant's tokens, over HTTPS; the CA bundle trusts our certificate."""
    from cryptography.hazmat.primitives import serialization

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls[0])
    public = signing_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    state = BatchState(account=ACCOUNT, data_dir=tmp_path_factory.mktemp("emu-tls"),
                       executor=SubprocessExecutor(https_azurite))
    server = EmulatorServer(state, new_key(), tls=tls, tokens=TokenVerifier(public)).start()
    yield server
    server.stop()


def test_apply_on_the_azure_target_uses_tokens_and_the_pool_identity(repo, azure_like, https_azurite,
                                                                     signing_key, monkeypatch):
    credential = EntraCredential(signing_key)
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kw: credential)
    containers = {"inputs": "inputs", "outputs": "outputs"}
    blob = BlobServiceClient(https_azurite, credential=credential)
    for name in containers.values():
        blob.create_container(name)
    batch = BatchClient(azure_like.url, credential)
    batch.create_pool(m.BatchPoolCreateOptions(id="cpu", vm_size="standard_d2s_v5", target_dedicated_nodes=1,
                                               task_slots_per_node=2))
    outputs = {"resourceGroup": "rg-bigcompute-test", "batchAccountName": ACCOUNT,
               "batchAccountEndpoint": azure_like.url, "storageAccountName": az.DEV_ACCOUNT,
               "blobEndpoint": https_azurite, "containers": containers, "poolIds": {"cpu": "cpu"},
               "identityResourceId": IDENTITY}
    (repo / "outputs.json").write_text(json.dumps(outputs))
    (repo / "workloads" / "data.txt").write_text("42\n")
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
    assert "https://batch.core.windows.net//.default" in credential.scopes
    assert "https://storage.azure.com/.default" in credential.scopes
    [job] = [j for j in batch.list_jobs() if j.id.startswith(name)]
    task = batch.get_task(job.id, "double").as_dict()
    assert {rf["identityReference"]["resourceId"] for rf in task["resourceFiles"]} == {IDENTITY}
    assert {o["destination"]["container"]["identityReference"]["resourceId"] for o in task["outputFiles"]} == {IDENTITY}
    text = json.dumps(task)
    assert "sig=" not in text and "?" not in text and "AccountKey" not in text


def test_not_logged_in_says_how_to_fix_it(repo, monkeypatch):
    class LoggedOut:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

        get_token_info = get_token

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
