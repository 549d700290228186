"""`bigcompute autoscale check|eval|simulate` through click's runner: full output and exit codes."""

from __future__ import annotations

import json
import subprocess
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
    assert (result.exit_code, result.output) == (0, f"{path}: ok, reads no metric (time of day only); size and "
                                                    "cost at max need a pool (check the stack with --stack NAME)\n")
    reads = tmp_path / "queue.formula"
    reads.write_text("$TargetDedicatedNodes = max($PendingTasks.GetSample(1)) + max($CPUPercent.GetSample(1));\n")
    assert cli("check", str(reads)).output.startswith(f"{reads}: ok, reads $CPUPercent, $PendingTasks;")


def test_check_an_empty_formula_exits_2_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.formula"
    path.write_text("// to do\n")
    result = cli("check", str(path))
    assert result.exit_code == 2
    assert f"{path}:1:1: the formula is empty: it needs at least one statement" in result.output


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
    assert result.output.splitlines() == [
        f"{stack}:cpu: ok",
        "  scaling  preset queue-active-spot, minNodes 0, maxNodes 4, evaluated every PT5M",
        "  metric   $ActiveTasks, $RunningTasks",
        # 4 x 2 vCPUs (vm_sizes.py), 4 x 0.1 per hour
        "  at max   4 nodes x Standard_D2s_v5 = 8 vCPUs, $0.40/h (USD, source not given) if every node is dedicated "
        "(spot falls back to dedicated)",
        f"{stack}:raw: ok",
        "  scaling  formula, no stated maximum (raw formula), evaluated every PT15M",
        "  metric   no metric (time of day only)"]


def test_check_a_stack_for_review_in_json(stack: str) -> None:
    Path(stack).write_text(STACK.replace("{dedicatedPerHour: 0.1, spotPerHour: 0.02}",
                                         "{dedicatedPerHour: 0.5, spotPerHour: 0.1, currency: EUR, "
                                         "source: price sheet, asOf: '2026-11-30'}").replace("maxNodes: 4", "maxNodes: 6"))
    cpu = json.loads(cli("check", "--stack", stack, "--format", "json").output)[0]
    assert cpu["review"] == {"pool": "cpu", "scaling": "preset queue-active-spot", "minNodes": 0, "maxNodes": 6,
                             "metrics": ["$ActiveTasks", "$RunningTasks"], "evaluationInterval": "PT5M",
                             "vmSize": "Standard_D2s_v5", "vcpusAtMax": 12, "costPerHourAtMax": 3.0,
                             "prices": {"currency": "EUR", "source": "price sheet", "asOf": "2026-11-30"}}
    text = cli("check", "--stack", stack).output
    assert "= 12 vCPUs, 3.00 EUR/h (EUR, price sheet, as of 2026-11-30)" in text


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
    (("--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H", "--resize-timeout", "PT1M"),
     "cannot simulate: the resize timeout must be at least 5 minutes (Batch's minimum resizeTimeout)"),
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


def test_simulate_runs_prints_bands_and_its_assumptions(stack: str) -> None:
    result = cli("simulate", "--stack", stack, "--pool", "cpu", "--arrivals",
                 "bursty:size=20,every=PT4H,duration=PT20M,for=PT8H", "--runs", "3", "--sla", "PT15M",
                 "--core-quota", "4", "--outages-per-week", "0")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "40 tasks, 3 runs"  # bursts at 0 and 4 h
    assert lines[1] == f"[1] {stack}:cpu" and lines[2].split() == ["figure", "[1]", "p10", "p50", "p90"]
    rows = {line[:31].strip(): line[31:].split() for line in lines[3:lines.index("assumptions")]}
    assert {"cost (USD)", "wait p99", "wait max", "SLA misses", "cold starts", "utilisation",
            "work lost, preemption (task-h)"} <= set(rows)
    a = lines[lines.index("assumptions"):]
    assert any(line.split()[:2] == ["node", "start-up"] and "uniform PT3M-PT15M" in line for line in a)
    assert any("uniform PT30S-PT1M30S, 2% of samples dropped" in line for line in a)
    assert any("2 dedicated, 1000 spot (2 vCPUs per node; core quota 4 dedicated, - spot)" in line for line in a)
    assert any(line.strip().startswith("spot") and "Azure/Batch#196" in line for line in a)


def test_simulate_compare_json_same_draws_same_span(stack: str) -> None:
    result = cli("simulate", "--stack", stack, "--pool", "cpu", "--arrivals",
                 "bursty:size=20,every=PT4H,duration=PT20M,for=PT8H", "--runs", "2",
                 "--compare", "preset:scale-to-zero:maxNodes=4,idleTimeout=PT1H", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    a, b = doc["configurations"]
    assert (a["source"], b["source"], doc["runs"]) == (f"{stack}:cpu", "preset scale-to-zero", 2)
    assert [r["simulated"] for r in a["runs"]] == [r["simulated"] for r in b["runs"]]
    assert set(a["bands"]["cost"]) == {"p10", "p50", "p90"} and a["bands"]["cost"]["p50"] > 0
    assert b["runs"][0]["currency"] == "USD" and "node_hours" in b["runs"][0]  # priced as the stack's pool
    assert "billed span" in doc["assumptions"] and a["formula_errors"] is None


def test_simulate_compare_with_the_stack_file_at_a_git_ref(stack: str, tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "stacks"], check=True)
    subprocess.run([*git, "commit", "-qm", "maxNodes 4"], check=True)
    Path(stack).write_text(STACK.replace("maxNodes: 4", "maxNodes: 1"))
    result = cli("simulate", "--stack", stack, "--pool", "cpu", "--arrivals",
                 "bursty:size=20,every=PT4H,duration=PT20M,for=PT8H", "--compare", "git:HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    now, then = json.loads(result.output)["configurations"]
    assert then["source"] == "Pulumi.test.yaml@HEAD:cpu"
    assert now["runs"][0]["peak_nodes"] == 1 and then["runs"][0]["peak_nodes"] == 4
    assert now["runs"][0]["simulated"] == then["runs"][0]["simulated"]
    bad = cli("simulate", "--stack", stack, "--pool", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H",
              "--compare", "git:no-such-ref")
    assert bad.exit_code == 2 and "--compare git:no-such-ref: cannot read Pulumi.test.yaml at no-such-ref" in bad.output


def test_simulate_compare_spec_must_be_known() -> None:
    result = cli("simulate", "--preset", "cpu", "--arrivals", "steady:rate=1/h,duration=PT1M,for=PT1H",
                 "--compare", "nope")
    assert result.exit_code == 2 and "--compare 'nope': expected preset:NAME[:KEY=VALUE,...], stack:NAME:POOL" \
        in result.output


def test_simulate_with_failed_allocations_says_so_in_assumptions_report_and_bands() -> None:
    args = ("simulate", "--preset", "queue-pending", "--param", "maxNodes=10",
            "--arrivals", "bursty:size=40,every=PT2H,duration=PT10M,for=PT8H",
            "--evaluation-interval", "PT5M", "--allocation-failure", "0.3", "--retarget", "after-resize")
    one = cli(*args)
    assert one.exit_code == 0, one.output
    assert "30% of node requests fail (resize timeout PT15M); a target set while resizing waits for the resize " \
           "to finish" in one.output
    assert "node requests failed to allocate (resize errors)" in one.output
    assert "held by an unfinished resize)" in one.output
    runs = cli(*args, "--runs", "5")
    assert runs.exit_code == 0, runs.output
    assert "failed node allocations" in runs.output and "targets held by a resize" in runs.output
