"""`bigcompute local up|status|down` end to end in a scratch project: real Azurite, real emulator process."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import BlobServiceClient
from click.testing import CliRunner

from bigcompute.cli.local import local_group
from bigcompute.cli.main import cli
from bigcompute.emulator.compute import isolation, node_python
from bigcompute.emulator.compute.nodes import task_path
from bigcompute.local import azurite as az
from bigcompute.local import ports, records
from bigcompute.local.azurite import DEV_ACCOUNT, DEV_KEY
from bigcompute.local.testing import wait_for, wait_task

REPO = Path(__file__).resolve().parents[2]


def _scratch_project(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project of its own (Pulumi.yaml, the stacks), using this checkout's Azurite as an installed bigcompute
    would use any other: through $BIGCOMPUTE_AZURITE."""
    shutil.copytree(REPO / "stacks", folder / "stacks")
    (folder / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n")
    monkeypatch.setenv(az.BINARY_ENV, str(REPO / az.AZURITE_BIN))
    monkeypatch.chdir(folder)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not (REPO / "node_modules/.bin/azurite-blob").exists():
        pytest.fail("Azurite is not installed: `make test` runs npm install first")
    _scratch_project(tmp_path, monkeypatch)
    return tmp_path


# A task's token for Batch from its node's IMDS (the emulator's), then a task added to its job with it.
_ADD_AS_IDENTITY = """
import json, os, urllib.parse as p, urllib.request as u
query = p.urlencode({'api-version': '2018-02-01', 'resource': 'https://batch.core.windows.net/',
                     'client_id': os.environ['AZURE_CLIENT_ID']})
imds = u.Request(os.environ['AZURE_POD_IDENTITY_AUTHORITY_HOST'] + '/metadata/identity/oauth2/token?' + query,
                 headers={'Metadata': 'true'})
token = json.loads(u.urlopen(imds).read())['access_token']
add = u.Request(os.environ['AZ_BATCH_ACCOUNT_URL'] + '/jobs/' + os.environ['AZ_BATCH_JOB_ID'] + '/tasks?api-version=2025-06-01',
                data=json.dumps({'id': 'added', 'commandLine': 'true'}).encode(), method='POST',
                headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
print(u.urlopen(add).status)
"""


def test_up_status_down(project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(local_group, ["up", "--stack", "dev", "--transitions", "instant"])
    try:
        assert result.exit_code == 0, result.output
        local = project / ".bigcompute/local"
        outputs = json.loads((local / "outputs.json").read_text())
        creds = json.loads((local / "credentials.json").read_text())
        assert stat.S_IMODE((local / "credentials.json").stat().st_mode) == 0o600
        _assert_private(local)
        assert creds["batchAccountKey"] not in (local / "outputs.json").read_text()
        pid = json.loads((local / "processes.json").read_text())["emulatorPid"]
        assert creds["batchAccountKey"].encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        assert outputs["resourceGroup"] == "local" and outputs["storageAccountName"] == DEV_ACCOUNT
        assert set(outputs["poolIds"]) == {"cpu", "render", "mpi"}
        blob = BlobServiceClient(outputs["blobEndpoint"], credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY})
        assert {c.name for c in blob.list_containers()} >= set(outputs["containers"].values())
        client = BatchClient(outputs["batchAccountEndpoint"],
                             AzureNamedKeyCredential(outputs["batchAccountName"], creds["batchAccountKey"]))
        mpi = client.get_pool(outputs["poolIds"]["mpi"])  # the stack's interNodeCommunication reaches the pool
        assert (mpi.enable_inter_node_communication, mpi.task_slots_per_node, mpi.target_dedicated_nodes) == (True, 1, 3)
        client.create_job(m.BatchJobCreateOptions(id="j", pool_info=m.BatchPoolInfo(pool_id=outputs["poolIds"]["cpu"])))
        client.create_task("j", m.BatchTaskCreateOptions(id="t", command_line="/bin/echo hello"))
        assert wait_task(client, "j", "t").execution_info.exit_code == 0
        # the stack's pools carry its identity, which may submit jobs: a task adds another one as that identity
        [identity] = client.get_pool(outputs["poolIds"]["cpu"]).identity.user_assigned_identities
        assert identity.resource_id == outputs["identityResourceId"]
        client.create_task("j", m.BatchTaskCreateOptions(
            id="as-identity", command_line="""python3 -c "import os; exec(os.environ['ADD'])" """,
            environment_settings=[m.EnvironmentSetting(name="ADD", value=_ADD_AS_IDENTITY),
                                  m.EnvironmentSetting(name="AZURE_CLIENT_ID", value=identity.client_id)]))
        assert wait_task(client, "j", "as-identity", timeout=30).execution_info.exit_code == 0
        assert wait_task(client, "j", "added").execution_info.exit_code == 0
        status = runner.invoke(local_group, ["status"])
        assert "pool cpu: steady, 1 node(s)" in status.output
        assert "job j: active" in status.output
        again = runner.invoke(local_group, ["up", "--azurite-port", str(az.free_port())])
        assert again.exit_code == 0 and "already running" in again.output
        assert ("warning: --azurite-port not applied: the target is already running on its recorded ports "
                "(`bigcompute local down` first)") in again.output
        # Whether tasks run as `nobody` follows the probe on this machine, and is said when they do not.
        procs = json.loads((local / "processes.json").read_text())
        probe = _probe(local)
        assert (procs["taskUser"] is None) == bool(probe) and procs["taskUserWarning"] == probe
        for output in (result.output, status.output, again.output):
            assert (f"warning: tasks are NOT isolated from the local target's credentials: {probe}" in output) \
                == bool(probe), output
    finally:
        down = runner.invoke(local_group, ["down"])
    assert down.exit_code == 0
    assert (project / ".bigcompute/local/emulator/state.db").exists()  # data kept without --purge
    assert "emulator: stopped" in runner.invoke(local_group, ["status"]).output
    runner.invoke(local_group, ["down", "--purge"])
    assert not (project / ".bigcompute/local").exists()


@pytest.fixture
def open_project(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project under /tmp that any user may traverse (pytest's tmp_path is private to root), as a checkout
    in a home or work folder is: the task user must reach its node folders through it."""
    folder = Path(tempfile.mkdtemp(prefix="bigcompute-open-"))
    folder.chmod(0o755)
    _scratch_project(folder, monkeypatch)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="a task user needs a target running as root")
def test_tasks_run_as_the_task_user_cannot_read_the_credentials(open_project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["local", "up", "--stack", "dev", "--transitions", "instant", "--task-user", "nobody"])
    local = open_project / ".bigcompute/local"
    try:
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output  # sh runs as nobody and the node folders are reachable
        procs = json.loads((local / "processes.json").read_text())
        assert (procs["taskUser"], procs["taskUserWarning"]) == ("nobody", "")
        _assert_private(local)
        outputs = json.loads((local / "outputs.json").read_text())
        creds = json.loads((local / "credentials.json").read_text())
        client = BatchClient(outputs["batchAccountEndpoint"],
                             AzureNamedKeyCredential(outputs["batchAccountName"], creds["batchAccountKey"]))
        client.create_job(m.BatchJobCreateOptions(id="j", pool_info=m.BatchPoolInfo(pool_id=outputs["poolIds"]["cpu"])))
        script = 'id -u; cat "$(realpath --relative-to=. "$1")" && echo READ; cat "$1" && echo READ; ls "$2" && echo LISTED'
        client.create_task("j", m.BatchTaskCreateOptions(
            id="t", command_line=f"/bin/sh -c '{script}' sh {local.resolve() / 'credentials.json'} {local.resolve()}"))
        assert wait_task(client, "j", "t").execution_info.exit_code != 0
        out = b"".join(client.download_task_file("j", "t", "stdout.txt")).decode()
        assert out == "65534\n", out
    finally:
        runner.invoke(cli, ["local", "down"])


def _probe(local: Path) -> str:
    """What `--task-user auto` found on this machine (empty: tasks run as nobody)."""
    nobody = isolation.TaskUser("nobody", 65534, 65534)
    if os.geteuid() != 0:
        return f"the emulator runs as {getpass.getuser()}, not root, so tasks run as {getpass.getuser()} too"
    data = (local / "emulator").resolve()
    return isolation.probe(nobody, task_path(node_python.root(data) / "bin"), data, isolation.PROBED_TOOLS)


def _assert_private(local: Path) -> None:
    """Folders only we (and, passing through to its node folders, the task user's group) may enter; every
    file holding a secret or state readable by us alone."""
    modes = {p.relative_to(local).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in [local, *local.iterdir(), *(local / "emulator").glob("state.db*")]}
    task_user = json.loads((local / "processes.json").read_text())["taskUser"]
    for name in ("", "emulator") if task_user else ():
        assert modes.pop(name or ".") == 0o710 and (local / name).stat().st_gid == 65534
    assert {name: oct(mode) for name, mode in modes.items() if mode not in (0o700, 0o600)} == {}
    assert all(modes[n] == 0o600 for n in ("credentials.json", "outputs.json", "processes.json",
                                           "emulator/state.db"))


def test_up_repairs_the_modes_of_an_older_data_dir(project: Path) -> None:
    local = project / ".bigcompute/local"
    (local / "azurite").mkdir(parents=True)
    (local / "emulator").mkdir()
    (local / "credentials.json").write_text(json.dumps({"batchAccountName": "localbatch", "batchAccountKey": "a2V5",
                                                        "storageAccountName": DEV_ACCOUNT, "storageAccountKey": DEV_KEY}))
    for path in (local, local / "azurite", local / "emulator", local / "credentials.json"):
        path.chmod(0o777 if path.is_dir() else 0o644)  # as an older version (or a umask of 000) left them
    try:
        result = CliRunner().invoke(cli, ["local", "up", "--stack", "dev", "--transitions", "instant", "--task-user", "none"])
        assert result.exit_code == 0, result.output
        _assert_private(local)
        assert stat.S_IMODE(local.stat().st_mode) == 0o700
        assert "warning: tasks are NOT isolated from the local target's credentials: --task-user none" in result.output
    finally:
        CliRunner().invoke(cli, ["local", "down"])


def started(argv: list[str], **popen) -> subprocess.Popen:
    """A program as `local down` finds a recorded service: running its own command line. Popen returns once the
    child has begun to exec, before the kernel has set the new program's arguments up: /proc/<pid>/cmdline
    reads empty for that moment (3 spawns in 4 on this machine), and an empty command line is rightly not ours."""
    proc = subprocess.Popen(argv, **popen)
    wait_for(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes() == b"".join(a.encode() + b"\0" for a in argv),
             timeout=10, interval=0.001)
    return proc


def test_a_stale_pid_is_never_signalled(project: Path) -> None:
    # processes.json names a PID that now belongs to an unrelated program (the PID was reused).
    local = project / ".bigcompute/local"
    local.mkdir(parents=True)
    # TERM, INT and HUP blocked (the mask survives exec): one sent would stay pending, readable at once in /proc,
    # so "never signalled" is checked when `down` returns, not after a pause.
    stranger = started(["sleep", "300"], start_new_session=True, preexec_fn=lambda: signal.pthread_sigmask(
        signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}))
    try:
        procs = {"dataDir": str(local.resolve()), **records.record("emulator", stranger.pid),
                 "azuritePid": stranger.pid, "azuriteStart": "1", "emulatorUrl": "http://127.0.0.1:1",
                 "blobEndpoint": "http://127.0.0.1:2/devstoreaccount1"}
        (local / "processes.json").write_text(json.dumps(procs))
        status = CliRunner().invoke(cli, ["local", "status"])
        assert "emulator: stopped" in status.output and "azurite:  stopped" in status.output
        down = CliRunner().invoke(cli, ["local", "down"])
        assert down.exit_code == 0, down.output
        for name in ("emulator", "azurite"):
            assert f"warning: the recorded {name} process {stranger.pid} is gone: PID {stranger.pid} now belongs " \
                   f"to another program (sleep 300), left alone" in down.output
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{stranger.pid}/status").read_text().splitlines())
        assert int(status["ShdPnd"], 16) == int(status["SigPnd"], 16) == 0  # nothing sent to it, nor its group
        assert stranger.poll() is None  # and not killed
    finally:
        stranger.kill()
        stranger.wait()


def test_a_record_from_an_older_version_is_recognised_by_its_folder(project: Path, tmp_path_factory) -> None:
    # Older versions recorded PIDs alone and started the services with a relative --data-dir: the same
    # command line from another checkout is not ours; from this one it is.
    local = project / ".bigcompute/local"
    local.mkdir(parents=True)
    argv = ["sh", "-c", "sleep 300; :", "bigcompute.emulator", "--data-dir", ".bigcompute/local/emulator"]
    elsewhere = tmp_path_factory.mktemp("other-checkout")
    ours = started(argv, cwd=project, start_new_session=True)
    theirs = started(argv, cwd=elsewhere, start_new_session=True)
    try:
        for proc in (ours, theirs):
            (local / "processes.json").write_text(json.dumps({"emulatorPid": proc.pid}))
            down = CliRunner().invoke(cli, ["local", "down"])
            assert down.exit_code == 0, down.output
        assert ours.wait(5) is not None
        assert theirs.poll() is None
        assert f"the recorded emulator process {theirs.pid} is gone" in down.output
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()


def test_a_recorded_service_that_ended_unreaped_is_stopped_not_taken_for_another_program(project: Path) -> None:
    # A zombie (ended, its parent has not reaped it yet) answers kill(pid, 0) and has an empty command line.
    local = project / ".bigcompute/local"
    local.mkdir(parents=True)
    ended = subprocess.Popen(["sh", "-c", "exit 0", "bigcompute.emulator", "--data-dir",
                              str(local.resolve() / "emulator")], start_new_session=True)
    try:
        (local / "processes.json").write_text(json.dumps(records.record("emulator", ended.pid)))
        wait_for(lambda: Path(f"/proc/{ended.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")
        assert not records.alive(ended.pid)
        down = CliRunner().invoke(cli, ["local", "down"])
        assert down.exit_code == 0 and "warning" not in down.output, down.output
        assert not (local / "processes.json").exists()
    finally:
        assert ended.wait(5) == 0  # left for its parent to reap, never signalled


def test_a_taken_recorded_port_is_refused_and_nothing_starts(project: Path) -> None:
    local = project / ".bigcompute/local"
    local.mkdir(parents=True)
    blob_port, emu_port = az.free_port(), az.free_port()
    (local / "outputs.json").write_text(json.dumps({"batchAccountEndpoint": f"http://127.0.0.1:{emu_port}",
                                                    "blobEndpoint": az.blob_endpoint(blob_port)}))
    with socket.socket() as squatter:  # another program took this checkout's Azurite port meanwhile
        squatter.bind(("127.0.0.1", blob_port))
        squatter.listen()
        result = CliRunner().invoke(cli, ["local", "up", "--stack", "dev", "--transitions", "instant"])
        assert result.exit_code == 1
        message = " ".join(result.output.split())
        assert (f"port {blob_port}, where this checkout's Azurite listened last time (recorded in "
                f".bigcompute/local/outputs.json), is in use by another process") in message
        assert "nothing was started" in message and "`bigcompute local up --azurite-port N`" in message
        assert f"jobs created before read their inputs from {az.blob_endpoint(blob_port)}" in message
        assert not (local / "processes.json").exists() and ports.free(emu_port)
        # The runner, which starts the target when it is down, says the same and changes nothing.
        (project / ".git").mkdir()
        (project / "workloads").mkdir()
        applied = CliRunner().invoke(cli, ["apply", "--stack", "dev"])
        assert applied.exit_code == 1, applied.output
        assert f"the local target was not running and could not be started: port {blob_port}" in \
            " ".join(applied.output.split())
        assert not (local / "processes.json").exists() and ports.free(emu_port)


SLOW_SQUARES = """\
apiVersion: bigcompute/v1
kind: Workload
name: {name}
pool: cpu
inputs: [prog/work.sh]
tasks:
  - id: t{{i}}
    command: sh prog/work.sh {{i}}
    sweep: {{i: {{start: 0, stop: 4}}}}
    outputs: [out/*.txt]
"""


def test_restart_keeps_ports_and_jobs_finish(project: Path) -> None:
    (project / ".git").mkdir()
    (project / "workloads" / "prog").mkdir(parents=True)
    (project / "workloads" / "prog" / "work.sh").write_text("sleep 1; mkdir -p out; echo $(( $1 * $1 )) > out/sq.txt\n")
    name = f"slow-{uuid.uuid4().hex[:6]}"
    (project / "workloads" / f"{name}.yaml").write_text(SLOW_SQUARES.format(name=name))
    local = project / ".bigcompute/local"
    try:
        assert CliRunner().invoke(cli, ["local", "up", "--stack", "dev", "--transitions", "instant"]).exit_code == 0
        before = json.loads((local / "outputs.json").read_text())
        applied = CliRunner().invoke(cli, ["apply", "--stack", "dev"])
        assert applied.exit_code == 0, applied.output
        creds = json.loads((local / "credentials.json").read_text())
        client = BatchClient(before["batchAccountEndpoint"], AzureNamedKeyCredential("localbatch", creds["batchAccountKey"]))
        [job] = [j.id for j in client.list_jobs()]
        assert client.get_job_task_counts(job).task_counts.succeeded < 4  # the restart comes mid-job
        assert CliRunner().invoke(cli, ["local", "down"]).exit_code == 0

        # The runner finds the target down, starts it (saying so) on the same ports; the job completes.
        waited = CliRunner().invoke(cli, ["apply", "--stack", "dev", "--wait", "--download", "dl",
                                          "--poll-interval", "0.2"])
        assert waited.exit_code == 0, waited.output
        after = json.loads((local / "outputs.json").read_text())
        assert (after["batchAccountEndpoint"], after["blobEndpoint"]) == (before["batchAccountEndpoint"],
                                                                          before["blobEndpoint"])
        text = " ".join(waited.output.split())
        assert (f"the local target was not running: started it (Batch emulator {before['batchAccountEndpoint']}, "
                f"Azurite {before['blobEndpoint']})") in text
        assert f"{name}: job {job} is up to date" in text and f"{name}: all 4 tasks succeeded" in text
        assert sorted((project / "dl" / name / f"t{i}" / "sq.txt").read_text() for i in range(4)) == \
            ["0\n", "1\n", "4\n", "9\n"]
    finally:
        CliRunner().invoke(cli, ["local", "down"])


def test_an_unknown_task_user_is_refused_before_anything_starts(project: Path) -> None:
    result = CliRunner().invoke(cli, ["local", "up", "--stack", "dev", "--transitions", "instant", "--task-user", "no-such-user"])
    assert result.exit_code == 1
    assert "--task-user no-such-user: there is no user no-such-user" in result.output
    assert not (project / ".bigcompute/local/processes.json").exists()


LOCAL_APPS = """\
  bigcompute:localApplications:
    - id: hello-tool
      displayName: Hello tool
      defaultVersion: "1.0"
      versions: {"1.0": apps/hello}
"""


def test_up_uploads_the_stacks_local_applications_and_tasks_find_them(project: Path) -> None:
    """The stack's localApplications become the local account's packages; a pool's `applications` install them on
    its nodes, where a task finds them through AZ_BATCH_APP_PACKAGE_* (the default version's, here)."""
    stack = project / "stacks" / "Pulumi.dev.yaml"
    text = stack.read_text().replace("      local: {nodes: 1, taskSlotsPerNode: 2}\n    - name: render",
                                     "      local: {nodes: 1, taskSlotsPerNode: 2}\n      applications: [{id: hello-tool}]"
                                     "\n    - name: render", 1)
    stack.write_text(text + LOCAL_APPS)
    tool = project / "apps" / "hello" / "bin" / "hello"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho hello from the package\n")
    tool.chmod(0o755)
    runner = CliRunner()
    try:
        result = runner.invoke(local_group, ["up", "--stack", "dev", "--transitions", "instant"])
        assert result.exit_code == 0, result.output
        local = project / ".bigcompute/local"
        outputs = json.loads((local / "outputs.json").read_text())
        creds = json.loads((local / "credentials.json").read_text())
        client = BatchClient(outputs["batchAccountEndpoint"],
                             AzureNamedKeyCredential(outputs["batchAccountName"], creds["batchAccountKey"]))
        [app] = client.list_applications()
        assert (app.id, app.display_name, app.versions) == ("hello-tool", "Hello tool", ["1.0"])
        cpu = client.get_pool("cpu")
        assert [r.application_id for r in cpu.application_package_references] == ["hello-tool"]
        client.create_job(m.BatchJobCreateOptions(id="j", pool_info=m.BatchPoolInfo(pool_id="cpu")))
        client.create_task("j", m.BatchTaskCreateOptions(id="t", command_line="/bin/sh -c '$AZ_BATCH_APP_PACKAGE_hello_tool/bin/hello'"))
        task = wait_task(client, "j", "t", timeout=30)
        out = b"".join(client.download_task_file("j", "t", "stdout.txt")).decode()
        assert (task.execution_info.exit_code, out) == (0, "hello from the package\n")
    finally:
        runner.invoke(local_group, ["down", "--purge"])


def test_up_refuses_a_pool_application_the_stack_does_not_declare_locally(project: Path) -> None:
    stack = project / "stacks" / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("      local: {nodes: 3, taskSlotsPerNode: 1}",
                                               "      local: {nodes: 3, taskSlotsPerNode: 1}\n      applications: [{id: ffmpeg}]"))
    result = CliRunner().invoke(local_group, ["up", "--stack", "dev", "--transitions", "instant"])
    assert result.exit_code == 1
    assert "pool mpi references application ffmpeg" in " ".join(result.output.split())
    assert not (project / ".bigcompute/local/processes.json").exists()  # nothing was started
