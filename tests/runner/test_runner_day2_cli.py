"""Day two on the local target, as a user runs it: `tasks` with each task's parameters and failures grouped by
error, `history` with superseded and deleted jobs, `download --job`, the HTML `report`, the completion webhook;
and their failure paths (an unknown workload or job: exit 2; storage gone: exit 4)."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.conftest import run_cli as run
from tests.runner.conftest import write_workload
from tests.runner.test_runner_chaos import _stopped_storage

WAIT = ("--stack", "test", "--wait", "--poll-interval", "0.2")
# t2 and t3 fail alike (one group), t4 otherwise (another); t0 and t1 succeed. The stderr line carries markup,
# which the HTML report must show as text.
SWEEP = """\
inputs: [prog/fail.sh]
tasks:
  - id: t{i}
    command: sh prog/fail.sh {i}
    sweep: {i: {start: 0, stop: 5}}
    outputs: [out/*.txt]
"""
SCRIPT = """\
mkdir -p out; echo $1 > out/v.txt
if [ $1 -ge 4 ]; then echo "disk full" >&2; exit 7; fi
if [ $1 -ge 2 ]; then echo "<b>boom</b>" >&2; exit 3; fi
"""


def write_sweep(repo, name: str, stop: int = 5) -> None:
    (repo / "workloads" / "prog").mkdir(exist_ok=True)
    (repo / "workloads" / "prog" / "fail.sh").write_text(SCRIPT)
    write_workload(repo, name, SWEEP.replace("stop: 5", f"stop: {stop}"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def failed_run(repo, local_files):
    name = unique("sweep")
    write_sweep(repo, name)
    applied = run("apply", *WAIT)
    assert applied.exit_code == 1, applied.output
    return name


def test_tasks_lists_parameters_and_groups_failures_by_error(repo, failed_run):
    name = failed_run
    listed = run("tasks", name, "--stack", "test", "--state", "failed", "--format", "json")
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.stdout)
    assert body["total"] == 5 and body["job"].startswith(f"{name}-")
    assert {t["id"]: t["parameters"]["i"] for t in body["tasks"]} == {"t2": "2", "t3": "3", "t4": "4"}
    assert all(t["exit_code"] in (3, 7) and t["result"] == "failure" and t["node"] for t in body["tasks"])
    groups = {tuple(g["tasks"]): g["error"] for g in body["failures"]}
    assert set(groups) == {("t2", "t3"), ("t4",)}  # the largest group first, same error together
    assert groups[("t2", "t3")].endswith("<b>boom</b>") and "exit code 3" in groups[("t2", "t3")]
    assert groups[("t4",)].endswith("disk full") and "exit code 7" in groups[("t4",)]

    table = run("tasks", f"workloads/{name}.yaml", "--stack", "test")  # a workload file works as well as its name
    assert table.exit_code == 0, table.output
    text = " ".join(table.output.split())
    assert "i=0, index=0" in text and "i=4, index=4" in text
    assert "2 task(s) failed with: exit code 3" in text and "1 task(s) failed with: exit code 7" in text


def test_report_is_one_html_file_with_timeline_durations_failures_and_escaped_stderr(repo, failed_run):
    out = repo / "report.html"
    made = run("report", failed_run, "--stack", "test", "--to", str(out))
    assert made.exit_code == 0, made.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http" not in html  # self-contained
    assert "Timeline per node" in html and html.count('class="bar ') == 5  # every task on its node's lane
    assert html.count('class="bar failure"') == 3 and "Failures, grouped by error" in html
    assert "&lt;b&gt;boom&lt;/b&gt;" in html and "<b>boom</b>" not in html  # task output is text, never markup
    assert "i=3, index=3" in html and "busy node-hours" in html


def test_unknown_workload_or_job_is_invalid_input(repo, local_files):
    name = unique("known")
    write_workload(repo, name, "tasks:\n  - {id: a, command: exit 0}\n")
    for command in (["tasks", "nope"], ["history", "nope"], ["report", "nope", "--to", "r.html"],
                    ["download", "nope"], ["logs", "nope"]):
        result = run(*command, "--stack", "test")
        assert result.exit_code == 2, (command, result.output)
        assert f"no workload named 'nope' in {name}" in result.output
    assert run("apply", *WAIT).exit_code == 0
    wrong = run("download", name, "--stack", "test", "--job", "other-0123abcd", "--format", "json")
    assert wrong.exit_code == 2 and f"job other-0123abcd is not a job of workload {name}" in wrong.output
    assert json.loads(wrong.stdout)["error"]["exit_code"] == 2  # scripts read the failure in the same shape
    assert not (repo / "report.html").exists() and not (repo / "r.html").exists()


def test_history_keeps_superseded_and_deleted_jobs_and_download_job_reaches_them(repo, local_files):
    name = unique("versions")
    path = write_workload(repo, name, "tasks:\n  - {id: a, command: mkdir -p out && echo one > out/v.txt, "
                                      "outputs: [out/*.txt]}\n")
    assert run("apply", *WAIT).exit_code == 0
    path.write_text(path.read_text().replace("echo one", "echo two"))
    assert run("apply", *WAIT).exit_code == 0
    jobs = json.loads(run("history", name, "--stack", "test", "--format", "json").stdout)["jobs"]
    assert [(j["current"], j["state"], j["succeeded"], j["deleted"]) for j in jobs] == [
        (False, "completed", 1, False), (True, "completed", 1, False)]
    assert all(j["outputs"] >= 1 for j in jobs)  # each has its output manifest
    first, second = jobs[0]["job"], jobs[1]["job"]

    pruned = run("apply", *WAIT, "--prune", "--yes")  # deletes the superseded job from Batch
    assert pruned.exit_code == 0 and f"deleted job {first}" in pruned.output
    after = json.loads(run("history", name, "--stack", "test", "--format", "json").stdout)["jobs"]
    assert {j["job"]: (j["state"], j["deleted"], j["current"]) for j in after} == {
        first: ("deleted", True, False), second: ("completed", False, True)}
    text = " ".join(run("history", name, "--stack", "test").output.split())
    assert "their outputs stay in storage on the local target until `bigcompute local down --purge`" in text

    fetched = run("download", name, "--stack", "test", "--job", first, "--to", "old", "--format", "json")
    assert fetched.exit_code == 0, fetched.output
    assert json.loads(fetched.stdout)["job"] == first
    assert (repo / "old" / name / "a" / "v.txt").read_text() == "one\n"
    assert json.loads((repo / "old" / name / "manifest.json").read_text())["job"] == first


class Hook(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        Hook.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = HTTPServer(("127.0.0.1", 0), Hook)
    Hook.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook?token=s3cret"
    server.shutdown()
    server.server_close()


def test_apply_reports_and_posts_a_summary_without_secrets(repo, local_files, local_target, webhook):
    name = unique("hooked")
    write_sweep(repo, name, stop=2)
    applied = run("apply", *WAIT, "--report", "run.html", "--webhook", webhook, "--format", "json")
    assert applied.exit_code == 0, applied.output
    [sent] = Hook.received
    body = json.loads(sent)
    assert (body["workload"], body["tasks"], body["succeeded"], body["failed"], body["state"]) == (
        name, 2, 2, 0, "completed")
    assert body["job"] == json.loads(applied.stdout)["submitted"][0]["job"]
    for secret in (local_target.batch_key, local_target.storage_key, "s3cret"):
        assert secret not in sent.decode() and secret not in applied.output
    assert "posted the run's summary to the completion webhook at 127.0.0.1" in applied.output
    assert name in (repo / "run.html").read_text()


def test_a_webhook_that_fails_is_said_and_the_run_stands(repo, local_files):
    write_workload(repo, unique("unheard"), "tasks:\n  - {id: a, command: exit 0}\n")
    applied = run("apply", *WAIT, "--webhook", "http://127.0.0.1:9/hook?token=s3cret")
    assert applied.exit_code == 0, applied.output
    assert "the completion webhook at 127.0.0.1 did not answer" in applied.output and "s3cret" not in applied.output


def test_report_and_webhook_need_wait(repo, local_files):
    result = run("apply", "--stack", "test", "--report", "r.html")
    assert result.exit_code == 2 and "--report and --webhook need --wait" in result.output


def test_new_commands_say_in_one_line_that_storage_is_down(repo, instant_target, tmp_path_factory):
    target = _stopped_storage(repo, instant_target, tmp_path_factory)
    name = unique("down")
    write_workload(repo, name, "tasks:\n  - {id: a, command: exit 0}\n")
    port = target.blob_endpoint.split(":")[-1].split("/")[0]
    for command in (["tasks", name], ["history", name], ["report", name, "--to", "r.html"], ["logs", name],
                    ["download", name, "--job", f"{name}-0123abcd"]):
        result = run(*command, "--stack", "test")
        assert result.exit_code == 4, result.output
        assert result.output.strip().splitlines()[-1].endswith(
            f"storage at http://127.0.0.1:{port} is not reachable: run `bigcompute local up`")
