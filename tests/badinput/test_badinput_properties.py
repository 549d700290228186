"""Properties: whatever goes in, the loaders and the formula parser answer with a located error or a result,
never another exception.

Inputs range from arbitrary bytes and text, through YAML and formula token soup, to documents generated
from the workload and stack schemas' shape and then mutated (keys dropped, renamed, values swapped for
junk). A workload that passes validation must also expand without an exception.
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bigcompute.autoscale import FormulaError, check, parse
from bigcompute.config import ConfigError, load_stack
from bigcompute.document import Diagnostic, DocumentError, load_text
from bigcompute.workload import WorkloadError, count_tasks, iter_tasks, load_workload

pytestmark = pytest.mark.slow  # 200 generated examples a property

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_TASKS = 1000  # generated sweeps stay cheap: anything larger is refused as over the cap


# What YAML counts as a line break (YAML 1.1, 5.4; PyYAML's reader): '\r' alone ends a line too.
YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def assert_located(diagnostics: list[Diagnostic], text: str | bytes) -> None:
    assert diagnostics, "an error without a diagnostic"
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    lines = len(YAML_BREAK.findall(decoded)) + 1
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
@example("\r{")  # a carriage return alone breaks the line (found by CI: the error is on YAML's line 3 of 2 + 1)
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


# Workloads that are valid most of the time, so the checks after the schema (ids, placeholders, dependencies,
# inputs) and the expansion are what the examples meet. One example in five carries one semantic defect.
NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
PARAM_NAMES = st.lists(st.sampled_from(["x", "y", "seed", "rate"]), min_size=1, max_size=2, unique=True)
WORDS = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), min_size=1, max_size=4, unique=True)
VALID_DURATIONS = st.sampled_from(["PT30M", "PT1H", "P1D", "PT1H30M", "PT45S", "P2DT3H"])
VALID_SETTINGS = st.fixed_dictionaries({}, optional={
    "retries": st.integers(-1, 100), "timeout": VALID_DURATIONS, "retention": VALID_DURATIONS, "slots": st.just(1),
    "elevated": st.booleans()})
VALID_OUTPUTS = st.lists(st.one_of(st.sampled_from(["out/*.txt", "result.json", "logs/**/*.log"]),
                                   st.fixed_dictionaries({"pattern": st.just("out/*.csv")}, optional={
                                       "when": st.sampled_from(["success", "failure", "always"])})),
                         max_size=2, unique_by=lambda o: o if isinstance(o, str) else o["pattern"])
VALID_ENV = st.dictionaries(st.sampled_from(["A", "MODE", "B_1"]), st.one_of(st.sampled_from(["1", "fast"]),
                            st.integers(0, 9), st.booleans()), max_size=2)
# defect -> the code of the diagnostic that must report it
DEFECTS = {"duplicate-id": "duplicate-id", "unknown-placeholder": "template", "unknown-dependency": "missing-dependency",
           "no-file-matches": "input", "merge-id-taken": "duplicate-id"}
FILES = {"data/*.csv": 2, "data/**/*.csv": 3, "data/sub/*.csv": 1}  # what each glob matches in `repo`


@st.composite
def parameter(draw) -> tuple[dict, bool]:
    """A sweep parameter and whether its values make valid task-id text."""
    kind = draw(st.sampled_from(["ints", "words", "range", "linspace"]))
    if kind == "ints":
        return {"values": draw(st.lists(st.integers(-50, 50), min_size=1, max_size=4, unique=True))}, True
    if kind == "words":
        return {"values": draw(WORDS)}, True
    if kind == "range":
        start = draw(st.integers(0, 5))
        stop = draw(st.integers(start + 1, start + 6))
        return {"start": start, "stop": stop, **({"step": draw(st.integers(1, 2))} if draw(st.booleans()) else {})}, True
    return {"from": 0, "to": draw(st.integers(1, 10)), "count": draw(st.integers(1, 4))}, False  # floats: 0.5


def parameter_size(p: dict) -> int:
    if "values" in p:
        return len(p["values"])
    if "count" in p:
        return p["count"]
    return len(range(p["start"], p["stop"], p.get("step", 1)))


def expected_tasks(data: dict) -> int:
    """The task count of a defect-free generated workload, counted from the document, not by the expansion."""
    count = 1 if "merge" in data else 0
    for group in data["tasks"]:
        if "sweep" in group:
            count += math.prod(parameter_size(p) for p in group["sweep"].values())
        elif "foreach" in group:
            count += FILES[group["foreach"]["files"]]
        else:
            count += 1
    return count


@st.composite
def task_group(draw, index: int, earlier: list[str]) -> dict:
    """Group `index`: one task, a sweep or one task per file; its ids start with g<index>, so they are unique."""
    kind = draw(st.sampled_from(["single", "sweep", "foreach"]))
    group: dict[str, Any]
    if kind == "single":
        group = {"id": f"g{index}", "command": draw(st.sampled_from(["echo hi", "sh data/prog.sh", "wc -l data/a.csv"]))}
        if earlier and draw(st.booleans()):
            group["dependsOn"] = draw(st.lists(st.sampled_from(earlier), min_size=1, unique=True))
    elif kind == "sweep":
        names = draw(PARAM_NAMES)
        params = {name: draw(parameter()) for name in names}
        in_id = all(ok for _, ok in params.values())
        group = {"id": f"g{index}-" + ("-".join(f"{{{n}}}" for n in names) if in_id else "{index}"),
                 "command": "echo " + " ".join(f"{{{n}}}" for n in names),
                 "sweep": {name: p for name, (p, _) in params.items()}}
    else:
        files = draw(st.sampled_from(sorted(FILES)))
        group = {"id": f"g{index}-" + ("{stem}" if files == "data/*.csv" else "{index}"), "command": "wc -l {file}",
                 "foreach": {"files": files}}
    group.update(draw(st.fixed_dictionaries({}, optional={
        "outputs": VALID_OUTPUTS, "env": VALID_ENV, "settings": VALID_SETTINGS, "displayName": st.just("group {index}")})))
    return group


@st.composite
def valid_workloads(draw) -> tuple[dict, str | None]:
    """(document, the defect it carries or None)."""
    groups: list[dict] = []
    singles: list[str] = []
    for index in range(draw(st.integers(1, 3))):
        groups.append(draw(task_group(index, singles)))
        if "sweep" not in groups[-1] and "foreach" not in groups[-1]:
            singles.append(groups[-1]["id"])
    data: dict[str, Any] = {"apiVersion": "bigcompute/v1", "kind": "Workload", "name": draw(NAMES), "pool": "cpu",
                            "tasks": groups}
    data.update(draw(st.fixed_dictionaries({}, optional={
        "inputs": st.lists(st.sampled_from(["data/*.csv", "data/**/*.csv", "data/prog.sh"]), min_size=1, max_size=2,
                           unique=True),
        "defaults": VALID_SETTINGS, "env": VALID_ENV, "download": st.just(["*/out/*.txt"]),
        "labels": st.dictionaries(st.sampled_from(["team", "cost-center"]), st.sampled_from(["risk", "42"]),
                                  max_size=2),
        "job": st.fixed_dictionaries({}, optional={"priority": st.integers(-1000, 1000),
                                                   "maxWallClockTime": VALID_DURATIONS,
                                                   "maxParallelTasks": st.sampled_from([-1, 1, 4])}),
        "merge": st.fixed_dictionaries({"command": st.just("cat $BIGCOMPUTE_TASK_OUTPUTS/*/out/*.txt > all.txt")},
                                       optional={"outputs": st.just(["all.txt"]), "settings": VALID_SETTINGS}),
        "prepare": st.fixed_dictionaries({"command": st.just("echo prepared")}, optional={"elevated": st.booleans()}),
    })))
    if any("foreach" in g for g in groups):  # a foreach takes its files from the inputs
        data["inputs"] = sorted({*data.get("inputs", []), "data/**/*.csv"})
    defect = draw(st.sampled_from([None] * 4 + list(DEFECTS)))  # None, the simplest, is drawn most
    if defect:
        add_defect(data, defect)
    return data, defect


def add_defect(data: dict, defect: str) -> None:
    """One mistake the schema lets through and a later check must find."""
    first = data["tasks"][0]
    if defect == "duplicate-id":
        data["tasks"].append({**first})
    elif defect == "unknown-placeholder":
        first["command"] += " {nothere}"
    elif defect == "unknown-dependency":
        data["tasks"].append({"id": "late", "command": "true", "dependsOn": ["never-defined"]})
    elif defect == "no-file-matches":
        data["tasks"].append({"id": "none-{index}", "command": "true", "foreach": {"files": "data/*.parquet"}})
        data["inputs"] = [*data.get("inputs", []), "data/*.parquet"]
    else:
        data["tasks"].append({"id": "merge", "command": "true"})
        data.setdefault("merge", {"command": "true"})


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


def test_generated_workloads_are_valid_or_refused_for_their_defect(repo: Path) -> None:
    """Most generated workloads are valid and expand to the task count their document says; the others are refused
    for the one defect they carry, by the check that should find it (not the schema)."""
    outcomes = []

    @PROPERTY
    @given(valid_workloads())
    def run(case: tuple[dict, str | None]) -> None:
        data, defect = case
        text = dump(data)
        path = write(repo, text)
        try:
            loaded = load_workload(path, pools=["cpu"], max_tasks=MAX_TASKS)
        except WorkloadError as e:
            assert_located(e.diagnostics, text)
            assert defect is not None, f"a valid workload refused: {e}\n{text}"
            assert DEFECTS[defect] in {d.code for d in e.diagnostics}, (defect, str(e))
            outcomes.append(False)
            return
        finally:
            path.unlink()
        assert defect is None, f"{defect} not found in\n{text}"
        tasks = list(iter_tasks(loaded.workload, loaded.files))
        assert count_tasks(loaded.workload, loaded.files) == len(tasks) == expected_tasks(data)
        assert len({t.id.lower() for t in tasks}) == len(tasks) and all(t.command for t in tasks)
        outcomes.append(True)

    run()
    assert sum(outcomes) >= 0.6 * len(outcomes), f"{sum(outcomes)} of {len(outcomes)} examples reached expansion"


@PROPERTY
@given(valid_workloads(), st.data())
def test_load_workload_mutated(repo: Path, case: tuple[dict, str | None], more) -> None:
    text = dump(mutate(case[0], more.draw))
    check_workload(write(repo, text), text)


@PROPERTY
@given(valid_workloads(), st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(
    ["", " ", "\n", ":", "- ", "{", "[", "'", "&a ", "*a", "\t", "#", "\x00", "\xe9"]), st.integers(0, 3)),
    min_size=1, max_size=4))
def test_load_workload_text_edits(repo: Path, case: tuple[dict, str | None], edits: list[tuple[int, str, int]]) -> None:
    """Byte-level damage to a mostly valid file: characters inserted, deleted, replaced."""
    text = dump(case[0])
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

