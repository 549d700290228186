"""`bigcompute doctor` as a user runs it where nothing is deployed or the stack is broken: full output, exit
codes. (Against a running local target: tests/runner/test_doctor.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigcompute.cli.doctor import render_text
from bigcompute.cli.main import cli
from bigcompute.runner.doctor import DoctorReport, Finding

ROOT = Path(__file__).resolve().parents[2]
DEV = str(ROOT / "stacks" / "Pulumi.dev.yaml")


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch) -> Path:
    """A project without a local target (no .bigcompute/local)."""
    (tmp_path / "Pulumi.yaml").write_text("name: elsewhere\nruntime: python\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_local_target_that_was_never_started_fails_with_what_to_do(elsewhere):
    result = invoke("doctor", "--stack", DEV)
    assert result.exit_code == 3
    assert result.output == (
        "bigcompute doctor: local target, stack dev\n\n"
        "FAIL  local target: not started (no .bigcompute/local/outputs.json)\n"
        "      → start it: `bigcompute local up --stack dev`\n\n"
        "1 failed, 0 warning(s), 0 ok\n")
    assert not (elsewhere / ".bigcompute").exists()  # diagnosing starts nothing


def test_json_output_has_every_finding_and_the_worst_status(elsewhere):
    result = invoke("doctor", "--stack", DEV, "--format", "json")
    assert result.exit_code == 3
    assert json.loads(result.output) == {"target": "local", "stack": "dev", "status": "fail", "findings": [
        {"check": "local target", "status": "fail", "detail": "not started (no .bigcompute/local/outputs.json)",
         "action": "start it: `bigcompute local up --stack dev`"}]}


def test_azure_without_outputs_says_where_they_come_from(elsewhere, monkeypatch):
    monkeypatch.setenv("PATH", str(elsewhere))  # no Pulumi CLI
    result = invoke("doctor", "--target", "azure", "--stack", DEV)
    assert result.exit_code == 3
    assert "FAIL  stack outputs: the azure target needs the stack outputs: install the Pulumi CLI" in result.output


def test_an_invalid_stack_exits_2_before_any_check(elsewhere):
    bad = ROOT / "tests" / "data" / "bad" / "stacks" / "missing-location.yaml"
    result = invoke("doctor", "--stack", str(bad))
    assert result.exit_code == 2
    assert "missing-location.yaml:" in result.output and "bigcompute doctor:" not in result.output


def test_text_quotes_multi_line_details_indented_and_without_terminal_controls():
    report = DoctorReport("local", "dev", (
        Finding("pool cpu: node health (starttaskfailed)", "fail", "1 node(s) starttaskfailed:\n"
                "node n1: start task failed\n  stderr:\n    \x1b]0;owned\x07E: broken", "fix the start task"),
        Finding("quota: active jobs", "warn", "19 of 20", "prune"),
        Finding("reach: Batch", "ok", "answers")))
    assert render_text(report) == (
        "bigcompute doctor: local target, stack dev\n\n"
        "FAIL  pool cpu: node health (starttaskfailed): 1 node(s) starttaskfailed:\n"
        "      node n1: start task failed\n"
        "        stderr:\n"
        "          E: broken\n"
        "      → fix the start task\n"
        "warn  quota: active jobs: 19 of 20\n"
        "      → prune\n"
        "ok    reach: Batch: answers\n\n"
        "1 failed, 1 warning(s), 1 ok\n")


def test_the_help_lists_doctor():
    def words(text: str) -> str:  # click wraps help text to the terminal's width
        return " ".join(text.split())

    assert "`bigcompute doctor --stack S [--target azure]` says why" in words(invoke("--help").output)
    assert "3 when one does" in words(invoke("doctor", "--help").output)
