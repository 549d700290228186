"""Compatibility tests: other clients of the Batch API against the emulator, run by `make compat`.

They need their own virtualenv (`.venv-compat`: the msrest-based azure-batch 14.x SDK and azure-cli),
which cannot share an environment with the project's azure-batch 15.x. So:

- the main suite (`.venv`, azure-batch 15.x) skips collecting this folder: see `collect_ignore_glob`;
- `make compat` runs them with `.venv-compat/bin/python -m pytest tests/compat --confcutdir=tests/compat`,
  where `--confcutdir` keeps pytest from loading `tests/conftest.py` (it imports the project and 15.x).

Nothing here imports bigcompute: the emulator runs as its own process from the main venv.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest


def _is_compat_env() -> bool:
    try:
        return metadata.version("azure-batch").split(".")[0] == "14"
    except metadata.PackageNotFoundError:
        return False


# Relative to this folder: every file here is skipped outside the compat environment.
collect_ignore_glob = [] if _is_compat_env() else ["*"]

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "compatacct"
# The emulator runs from the project's own virtualenv; BIGCOMPUTE_PYTHON overrides where that is.
EMULATOR_PYTHON = os.environ.get("BIGCOMPUTE_PYTHON") or str(REPO / ".venv" / "bin" / "python")


@dataclass
class Emulator:
    url: str
    account: str
    key: str
    data_dir: Path
    proc: subprocess.Popen


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """`python -m bigcompute.emulator` as `bigcompute local up` starts it: its own process, real task processes."""
    if not Path(EMULATOR_PYTHON).exists():
        pytest.fail(f"{EMULATOR_PYTHON} not found: build the project's venv first (`make test` or `make compat`)")
    data_dir = tmp_path_factory.mktemp("emulator")
    key = base64.b64encode(os.urandom(32)).decode()
    log = open(data_dir / "emulator.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [EMULATOR_PYTHON, "-m", "bigcompute.emulator", "--data-dir", str(data_dir), "--port", "0",
         "--account", ACCOUNT, "--transitions", "instant"],
        env={**os.environ, "BIGCOMPUTE_EMULATOR_KEY": key}, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    port_file = data_dir / "emulator.json"
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the emulator did not start: {(data_dir / 'emulator.log').read_text()[-2000:]}")
        time.sleep(0.05)
    time.sleep(0.05)  # the file is written in one call; give the reader no half-written JSON
    url = json.loads(port_file.read_text())["url"]
    try:
        yield Emulator(url, ACCOUNT, key, data_dir, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def az_candidates() -> list[str]:
    """The az executables to test: BIGCOMPUTE_COMPAT_AZ (os.pathsep-separated) or the compat venv's two:
    azure-cli pinned to the last release on the msrest 14.x SDK (same venv as these tests) and the current
    azure-cli in `.venv-compat/az-current` (its own venv: it pins the azure-core based azure-batch 15.0.0b1)."""
    if os.environ.get("BIGCOMPUTE_COMPAT_AZ"):
        return os.environ["BIGCOMPUTE_COMPAT_AZ"].split(os.pathsep)
    venv = REPO / ".venv-compat"
    return [str(venv / "bin" / "az"), str(venv / "az-current" / "bin" / "az")]


@dataclass
class Az:
    exe: str
    emulator: Emulator
    workdir: Path
    version: tuple[int, ...] = ()

    @property
    def on_sdk14(self) -> bool:
        """azure-cli up to 2.68 runs on the msrest azure-batch 14.x; from 2.69 on azure-batch 15.0.0b1."""
        return self.version < (2, 69)

    def env(self) -> dict[str, str]:
        return {**os.environ, "AZURE_CONFIG_DIR": str(self.workdir / "azconfig"),
                "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_SURVEY_MESSAGE": "false",
                "AZURE_CORE_NO_COLOR": "true", "AZURE_CORE_ONLY_SHOW_ERRORS": "true"}

    def __call__(self, *args: str, output: str = "json", check: bool = True) -> object:
        argv = [self.exe, "batch", *args, "--account-name", self.emulator.account, "--account-key",
                self.emulator.key, "--account-endpoint", self.emulator.url]
        if output:
            argv += ["--output", output]
        proc = subprocess.run(argv, env=self.env(), cwd=self.workdir, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            shown = " ".join(a if a != self.emulator.key else "***" for a in argv)
            raise AssertionError(f"{shown} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        if not check:
            return proc
        return json.loads(proc.stdout) if output == "json" and proc.stdout.strip() else proc.stdout


@pytest.fixture(scope="module", params=az_candidates(), ids=lambda p: Path(p).parent.parent.name)
def az(request: pytest.FixtureRequest, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Az:
    exe = request.param
    if not (Path(exe).exists() or shutil.which(exe)):  # a failure, not a skip: compat is green only with every client
        pytest.fail(f"{exe} is not installed (make compat installs it)")
    az = Az(exe, emulator, tmp_path_factory.mktemp("az"))
    out = subprocess.run([exe, "version", "--output", "json"], env=az.env(), capture_output=True, text=True,
                         timeout=120, check=True).stdout
    az.version = tuple(int(p) for p in json.loads(out)["azure-cli"].split("."))
    return az
