"""Session fixtures shared by the emulator and runner tests: Azurite on a free port with a temp location,
and the Batch emulator in a thread on port 0 (one with instant tasks, one running real processes)."""

from __future__ import annotations

import base64
import ctypes
import io
import json
import os
import signal
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.pipeline.transport import RequestsTransport

from bigcompute.emulator import BatchState, EmulatorServer, InstantExecutor, SubprocessExecutor
from bigcompute.emulator.compute.transitions import INSTANT, Durations
from bigcompute.local import azurite as az
from bigcompute.local.testing import signed

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "devbatch"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first. `make test` deals tests to its two workers one at a time (--maxschedchunk 1), so
    the long ones start early, spread over both workers, and the many short ones even out the end, instead of
    one worker running a long test alone while the other has finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: file order otherwise


@dataclass
class Azurite:
    port: int
    blob_endpoint: str
    connection_string: str
    location: Path

    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)


@dataclass
class Emulator:
    url: str
    account: str
    key: str
    state: BatchState
    server: EmulatorServer

    def client(self, **kwargs: Any) -> BatchClient:
        kwargs.setdefault("retry_total", 0)
        return BatchClient(self.url, AzureNamedKeyCredential(self.account, self.key), **kwargs)


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: a test run killed by a timeout must not leave Azurite running (and busy) behind.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def start_azurite(location: Path, port: int, *extra: str) -> subprocess.Popen:
    """Azurite on 127.0.0.1:`port`, ended with the test process however that process ends."""
    proc = subprocess.Popen([*az.command(location, port, REPO / az.AZURITE_BIN), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent)
    az.wait_port(port, proc=proc)
    return proc


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    binary = REPO / az.AZURITE_BIN
    if not binary.exists():
        pytest.fail("Azurite is not installed: `make test` runs npm install first")
    location = tmp_path_factory.mktemp("azurite")
    port = az.free_port()
    proc = start_azurite(location, port)
    try:
        yield Azurite(port, az.blob_endpoint(port), az.connection_string(port), location)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _start(tmp: Path, executor: Any, time_scale: float = 1.0, transitions: Durations = INSTANT) -> Emulator:
    """An emulator in this process; transitional states end on the pass that sees them unless `transitions` says."""
    key = new_key()
    state = BatchState(account=ACCOUNT, data_dir=tmp, executor=executor, time_scale=time_scale,
                       transitions=transitions)
    server = EmulatorServer(state, key).start()
    return Emulator(server.url, ACCOUNT, key, state, server)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Tasks complete instantly (an `exit N` the command line certainly reaches sets the exit code); time runs
    600x faster for autoscale intervals."""
    emu = _start(tmp_path_factory.mktemp("emu-instant"), InstantExecutor(), time_scale=600.0)
    yield emu
    emu.server.stop()


@pytest.fixture(scope="session")
def process_emulator(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[Emulator]:
    """Tasks run as real processes in Batch's node layout; storage is the session's Azurite."""
    emu = _start(tmp_path_factory.mktemp("emu-process"), SubprocessExecutor(azurite.blob_endpoint))
    yield emu
    emu.server.stop()


@pytest.fixture(scope="session")
def fast_process_emulator(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[Emulator]:
    """Real processes, with the clock 60x faster: a job schedule's one-minute interval passes in a second."""
    emu = _start(tmp_path_factory.mktemp("emu-fast"), SubprocessExecutor(azurite.blob_endpoint), time_scale=60.0)
    yield emu
    emu.server.stop()


SHARED_EMULATORS = ("emulator", "process_emulator", "fast_process_emulator")


@dataclass(frozen=True)
class Held:
    """The ids of the job schedules and jobs an emulator holds."""

    schedules: frozenset[str]
    jobs: frozenset[str]

    @classmethod
    def read(cls, emu: Emulator) -> Held:
        # From the state of the emulator in this process: an SDK list spends some 50 ms parsing models, per test.
        page = emu.state.stores.page
        return cls(*(frozenset(doc["id"] for doc in page(table, None, 1 << 30, "")[0])
                     for table in ("jobschedules", "jobs")))


def request_deletes(emu: Emulator, collection: str, ids: Iterable[str]) -> None:
    """Delete Job Schedule / Delete Job through the API, for each id: the resource is `deleting` when the call
    returns, so it creates no run, is dispatched no task and holds no quota; the emulator purges it meanwhile."""
    for resource_id in sorted(ids):
        resp = signed(emu, "DELETE", f"/{collection}/{quote(resource_id, safe=':')}", "api-version=2025-06-01")
        assert resp.status_code in (202, 404), f"DELETE /{collection}/{resource_id}: {resp.status_code} {resp.text}"


def delete_new(emu: Emulator, held: Held) -> None:
    """Delete the job schedules and jobs `emu` holds beyond `held`; schedules first, so none creates a run after
    the jobs were listed (a deleted schedule's runs go with it)."""
    request_deletes(emu, "jobschedules", Held.read(emu).schedules - held.schedules)
    request_deletes(emu, "jobs", Held.read(emu).jobs - held.jobs)


@pytest.fixture(autouse=True)
def tidy_emulators(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test on this worker's shared emulators, passed or failed, deletes the job schedules and jobs
    it created there, so each test starts on a clean account: a schedule left behind creates runs for the rest
    of the session, an active job counts against the account's quota (the doctor's check), and a job's queued
    tasks hold up the next test's on a shared pool. Fixtures of a wider scope are set up before this one, so
    what a module fixture creates for all its tests stays."""
    shared = [request.getfixturevalue(name) for name in SHARED_EMULATORS if name in request.fixturenames]
    before = [Held.read(emu) for emu in shared]
    yield
    for emu, held in zip(shared, before, strict=True):
        delete_new(emu, held)


@pytest.fixture
def batch(emulator: Emulator) -> BatchClient:
    return emulator.client()


@pytest.fixture
def process_batch(process_emulator: Emulator) -> BatchClient:
    return process_emulator.client()


# --- recorded HTTP answers for SDK clients (ARM management, Batch): no server, every request kept -------

class Recorded(requests.adapters.BaseAdapter):
    """Answers requests from recorded responses, by method and path; records what was asked."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, object]]) -> None:
        super().__init__()
        self.answers = answers
        self.asked: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs) -> requests.Response:
        self.asked.append(request)
        path = requests.utils.unquote(requests.utils.urlparse(request.url).path)  # Batch sends file paths as %2F
        status, body = self.answers.get((request.method, path), (404, {"error": {"code": "NotFound"}}))
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        binary = isinstance(body, bytes)
        response.headers["Content-Type"] = "application/octet-stream" if binary else "application/json"
        response.raw = io.BytesIO(body if binary else json.dumps(body).encode())  # the wire body, streamed
        return response

    def close(self) -> None:
        pass


def transport(answers) -> tuple[RequestsTransport, Recorded]:
    adapter = Recorded(answers)
    session = requests.Session()
    session.mount("https://", adapter)
    return RequestsTransport(session=session, session_owner=False), adapter


def run_cli(*args: str):
    """The bigcompute CLI in this process (click's runner), exceptions raised rather than turned into exit 1."""
    from click.testing import CliRunner

    from bigcompute.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)
