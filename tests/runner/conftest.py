"""A local target for the runner: the session's Azurite and process emulator, with containers and a pool,
plus a throwaway repository holding workloads and a stack file; and an Azure-like target (HTTPS, Entra ID
tokens) for the azure target's tests."""

from __future__ import annotations

import datetime as dt
import ipaddress
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from azure.batch import models as m
from azure.core.credentials import AccessToken

from bigcompute.emulator import BatchState, EmulatorServer, SubprocessExecutor
from bigcompute.emulator.wire.auth import TokenVerifier
from bigcompute.local import azurite as az
from bigcompute.local.azurite import DEV_ACCOUNT, DEV_KEY
from bigcompute.local.launcher import JOB_SUBMITTER
from bigcompute.runner.clients import Clients, RetrySettings, connect
from bigcompute.runner.target import Target
from tests.conftest import ACCOUNT, new_key, start_azurite

STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:batch: {activeJobQuota: 500}
  bigcompute:pools:
    - {name: cpu, vmSize: Standard_D2s_v5, image: ubuntu-24.04, taskSlotsPerNode: 2,
       scale: {fixed: {dedicated: 1}}}
"""


POOL_IDENTITY = "/subscriptions/0/resourceGroups/local/providers/Microsoft.ManagedIdentity/userAssignedIdentities/local-pool"


def make_target(emu, azurite, slots: int = 2) -> Target:
    """Fresh containers and a pool on `emu`, named uniquely, as the runner's target."""
    suffix = uuid.uuid4().hex[:6]
    containers = {"inputs": f"in-{suffix}", "outputs": f"out-{suffix}"}
    service = azurite.service()
    for name in containers.values():
        service.create_container(name)
    pool_id = f"cpu-{suffix}"
    client = emu.client()
    options = m.BatchPoolCreateOptions(
        id=pool_id, vm_size="standard_d2s_v5", target_dedicated_nodes=1, task_slots_per_node=slots,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
            node_agent_sku_id="batch.node.ubuntu 24.04"))
    # as `local up` creates the stack's pools: with the stack's identity, which may submit jobs on the account
    options["identity"] = {"type": "UserAssigned", "userAssignedIdentities": [{"resourceId": POOL_IDENTITY}]}
    client.create_pool(options)
    emu.state.identities.assign(POOL_IDENTITY, JOB_SUBMITTER)
    return Target(kind="local", stack="test", batch_endpoint=emu.url, batch_account=emu.account, blob_endpoint=azurite.blob_endpoint,
                  storage_account=DEV_ACCOUNT, containers=containers, pool_ids={"cpu": pool_id},
                  identity_resource_id=POOL_IDENTITY, batch_key=emu.key, storage_key=DEV_KEY)


@pytest.fixture(scope="session")
def local_target(process_emulator, azurite) -> Target:
    """Tasks run as real processes on a 2-slot node."""
    return make_target(process_emulator, azurite)


@pytest.fixture(scope="session")
def instant_target(emulator, azurite) -> Target:
    """Tasks complete instantly: for tests about submission, not execution."""
    return make_target(emulator, azurite, slots=8)


@pytest.fixture
def clients(local_target) -> Clients:
    c = connect(local_target, RetrySettings(total=3, backoff_factor=0.05))
    yield c
    c.close()


@pytest.fixture
def clients_for():
    """Clients for any target; closed at the end of the test."""
    opened: list[Clients] = []

    def _open(target: Target) -> Clients:
        opened.append(connect(target, RetrySettings(total=3, backoff_factor=0.05)))
        return opened[-1]
    yield _open
    for c in opened:
        c.close()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: project\nruntime: python\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "workloads").mkdir()
    (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_workload(repo: Path, name: str, body: str) -> Path:
    path = repo / "workloads" / f"{name}.yaml"
    path.write_text(f"apiVersion: bigcompute/v1\nkind: Workload\nname: {name}\npool: cpu\n" + textwrap.dedent(body))
    return path


def write_local_files(repo: Path, t: Target) -> Path:
    """A target written where the CLI looks for the local target (.bigcompute/local/)."""
    import json

    folder = repo / ".bigcompute" / "local"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "outputs.json").write_text(json.dumps({
        "stack": "test", "resourceGroup": "local", "batchAccountName": t.batch_account,
        "batchAccountEndpoint": t.batch_endpoint, "storageAccountName": t.storage_account,
        "blobEndpoint": t.blob_endpoint, "containers": dict(t.containers), "poolIds": dict(t.pool_ids),
        "identityResourceId": t.identity_resource_id}))
    (folder / "credentials.json").write_text(json.dumps({"batchAccountKey": t.batch_key,
                                                         "storageAccountKey": t.storage_key}))
    return folder


@pytest.fixture
def local_files(repo: Path, local_target: Target) -> Path:
    return write_local_files(repo, local_target)


# --- an Azure-like target: Entra ID tokens over HTTPS (the emulator verifies them, Azurite in OAuth mode) ---

TENANT = "11111111-2222-3333-4444-555555555555"


def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: bearer tokens travel only over HTTPS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = rsa_key()
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


def entra_token(private_key, scope: str) -> str:
    """An Entra ID access token for `scope`'s resource, valid an hour, signed with the test tenant's key."""
    import jwt

    audience = scope.removesuffix("/.default")  # batch: "https://batch.core.windows.net/"
    now = int(time.time())
    claims = {"aud": audience, "iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT,
              "oid": str(uuid.uuid4()), "iat": now, "nbf": now - 60, "exp": now + 3600}
    return jwt.encode(claims, private_key, algorithm="RS256")


class EntraCredential:
    """What DefaultAzureCredential gives a logged-in user: RS256 tokens for the requested audience."""

    def __init__(self, private_key) -> None:
        self.private_key = private_key
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes += scopes
        return AccessToken(entra_token(self.private_key, scopes[0]), int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessTokenInfo

        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def signing_key():
    return rsa_key()


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
