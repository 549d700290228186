"""`local up` in a repository that is not this checkout (as a pip-installed bigcompute runs it): Azurite is found
on the PATH, or installed into the user's cache with npm (said), or the error names every place looked at."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.local import azurite as az

REPO = Path(__file__).resolve().parents[2]
REAL_AZURITE = REPO / az.AZURITE_BIN


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Another repository: its own Pulumi.yaml and stacks, no node_modules; a PATH with python's folder only."""
    if not REAL_AZURITE.exists():
        pytest.fail("Azurite is not installed: `make test` runs npm install first")
    project = tmp_path / "other-repo"
    shutil.copytree(REPO / "stacks", project / "stacks")
    (project / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (tmp_path / "bin").mkdir()
    monkeypatch.delenv(az.BINARY_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.chdir(project)
    return project


SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def up_then_down(project: Path) -> tuple:
    """`local up`, and the command line of the Azurite it started (read while it runs), then `local down`."""
    result = CliRunner().invoke(cli, ["local", "up", "--stack", "dev", "--task-user", "none"])
    try:
        if result.exit_code != 0:
            return result, b""
        procs = json.loads((project / ".bigcompute/local/processes.json").read_text())
        return result, Path(f"/proc/{procs['azuritePid']}/cmdline").read_bytes()
    finally:
        CliRunner().invoke(cli, ["local", "down"])


def test_azurite_on_the_path_is_used(elsewhere: Path) -> None:
    bin_dir = elsewhere.parent / "bin"
    (bin_dir / "node").symlink_to(shutil.which("node", path=SYSTEM_PATH))  # azurite-blob is a node script
    (bin_dir / "azurite-blob").symlink_to(REAL_AZURITE.resolve())
    result, cmdline = up_then_down(elsewhere)
    assert result.exit_code == 0, result.output
    assert str(bin_dir / "azurite-blob").encode() in cmdline and "installed" not in result.output
    assert (elsewhere / ".bigcompute" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_without_azurite_or_npm_the_error_names_every_place_and_nothing_starts(elsewhere: Path) -> None:
    result = CliRunner().invoke(cli, ["local", "up", "--stack", "dev"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    cache = elsewhere.parent / "cache" / "bigcompute" / f"azurite-{az.AZURITE_VERSION}" / az.AZURITE_BIN
    assert (f"Azurite not found (the project: {elsewhere.resolve() / az.AZURITE_BIN}; the cache: {cache}) and npm "
            f"is not installed to install it: install Node.js/npm, or set {az.BINARY_ENV}") in text
    assert not (elsewhere / ".bigcompute/local/processes.json").exists()


def test_a_missing_azurite_is_installed_with_npm_and_said(elsewhere: Path) -> None:
    """npm here is a stand-in that records its arguments and links the real Azurite where `npm install --prefix`
    puts it (no registry in the tests); the launcher then starts what was installed."""
    bin_dir = elsewhere.parent / "bin"
    (bin_dir / "node").symlink_to(shutil.which("node", path=SYSTEM_PATH))
    (bin_dir / "npm").write_text(f"""#!/bin/sh
echo "$@" > {bin_dir}/npm-args
/bin/mkdir -p "$3/node_modules/.bin" && /bin/ln -s {REAL_AZURITE.resolve()} "$3/node_modules/.bin/azurite-blob"
""")
    (bin_dir / "npm").chmod(0o755)
    result, cmdline = up_then_down(elsewhere)
    assert result.exit_code == 0, result.output
    cache = elsewhere.parent / "cache" / "bigcompute" / f"azurite-{az.AZURITE_VERSION}"
    assert (bin_dir / "npm-args").read_text().split() == [
        "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--loglevel=error",
        f"azurite@{az.AZURITE_VERSION}"]
    assert f"warning: Azurite was not installed: installed it with `npm install --prefix {cache} " in \
        " ".join(result.output.split())
    assert str(cache / az.AZURITE_BIN).encode() in cmdline
