"""Submit-time parameters: declared in `parameters:`, given by --set and --values, checked before anything,
used as placeholders and as `{param: NAME}` values, exported to tasks, and part of the job's identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigcompute.cli.main import cli
from bigcompute.workload import WorkloadError, check_workloads, count_tasks, iter_tasks, load_workload
from bigcompute.workload.parameters import load_values, parse_set
from bigcompute.workload.wire import job_id, spec_hash

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
RENDER = HEAD + """\
parameters:
  frames: {type: int, default: 4, min: 1, max: 1000, description: frames to render}
  quality: {type: string, allowed: [draft, final], default: draft}
  scale: {type: number, default: 0.5}
  denoise: {type: bool, default: false}
  scene: {type: string}
tasks:
  - id: f{frame:03d}-{quality}
    command: render {scene} --frame {frame} --scale {scale} --denoise {denoise}
    sweep:
      frame: {start: 0, stop: {param: frames}}
    env: {QUALITY: '{quality}'}
    outputs: ['out/{quality}/*.exr']
"""


def set_values(*sets: str):
    values, problems = parse_set(sets)
    assert not problems
    return values


def load(write, text=RENDER, *sets: str, **kwargs):
    return load_workload(write(text), given=set_values(*sets), **kwargs)


def test_values_fill_placeholders_counts_and_the_environment(write):
    lw = load(write, RENDER, "scene=it's a scene.blend", "frames=3", "quality=final", "denoise=true")
    wl = lw.workload
    assert wl.parameters == {"frames": 3, "quality": "final", "scale": 0.5, "denoise": True,
                             "scene": "it's a scene.blend"}
    tasks = list(iter_tasks(wl, lw.files))
    assert count_tasks(wl, lw.files) == 3 == len(tasks)
    assert [t.id for t in tasks] == ["f000-final", "f001-final", "f002-final"]
    # a string value is shell-quoted like any placeholder value; numbers and booleans go in as they are
    assert tasks[2].command == "render 'it'\"'\"'s a scene.blend' --frame 2 --scale 0.5 --denoise True"
    assert dict(tasks[0].env) == {"QUALITY": "final"}
    assert tasks[0].outputs[0].pattern == "out/final/*.exr"
    # every task reads the values in its environment: the job's common environment
    assert wl.env["BIGCOMPUTE_PARAM_frames"] == "3" and wl.env["BIGCOMPUTE_PARAM_denoise"] == "true"


def test_defaults_apply_and_a_later_set_wins(write, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("frames: 7\nquality: final\n")
    file_values = load_values(values)
    path = write(RENDER)
    lw = load_workload(path, given=[*file_values, *set_values("scene=a", "frames=2")])
    assert lw.workload.parameters["frames"] == 2  # --set after --values
    assert lw.workload.parameters["quality"] == "final"  # from the file
    assert lw.workload.parameters["scale"] == 0.5  # the default


def test_values_are_the_jobs_identity(write):
    path = write(RENDER)
    a = load_workload(path, given=set_values("scene=a")).workload
    a_again = load_workload(path, given=set_values("scene=a", "frames=4")).workload  # 4 is the default
    b = load_workload(path, given=set_values("scene=b")).workload
    assert job_id(a, {}) == job_id(a_again, {})
    assert job_id(a, {}) != job_id(b, {})
    # a value used only as a placeholder (not in the file's data) still changes the job
    quality = load_workload(path, given=set_values("scene=a", "quality=final")).workload
    assert spec_hash(quality, {}) != spec_hash(a, {})


def test_a_workload_without_parameters_keeps_its_job_id(write):
    import hashlib

    wl = load_workload(write(HEAD + "tasks:\n  - {id: t, command: x}\n")).workload
    canonical = json.dumps({"spec": wl.raw, "inputs": []}, sort_keys=True, separators=(",", ":"), default=str)
    assert spec_hash(wl, {}) == hashlib.sha256(canonical.encode()).hexdigest()


def problems(write, text, *sets, values_file: Path | None = None):
    path = write(text)
    extra = load_values(values_file) if values_file else []
    return [d for _, _, ds in check_workloads([path], given=[*extra, *set_values(*sets)]) for d in ds]


def test_set_values_are_checked_and_located_at_the_argument(write):
    found = problems(write, RENDER, "scene=x", "frames=lots", "quality=best", "scale=inf", "denoise=maybe")
    by_name = {d.path[0]: d for d in found}
    assert set(by_name) == {"frames", "quality", "scale", "denoise"}
    assert by_name["frames"].file == "--set #2" and by_name["frames"].column == len("frames=") + 1
    assert "expected an integer, got 'lots'" in by_name["frames"].message
    assert "not one of the allowed values: 'draft', 'final'" in by_name["quality"].message
    assert "finite number" in by_name["scale"].message and "true or false" in by_name["denoise"].message


def test_bounds_and_control_characters_are_refused(write):
    found = problems(write, RENDER, "scene=a\x1b[2Jb", "frames=0")
    messages = " ".join(d.message for d in found)
    assert "control character U+001B" in messages and "below the minimum, 1" in messages
    assert problems(write, RENDER, "scene=a\0b")  # NUL: a command line ends there


def test_values_file_errors_name_the_file_and_line(write, tmp_path):
    values = tmp_path / "v.yaml"
    values.write_text("scene: a\nframes: '12'\nversion: 1.10\n")
    found = problems(write, RENDER, values_file=values)
    frames = next(d for d in found if d.path == ("frames",))
    assert (frames.file, frames.line) == (str(values), 2)  # a quoted number in YAML is a string: refused
    unknown = next(d for d in found if d.path == ("version",))
    assert unknown.line == 3 and "no workload declares a parameter 'version'" in unknown.message


def test_missing_required_and_unknown_names(write):
    found = problems(write, RENDER, "sceen=a")
    assert any(d.code == "parameter-missing" and d.path == ("parameters", "scene") for d in found)
    typo = next(d for d in found if d.path == ("sceen",))
    assert "declared: denoise, frames, quality, scale, scene" in typo.message


def test_a_reference_takes_the_type_its_field_needs(write):
    text = HEAD + "parameters:\n  n: {type: number, default: 2.5}\ntasks:\n  - id: t{index}\n    command: x\n" \
                  "    repeat: {param: n}\n"
    [d] = problems(write, text)
    assert d.path == ("tasks", 0, "repeat") and d.line == 10 and "expected integer" in d.message


def test_parse_set_refuses_a_missing_equals_sign():
    _, bad = parse_set(["frames"])
    assert bad and "expected --set NAME=VALUE" in bad[0].message


def test_cli_validate_and_expand_take_set_and_values(repo, write, tmp_path, monkeypatch):
    monkeypatch.chdir(repo)
    path = write(RENDER)
    runner = CliRunner()
    ok = runner.invoke(cli, ["validate", str(path), "--set", "scene=a", "--set", "frames=2"])
    assert ok.exit_code == 0, ok.output
    assert "2 tasks" in ok.output and "frames=2" in ok.output
    bad = runner.invoke(cli, ["validate", str(path), "--set", "scene=a", "--set", "frames=x"])
    assert bad.exit_code == 2 and "--set #2:1:8: $.frames" in bad.output
    missing = runner.invoke(cli, ["validate", str(path)])
    assert missing.exit_code == 2 and "has no default and no value was given" in missing.output
    values = tmp_path / "v.yaml"
    values.write_text("scene: b\nquality: final\n")
    out = runner.invoke(cli, ["expand", str(path), "--values", str(values), "--limit", "1"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["parameters"]["quality"] == "final" and body["tasks"][0]["id"] == "f000-final"
    broken = tmp_path / "broken.yaml"
    broken.write_text("- a\n- b\n")
    refused = runner.invoke(cli, ["expand", str(path), "--values", str(broken)])
    assert refused.exit_code == 2 and "a values file is a mapping" in refused.output


@pytest.mark.parametrize("name", ["index", "workload", "task"])
def test_a_parameter_may_not_hide_a_builtin_placeholder(write, name):
    text = HEAD + f"parameters:\n  {name}: {{default: x}}\ntasks:\n  - {{id: t, command: x}}\n"
    with pytest.raises(WorkloadError) as e:
        load_workload(write(text))
    assert "would hide the built-in placeholder" in str(e.value)


DECLARATION = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["string", "int", "number", "bool"]),
    "default": st.one_of(st.integers(-3, 3), st.floats(allow_nan=False), st.text("ab\x1b", max_size=3),
                         st.booleans()),
    "allowed": st.lists(st.one_of(st.integers(-3, 3), st.text("ab", max_size=2), st.booleans()), min_size=1,
                        max_size=3),
    "min": st.integers(-3, 3), "max": st.integers(-3, 3)})
SET_TEXT = st.text(st.sampled_from("ab01-.e\x07 truefalsinf"), max_size=6)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["p", "q"]), DECLARATION, min_size=1), st.lists(st.tuples(
    st.sampled_from(["p", "q", "r"]), SET_TEXT), max_size=3))
def test_any_declaration_and_values_give_a_workload_or_located_errors(write, declarations, sets):
    """Whatever is declared and given: a loaded workload whose values obey their declarations, or errors located
    at a line of the workload or at a --set argument; never another exception."""
    import yaml

    text = HEAD + yaml.safe_dump({"parameters": declarations, "tasks": [
        {"id": "t{index}", "command": "run " + " ".join(f"{{{n}}}" for n in declarations)}]}, sort_keys=False)
    values, bad = parse_set([f"{n}={v}" for n, v in sets])
    found = [d for _, _, ds in check_workloads([write(text)], given=values) for d in ds] + bad
    for d in found:
        assert d.line >= 1 and d.code and (d.file.startswith("--set #") or d.file.endswith("w.yaml")), d
    if found:
        return
    wl = load_workload(write(text), given=values).workload
    for name, value in wl.parameters.items():
        spec = declarations[name]
        kind = spec.get("type", "string")
        assert isinstance(value, {"string": str, "bool": bool, "int": int, "number": (int, float)}[kind])
        assert "allowed" not in spec or value in spec["allowed"]
        assert "min" not in spec or value >= spec["min"]
    list(iter_tasks(wl, ()))
