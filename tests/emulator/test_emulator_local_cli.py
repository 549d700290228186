"""`bigcompute local up|status|down` end to end in a scratch project: real Azurite, real emulator process."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import BlobServiceClient
from click.testing import CliRunner

from bigcompute.cli.local import local_group
from bigcompute.emulator.storage import DEV_ACCOUNT, DEV_KEY
from bigcompute.emulator.testing import wait_task

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not (REPO / "node_modules/.bin/azurite-blob").exists():
        pytest.fail("Azurite is not installed: `make test` runs npm install first")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_up_status_down(project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(local_group, ["up", "--stack", "dev"])
    try:
        assert result.exit_code == 0, result.output
        local = project / ".bigcompute/local"
        outputs = json.loads((local / "outputs.json").read_text())
        creds = json.loads((local / "credentials.json").read_text())
        assert stat.S_IMODE((local / "credentials.json").stat().st_mode) == 0o600
        assert creds["batchAccountKey"] not in (local / "outputs.json").read_text()
        pid = json.loads((local / "processes.json").read_text())["emulatorPid"]
        assert creds["batchAccountKey"].encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        assert outputs["resourceGroup"] == "local" and outputs["storageAccountName"] == DEV_ACCOUNT
        assert set(outputs["poolIds"]) == {"cpu", "render"}
        blob = BlobServiceClient(outputs["blobEndpoint"], credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY})
        assert {c.name for c in blob.list_containers()} >= set(outputs["containers"].values())
        client = BatchClient(outputs["batchAccountEndpoint"],
                             AzureNamedKeyCredential(outputs["batchAccountName"], creds["batchAccountKey"]))
        client.create_job(m.BatchJobCreateOptions(id="j", pool_info=m.BatchPoolInfo(pool_id=outputs["poolIds"]["cpu"])))
        client.create_task("j", m.BatchTaskCreateOptions(id="t", command_line="/bin/echo hello"))
        assert wait_task(client, "j", "t").execution_info.exit_code == 0
        status = runner.invoke(local_group, ["status"])
        assert "pool cpu: steady, 1 node(s)" in status.output
        assert "job j: active" in status.output
        again = runner.invoke(local_group, ["up"])
        assert again.exit_code == 0 and "already running" in again.output
    finally:
        down = runner.invoke(local_group, ["down"])
    assert down.exit_code == 0
    assert (project / ".bigcompute/local/emulator/state.db").exists()  # data kept without --purge
    assert "emulator: stopped" in runner.invoke(local_group, ["status"]).output
    runner.invoke(local_group, ["down", "--purge"])
    assert not (project / ".bigcompute/local").exists()
