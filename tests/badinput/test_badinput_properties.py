"""Properties: whatever goes in, the loaders and the formula parser answer with a located error or a result,
never another exception.

Inputs range from arbitrary bytes and text, through YAML and formula token soup, to documents generated
from the workload and stack schemas' shape and then mutated (keys dropped, renamed, values swapped for
junk). A workload that passes validation must also expand without an exception.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigcompute.autoscale import FormulaError, check, parse
from bigcompute.config import ConfigError, load_stack
from bigcompute.document import Diagnostic, DocumentError, load_text
from bigcompute.workload import WorkloadError, count_tasks, iter_tasks, load_workload

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_TASKS = 1000  # generated sweeps stay cheap: anything larger is refused as over the cap


def assert_located(diagnostics: list[Diagnostic], text: str | bytes) -> None:
    assert diagnostics, "an error without a diagnostic"
    lines = (text.count(b"\n") if isinstance(text, bytes) else text.count("\n")) + 1
    for d in diagnostics:
        assert d.line >= 1 and d.column >= 1, d
        assert d.line <= lines + 1, (d, lines)
        assert d.message and d.code, d


# --- the YAML loader -------------------------------------------------------------------------------
YAML_TOKENS = st.sampled_from([
    "a", "b", "tasks", "id", "1", "-1", "0x1F", "1.5e3", ".nan", ".inf", "~", "null", "true", "yes",
    ":", ": ", " ", "  ", "\n", "\n  ", "- ", "[", "]", "{", "}", ", ", "&a ", "*a", "&b ", "*b", "<<: ",
    "!!int ", "!!bool ", "!!float ", "!!binary ", "!!set ", "!!omap ", "!!python/object:os.system ", "!x ",
    "'", '"', "\\", "\\u", "#", "? ", "|", ">", "\t", "---", "...", "%YAML 1.1", "\x00", "\x07", "\ufeff",
    "é", "\U0001f600", "2024-01-01", "12:30:00", "9" * 50,
])
YAML_SOUP = st.lists(YAML_TOKENS, max_size=60).map("".join)


@PROPERTY
@given(st.binary(max_size=400))
def test_load_text_bytes(raw: bytes) -> None:
    try:
        load_text(raw, "f.yaml")
    except DocumentError as e:
        assert_located(e.diagnostics, raw)


@PROPERTY
@given(st.one_of(YAML_SOUP, st.text(max_size=200),
                 st.text(st.characters(blacklist_categories=()), max_size=50)))  # lone surrogates too
def test_load_text_str(text: str) -> None:
    try:
        load_text(text, "f.yaml")
    except DocumentError as e:
        assert_located(e.diagnostics, text)


@PROPERTY
@given(YAML_SOUP)
def test_load_text_utf8_of_yaml_soup(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    try:
        load_text(raw, "f.yaml")
    except DocumentError as e:
        assert_located(e.diagnostics, raw)


# --- workloads ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A repository with a workloads folder and a few input files the generated workloads can name."""
    root = tmp_path_factory.mktemp("props")
    (root / ".git").mkdir()
    (root / "workloads" / "data" / "sub").mkdir(parents=True)
    for name in ("a.csv", "b.csv", "sub/a.csv", "prog.sh"):
        (root / "workloads" / "data" / name).write_text("1\n")
    return root


_counter = itertools.count()


def write(repo: Path, content: str | bytes) -> Path:
    path = repo / "workloads" / f"w{next(_counter)}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def check_workload(path: Path, raw: str | bytes) -> None:
    """Only a located WorkloadError; a workload that passes validation expands without an exception."""
    try:
        loaded = load_workload(path, pools=["cpu"], max_tasks=MAX_TASKS)
    except WorkloadError as e:
        assert_located(e.diagnostics, raw)
        return
    finally:
        path.unlink()
    wl, files = loaded.workload, loaded.files
    assert count_tasks(wl, files) <= MAX_TASKS + 1
    for task in itertools.islice(iter_tasks(wl, files), 50):
        assert task.id and task.command


@PROPERTY
@given(st.binary(max_size=400))
def test_load_workload_bytes(repo: Path, raw: bytes) -> None:
    check_workload(write(repo, raw), raw)


NUMBERS = st.one_of(st.integers(-10, 2000), st.integers(-10**400, 10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 0.0, 1e-300, 1e300]))
DURATIONS = st.one_of(
    st.sampled_from(["PT30M", "P1D", "PT", "P", "P1M", "10m", "PT1.5S", "P1DT2H", "-PT1M", "PT0S", ""]),
    st.from_regex(r"P([0-9]{1,12}D)?(T[0-9]{1,22}H)?", fullmatch=True))
TEMPLATES = st.lists(st.sampled_from([
    "t", "-", "_", "{index}", "{x}", "{x:03d}", "{y:.2f}", "{workload}", "{file}", "{stem}", "{", "}", "{{",
    "}}", "{index.__class__}", "{x!r}", "{x:>99999}", "{x:{y}}", "{0}", "{}", " ", "/", "..", "é", "$HOME",
]), min_size=1, max_size=6).map("".join)
PATHS = st.lists(st.sampled_from([
    "data", "sub", "..", "*", "**", "a.csv", "*.csv", "[", "[ab]", ".", "", "~", "C:", "\\", "x" * 300, "\x00",
    "prog.sh", "{x}",
]), min_size=1, max_size=4).map("/".join)
JUNK = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=12), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=6), st.integers(), max_size=2))
PARAMETER = st.one_of(
    st.fixed_dictionaries({"values": st.lists(st.one_of(st.integers(), st.text(max_size=4), st.floats(),
                                                        st.booleans()), max_size=4)}),
    st.fixed_dictionaries({"start": NUMBERS, "stop": NUMBERS}, optional={"step": NUMBERS}),
    st.fixed_dictionaries({"from": NUMBERS, "to": NUMBERS, "count": st.one_of(st.integers(-2, 2000),
                                                                              st.integers(0, 10**40))}),
)
TASK_SETTINGS = st.fixed_dictionaries({}, optional={
    "retries": st.integers(-2, 200), "timeout": DURATIONS, "retention": DURATIONS, "slots": st.integers(-1, 300),
    "elevated": st.booleans()})
OUTPUTS = st.lists(st.one_of(PATHS, st.fixed_dictionaries(
    {"pattern": PATHS}, optional={"when": st.sampled_from(["success", "failure", "always", "never"])})), max_size=3)
ENV = st.dictionaries(st.sampled_from(["A", "B_1", "1X", "PATH", ""]), st.one_of(TEMPLATES, NUMBERS, st.booleans()),
                      max_size=2)
GROUP = st.fixed_dictionaries({"id": TEMPLATES, "command": TEMPLATES}, optional={
    "sweep": st.dictionaries(st.sampled_from(["x", "y", "index", "1bad"]), PARAMETER, max_size=2),
    "foreach": st.fixed_dictionaries({"files": PATHS}), "outputs": OUTPUTS, "env": ENV,
    "dependsOn": st.lists(st.one_of(TEMPLATES, st.sampled_from(["merge", "t", "t-{x}"])), max_size=3),
    "settings": TASK_SETTINGS, "displayName": TEMPLATES})
WORKLOAD = st.fixed_dictionaries({
    "apiVersion": st.just("bigcompute/v1"), "kind": st.just("Workload"),
    "name": st.one_of(st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True), st.just("demo\n")),
    "pool": st.sampled_from(["cpu", "gpu", "CPU"]), "tasks": st.lists(GROUP, min_size=1, max_size=3),
}, optional={
    "inputs": st.lists(st.one_of(PATHS, st.fixed_dictionaries({"blob": PATHS}, optional={"to": PATHS})), max_size=3),
    "defaults": TASK_SETTINGS, "env": ENV, "download": st.lists(PATHS, max_size=2),
    "labels": st.dictionaries(st.sampled_from(["team", "a b"]), st.one_of(st.text(max_size=5), NUMBERS), max_size=2),
    "job": st.fixed_dictionaries({}, optional={"priority": st.integers(-2000, 2000), "maxWallClockTime": DURATIONS,
                                               "maxParallelTasks": st.integers(-2, 5)}),
    "merge": st.fixed_dictionaries({"command": TEMPLATES}, optional={
        "id": st.one_of(TEMPLATES, st.just("t")), "outputs": OUTPUTS, "settings": TASK_SETTINGS, "env": ENV}),
    "prepare": st.fixed_dictionaries({"command": TEMPLATES}, optional={"elevated": JUNK}),
    "applications": st.lists(st.fixed_dictionaries({"id": st.text(max_size=5)}), max_size=12),
    "container": st.fixed_dictionaries({"image": st.text(max_size=5)}),
})


def mutate(data: Any, draw, depth: int = 0) -> Any:
    """Walk the document, now and then dropping a key, misspelling it, or swapping a value for junk."""
    roll = draw(st.integers(0, 19))
    if roll == 0:
        return draw(JUNK)
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            op = draw(st.integers(0, 29))
            if op == 0:
                continue  # dropped
            if op == 1:
                key = key[:-1] or "x"  # misspelled
            out[key] = mutate(value, draw, depth + 1)
        if roll == 1:
            out[draw(st.sampled_from(["extra", "comand", "Tasks", "<<"]))] = draw(JUNK)
        return out
    if isinstance(data, list):
        items = [mutate(v, draw, depth + 1) for v in data]
        return items + ([draw(JUNK)] if roll == 1 else [])
    return data


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


@PROPERTY
@given(WORKLOAD)
def test_load_workload_from_the_schema_shape(repo: Path, data: dict) -> None:
    text = dump(data)
    check_workload(write(repo, text), text)


@PROPERTY
@given(WORKLOAD, st.data())
def test_load_workload_mutated(repo: Path, data: dict, more) -> None:
    text = dump(mutate(data, more.draw))
    check_workload(write(repo, text), text)


@PROPERTY
@given(WORKLOAD, st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(
    ["", " ", "\n", ":", "- ", "{", "[", "'", "&a ", "*a", "\t", "#", "\x00", "\xe9"]), st.integers(0, 3)),
    min_size=1, max_size=4))
def test_load_workload_text_edits(repo: Path, data: dict, edits: list[tuple[int, str, int]]) -> None:
    """Byte-level damage to a schema-shaped file: characters inserted, deleted, replaced."""
    text = dump(data)
    for at, insert, delete in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + delete:]
    raw = text.encode("utf-8") if "\xe9" not in text else text.encode("latin-1", "replace")
    check_workload(write(repo, raw), raw)


# --- the stack config -----------------------------------------------------------------------------
FORMULA_TOKENS = st.sampled_from([
    "$TargetDedicatedNodes", "$TargetLowPriorityNodes", "$NodeDeallocationOption", "$CPUPercent",
    "$PendingTasks", "$ActiveTasks", "$CurrentDedicatedNodes", "$TaskSlotsPerNode", "$x", "y", "$Foo", "=", "+",
    "-", "*", "/", "(", ")", ";", "?", ":", ",", ".", "GetSample", "GetSamplePercent", "Count", "avg", "max", "min",
    "val", "percentile", "time", "hour", "weekday", "TimeInterval_Minute", "TimeInterval_Fortnight", "1", "0",
    "2.5", "100", '"s"', '"2025-01-01T00:00:00Z"', '"taskcompletion"', '"unterminated', "\n", "\r\n", " ", "\t",
    "&&", "||", "!", "==", "!=", "<", ">=", "//c\n", "@", "#", "\x00", "é", "9" * 400,
])
FORMULA_SOUP = st.lists(FORMULA_TOKENS, max_size=40).map(" ".join)
POOL = st.fixed_dictionaries({
    "name": st.sampled_from(["cpu", "CPU", "render", "a b", ""]),
    "vmSize": st.sampled_from(["Standard_D2s_v5", "D2s", "standard_x"]),
    "image": st.one_of(st.sampled_from(["ubuntu-24.04", "ubuntu-18.04", "windows-2022"]), st.fixed_dictionaries(
        {"publisher": st.just("canonical"), "offer": st.just("o"), "sku": st.just("s")},
        optional={"nodeAgentSku": st.just("batch.node.ubuntu 24.04")})),
    "scale": st.one_of(
        st.fixed_dictionaries({"fixed": st.fixed_dictionaries({}, optional={"dedicated": NUMBERS, "spot": NUMBERS})}),
        st.fixed_dictionaries({"autoscale": st.fixed_dictionaries({}, optional={
            "formula": st.one_of(FORMULA_SOUP, st.just("$TargetDedicatedNodes = 1;")),
            "preset": st.sampled_from(["queue-pending", "work-hours", "cpu", "scale-to-zero", "queue-active-spot", "x"]),
            "minNodes": NUMBERS, "maxNodes": NUMBERS, "evaluationInterval": DURATIONS})}),
    ),
}, optional={
    "taskSlotsPerNode": NUMBERS, "scheduling": st.sampled_from(["pack", "spread", "x"]),
    "startTask": st.fixed_dictionaries({}, optional={"aptPackages": st.lists(st.sampled_from(["ffmpeg", "a;b"])),
                                                     "elevated": st.booleans(), "command": st.text(max_size=5)}),
    "local": st.fixed_dictionaries({}, optional={"nodes": NUMBERS, "taskSlotsPerNode": NUMBERS}),
    "pricing": st.fixed_dictionaries({}, optional={"dedicatedPerHour": NUMBERS, "spotPerHour": NUMBERS}),
})
CIDRS = st.one_of(st.sampled_from(["10.40.0.0/16", "10.40.0.0/20", "10.41.0.0/24", "999.1.1.1/8", "10.0.0.0/33",
                                   "1.2.3.4/0", "10.40.0.0"]), st.text(max_size=8))
STACK = st.fixed_dictionaries({"config": st.fixed_dictionaries({
    "bigcompute:location": st.sampled_from(["westeurope", ""]),
    "bigcompute:environment": st.sampled_from(["test", "dev\n", "Prod"]),
    "bigcompute:pools": st.lists(POOL, max_size=3),
}, optional={
    "bigcompute:network": st.fixed_dictionaries({"addressSpace": CIDRS, "subnetPrefix": CIDRS}),
    "bigcompute:storage": st.fixed_dictionaries({}, optional={"sku": st.sampled_from(["Standard_LRS", "x"]),
                                                              "containers": st.fixed_dictionaries(
                                                                  {}, optional={"inputs": st.text(max_size=8)})}),
    "bigcompute:batch": st.fixed_dictionaries({}, optional={"activeJobQuota": NUMBERS,
                                                            "authenticationModes": st.lists(st.sampled_from(
                                                                ["AAD", "SharedKey", "x"]), max_size=3)}),
    "other:key": JUNK,
})})


def check_stack(repo: Path, raw: str | bytes) -> None:
    path = repo / "stacks" / f"Pulumi.s{next(_counter)}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))
    try:
        stack = load_stack(path)
    except ConfigError as e:
        assert_located(e.diagnostics, raw)
        return
    finally:
        path.unlink()
    for pool in stack.pools:  # a valid stack's autoscale formula renders and parses
        if getattr(pool.scale, "formula", None) or getattr(pool.scale, "preset", None):
            parse(pool.formula())


@PROPERTY
@given(st.one_of(st.binary(max_size=300), YAML_SOUP))
def test_load_stack_arbitrary(repo: Path, raw: bytes | str) -> None:
    check_stack(repo, raw)


@PROPERTY
@given(STACK, st.data())
def test_load_stack_from_the_schema_shape_mutated(repo: Path, data: dict, more) -> None:
    if more.draw(st.booleans()):
        data = mutate(data, more.draw)
    check_stack(repo, dump(data))


def test_valid_documents_pass_the_same_checks(repo: Path) -> None:
    """The checks above accept valid input (they are not vacuous): a stack, and a workload that expands."""
    from tests.runner.conftest import STACK as VALID

    check_stack(repo, textwrap.dedent(VALID))
    text = dump({"apiVersion": "bigcompute/v1", "kind": "Workload", "name": "ok", "pool": "cpu",
                 "inputs": ["data/*.csv"], "tasks": [{"id": "t{x:02d}", "command": "run {x}",
                                                      "sweep": {"x": {"start": 0, "stop": 3}}}]})
    check_workload(write(repo, text), text)


# --- formulas -------------------------------------------------------------------------------------
def assert_formula_error(error: FormulaError, text: str) -> None:
    assert isinstance(error, FormulaError)
    assert error.line >= 1 and error.column >= 1, error
    assert error.line <= text.count("\n") + 1, (error, text.count("\n"))
    assert error.message
    str(error)  # renders, caret included


@PROPERTY
@given(st.one_of(FORMULA_SOUP, st.text(max_size=200), st.lists(FORMULA_TOKENS, max_size=40).map("".join)))
def test_formula_parse_and_check(text: str) -> None:
    errors = check(text)
    for error in errors:
        assert_formula_error(error, text)
    try:
        parse(text)
    except FormulaError as e:
        assert errors, "parse() refused what check() accepted"
        assert_formula_error(e, text)
    else:
        assert not errors, "check() refused what parse() accepted"


@PROPERTY
@given(st.lists(st.sampled_from(["(", "-", "!", "max(", "avg($CPUPercent.GetSample(", "1 + "]), max_size=600))
def test_formula_deep_nesting_is_an_error_not_a_crash(prefix: list[str]) -> None:
    text = "$TargetDedicatedNodes = " + "".join(prefix) + "1;"
    for error in check(text):
        assert_formula_error(error, text)

