"""`bigcompute autoscale check|eval|simulate` through click's runner: full output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bigcompute.cli.autoscale import autoscale_group

STACK = """config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:pools:
    - name: cpu
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      taskSlotsPerNode: 2
      scale:
        autoscale:
          preset: queue-active-spot
          minNodes: 0
          maxNodes: 4
          evaluationInterval: PT5M
      pricing: {dedicatedPerHour: 0.1, spotPerHour: 0.02}
    - name: raw
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      scale:
        autoscale:
          formula: "$TargetDedicatedNodes = 2;"
    - name: fixed
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      scale:
        fixed: {dedicated: 1}
"""


def cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(autoscale_group, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture
def stack(tmp_path: Path) -> str:
    path = tmp_path / "stacks" / "Pulumi.test.yaml"
    path.parent.mkdir()
    path.write_text(STACK)
    return str(path)


def test_check_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "f.formula"
    path.write_text("$TargetDedicatedNodes = 2;\n$NodeDeallocationOption = taskcompletion;\n")
    result = cli("check", str(path))
    assert (result.exit_code, result.output) == (0, f"{path}: ok (2 statements)\n")


def test_check_reports_every_error_with_caret_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.formula"
    path.write_text('a = 1;\n$TargetDedicatedNodes = $PendingTasks.GetSample(3);\nb = "x" + 2\n')
    result = cli("check", str(path))
    assert result.exit_code == 2
    assert result.output == (
        f"{path}:2:25: cannot assign a doubleVec to $TargetDedicatedNodes, which needs a double (reduce it with "
        "avg(), max(), min() or val())\n"
        "  $TargetDedicatedNodes = $PendingTasks.GetSample(3);\n"
        "                          ^\n"
        f"{path}:3:9: '+' is not defined for string and double\n"
        '  b = "x" + 2\n'
        "          ^\n")


def test_check_json_and_stdin() -> None:
    result = cli("check", "-", "--format", "json", stdin="a = (1")
    assert result.exit_code == 2
    assert json.loads(result.output) == [{"source": "-", "valid": False, "errors": [
        {"line": 1, "column": 7, "message": "unexpected end of formula; expected ')'",
         "code": "AutoScalingFormulaSyntaxError"}]}]


def test_check_needs_exactly_one_source(tmp_path: Path) -> None:
    result = cli("check")
    assert (result.exit_code, result.output) == (2, "give a FORMULA_FILE or --stack NAME (one of them)\n")
    missing = cli("check", str(tmp_path / "nope.formula"))
    assert missing.exit_code == 2 and "No such file or directory" in missing.output


def test_check_a_stack(stack: str) -> None:
    result = cli("check", "--stack", stack)
    assert result.exit_code == 0
    assert result.output.splitlines() == [f"{stack}:cpu: ok (25 statements)", f"{stack}:raw: ok (1 statement)"]


def test_check_a_broken_stack_shows_its_diagnostics(stack: str) -> None:
    Path(stack).write_text(STACK.replace("maxNodes: 4", "maxNodes: -4"))
    result = cli("check", "--stack", stack)
    assert result.exit_code == 2 and "maxNodes" in result.output and "Traceback" not in result.output


EVAL_ARGS = ("--time", "2025-01-06T10:00:00Z", "--current-dedicated", "3")


def test_eval_prints_the_results_string() -> None:
    result = cli("eval", "--formula", "$TargetDedicatedNodes = max($PendingTasks.GetSample(1)) + $CurrentDedicatedNodes;"
                 " h = time().hour", "--metric", "$PendingTasks=12", *EVAL_ARGS)
    assert (result.exit_code, result.output) == (
        0, "$TargetDedicatedNodes=15;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;h=10\n")


def test_eval_metric_series_and_json(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("v = $CPUPercent.GetSample(3); $TargetDedicatedNodes = avg(v) / 10")
    result = cli("eval", str(path), "--metric", "CPUPercent=10,20,60", "--format", "json", *EVAL_ARGS)
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "results": "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;v=[10,20,60]",
        "timestamp": "2025-01-06T10:00:00.000Z"}


def test_eval_failure_exits_1_with_batchs_error() -> None:
    result = CliRunner().invoke(autoscale_group, [
        "eval", "--formula", "x = avg($PendingTasks.GetSample(TimeInterval_Minute * 10, 90))",
        "--metric", "$PendingTasks=1,2,3", *EVAL_ARGS])
    assert result.exit_code == 1
    assert result.stdout == "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue\n"
    assert result.stderr == ("error: InsufficientSampleData: Autoscale evaluation failed due to insufficient sample "
                             "data: Line 1, Col 23: Insufficient data from data set: $PendingTasks wanted 90%, "
                             "received 15%\n")


@pytest.mark.parametrize(("args", "message"), [
    (("--formula", "x = 1 +"), "formula:1:8: unexpected end of formula; expected an expression\n  x = 1 +\n"),
    (("--formula", "x = 1", "--metric", "$Pending=1"), "--metric '$Pending=1': expected NAME=VALUE[,VALUE...]"),
    (("--formula", "x = 1", "--metric", "$PendingTasks=a"), "--metric '$PendingTasks=a': values must be numbers"),
    (("--formula", "x = 1", "--time", "noon"), "--time 'noon' is not an ISO 8601 date-time"),
    (("--formula", "x = 1", "--history", "1h"), "--history: '1h' is not an ISO 8601 duration"),
    ((), "give exactly one of FORMULA_FILE, --formula TEXT or --stack NAME --pool NAME"),
])
def test_eval_bad_input_exits_2(args: tuple[str, ...], message: str) -> None:
    result = cli("eval", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_eval_a_stack_pool(stack: str) -> None:
    result = cli("eval", "--stack", stack, "--pool", "raw", *EVAL_ARGS)
    assert (result.exit_code, result.output) == (
        0, "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue\n")
    fixed = cli("eval", "--stack", stack, "--pool", "fixed")
    assert (fixed.exit_code, fixed.output) == (2, "pool 'fixed' has a fixed size; there is no formula to use\n")
    unknown = cli("eval", "--stack", stack, "--pool", "gpu")
    assert unknown.exit_code == 2 and unknown.output == "stack 'test' has no pool 'gpu'; it has cpu, raw, fixed\n"


def test_simulate_a_stack_pool_with_plot_and_series(stack: str, tmp_path: Path) -> None:
    png, series = tmp_path / "out.png", tmp_path / "series.csv"
    result = cli("simulate", "--stack", stack, "--pool", "cpu", "--arrivals",
                 "bursty:size=20,every=PT4H,duration=PT20M,for=PT12H", "--preempt-rate", "1/d",
                 "--plot", str(png), "--series-out", str(series))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{stack}:cpu: 60 tasks, evaluated every PT5M"
    assert lines[1].startswith("tasks            60 (60 completed, 0 terminated, 0 unfinished,")
    cost = next(line for line in lines if line.startswith("cost "))
    assert cost != "cost             -" and cost.endswith(" USD")
    assert "assumptions" in lines and any(line.startswith("  node start-up") and "PT5M" in line for line in lines)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert series.read_text().startswith("time,time_s,active_tasks,")


def test_simulate_a_preset_json_with_a_trace_file(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("time,count,duration\n0,8,PT10M\nPT2H,4,PT10M\n")
    out = tmp_path / "series.json"
    result = cli("simulate", "--preset", "scale-to-zero", "--param", "maxNodes=4", "--param", "idleTimeout=PT10M",
                 "--trace", str(trace), "--format", "json", "--series-out", str(out), "--dedicated-price", "1")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["source"] == "preset scale-to-zero" and doc["summary"]["completed"] == 12
    assert doc["summary"]["cost"] == pytest.approx(doc["summary"]["node_hours_dedicated"])
    assert json.loads(out.read_text())[0]["active_tasks"] == 8


@pytest.mark.parametrize(("args", "message"), [
    (("--preset", "cpu", "--arrivals", "steady:rate=1"), "--arrivals: steady: '1' is not a rate such as 30/h"),
    (("--preset", "cpu", "--param", "maxNodes=0", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H"),
     "--param maxNodes: 0 is less than the minimum of 1"),
    (("--preset", "cpu"), "give --trace FILE or --arrivals SPEC (one of them)"),
    (("--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H"),
     "give exactly one of --stack NAME --pool NAME, --formula-file FILE or --preset NAME"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--ready-time", "5"),
     "--ready-time: '5' is not an ISO 8601 duration"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--preempt-rate", "often"),
     "--preempt-rate 'often': expected preemptions per spot node-hour"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--start", "monday"),
     "--start 'monday' is not an ISO 8601 date-time"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--evaluation-interval", "PT0S"),
     "--evaluation-interval PT0S: evaluation interval PT0S is outside Batch's range PT5M to PT168H"),
    # Batch's minimum is 5 minutes (Pool - Enable Auto Scale); PT1M and PT30S used to run
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--evaluation-interval", "PT1M"),
     "--evaluation-interval PT1M: evaluation interval PT1M is outside Batch's range PT5M to PT168H (the service "
     "refuses it with HTTP 400; https://learn.microsoft.com/azure/batch/batch-automatic-scaling)"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--evaluation-interval", "PT30S"),
     "--evaluation-interval PT30S: evaluation interval PT30S is outside"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--evaluation-interval", "P8D"),
     "--evaluation-interval P8D: evaluation interval P8D is outside"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--core-quota", "64"),
     "--core-quota needs the pool's VM size: use --stack/--pool or give --vm-size"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--vm-size", "Standard_Nope"),
     "--vm-size Standard_Nope: unknown VM size"),
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H,slots=2"),
     "cannot simulate: tasks needing 2 slots can never run on nodes with 1 task slots"),
])
def test_simulate_bad_input_exits_2(args: tuple[str, ...], message: str) -> None:
    result = cli("simulate", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_simulate_a_bad_formula_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "f.formula"
    path.write_text("$TargetDedicatedNodes = $PendingTasks;")
    result = cli("simulate", "--formula-file", str(path), "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H")
    assert result.exit_code == 2
    assert result.output.startswith(f"{path}:1:25: $PendingTasks is a sampled metric;")
