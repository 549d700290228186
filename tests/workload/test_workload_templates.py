"""Templates: values reach the shell quoted, `{x!raw}` as they are, and a placeholder inside quotes is refused."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigcompute.workload.templates import TemplateError, parse_template

KNOWN = frozenset({"file", "name", "seed", "index", "x"})
NASTY = ["$(touch X).mp4", "a`id`.mp4", "a&&cmd&&.mp4", "b|cmd|.mp4", "it's a file.mp4", "a;b", "*", "~root",
         "-n", "", "new\nline", 'say "hi"', "back\\slash", "tab\there", "$HOME", "50%.csv", "a#b.csv"]


def command(text: str, **values) -> str:
    return parse_template(text, KNOWN, shell=True).render(values)


@pytest.mark.parametrize("text, values, expected", [
    ("run --seed {seed:04d}", {"seed": 7}, "run --seed 0007"),
    ("ffmpeg -i {file} out/{name}", {"file": "clips/clip_01.mp4", "name": "a/b.csv"},
     "ffmpeg -i clips/clip_01.mp4 out/a/b.csv"),
    ("echo {x}", {"x": "it's a file.mp4"}, """echo 'it'"'"'s a file.mp4'"""),
    ("echo {x}", {"x": "$(touch X).mp4"}, "echo '$(touch X).mp4'"),
    ("echo {x:>4}", {"x": 1}, "echo '   1'"),  # the spec applies first, then the quoting
    ("echo {{x}} {x}", {"x": "a b"}, "echo {x} 'a b'"),
    ("echo {x!raw}", {"x": "$(touch X).mp4"}, "echo $(touch X).mp4"),
    ("echo {x!raw:>3}", {"x": 1}, "echo   1"),
    ("echo \"$(cat {file})\"", {"file": "a b"}, "echo \"$(cat 'a b')\""),  # $( ) opens a fresh quoting
    ("echo {x} # it's a comment\necho {seed}", {"x": "a b", "seed": 1}, "echo 'a b' # it's a comment\necho 1"),
])
def test_command_values_are_shell_quoted(text, values, expected):
    assert command(text, **values) == expected


@pytest.mark.parametrize("value", NASTY)
def test_the_shell_receives_the_exact_value(tmp_path, value):
    """/bin/sh itself reads the filled command back: one argument, the value byte for byte, nothing run."""
    line = command("printf %s {x} > out.txt; printf %s {x}{x} >> out.txt", x=value)
    subprocess.run(["/bin/sh", "-c", line], cwd=tmp_path, check=True)
    assert (tmp_path / "out.txt").read_text() == value + value * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_raw_is_raw(tmp_path):
    subprocess.run(["/bin/sh", "-c", command("{x!raw} > out.txt", x="echo a b | tr a-z A-Z")], cwd=tmp_path,
                   check=True)
    assert (tmp_path / "out.txt").read_text() == "A B\n"


@pytest.mark.parametrize("text, where, fix", [
    ('ffmpeg -i "{file}" out.mp4', "inside double quotes", "remove the quotes around it"),
    ("echo '{name}'", "inside single quotes", "remove the quotes around it"),
    ('echo "out/{name}.txt"', "inside double quotes", "remove the quotes around it"),
    ("echo --name='{x}'", "inside single quotes", "remove the quotes around it"),
    ('echo "$(cat "{file}")"', "inside double quotes", "remove the quotes around it"),
    ("echo # it's\necho '{x}'", "inside single quotes", "remove the quotes around it"),
    ("echo a\\{x}", "right after a backslash", "remove the backslash"),
    ("diff <(sort '{file}') b", "inside single quotes", "remove the quotes around it"),
    ("echo `echo \"{x}\"`", "inside double quotes", "remove the quotes around it"),
])
def test_a_placeholder_inside_quotes_is_refused(text, where, fix):
    with pytest.raises(TemplateError) as info:
        parse_template(text, KNOWN, shell=True)
    name = text.split("{")[-1].split("}")[0]
    assert str(info.value) == (f"placeholder {{{name}}} is {where}: values are shell-quoted for you, so {fix} "
                               f"(or write {{{name}!raw}} to insert the value as it is)")


@pytest.mark.parametrize("text", ["echo \"it's\" {x}", "echo 'say \"' {x}", "echo \"a\\\"\" {x}",
                                  "echo \"{x!raw}\"", "echo \\\\{x}", 'echo "(" {x}', 'echo $(echo ")" {x})',
                                  "echo # it's {x}"])
def test_quotes_that_close_before_the_placeholder_are_fine(text):
    parse_template(text, KNOWN, shell=True)


def test_other_fields_are_not_quoted():
    assert parse_template("t-{x}", KNOWN).render({"x": "a b"}) == "t-a b"


@pytest.mark.parametrize("text, shell, message", [
    ("t-{x!raw}", False, "placeholder {x!raw}: the raw form is for commands only"),
    ("echo {x!r}", True, "placeholder {x!r}: conversions are not supported (only {name!raw}, in commands)"),
    ("echo {x!}", True, "conversions are not supported"),
    ("echo {x.__class__}", True, "placeholder {x.__class__} must be a plain name"),
    ("echo {x[0]}", True, "placeholder {x[0]} must be a plain name"),
    ("echo {x:{seed}}", True, "nested placeholders are not supported"),
    ("echo {x", True, "'{' at column 6 is never closed"),
    ("echo x}", True, "single '}' at column 7"),
    ("echo {nope!raw}", True, "unknown placeholder {nope}"),
])
def test_malformed_placeholders_are_refused(text, shell, message):
    with pytest.raises(TemplateError) as info:
        parse_template(text, KNOWN, shell=shell)
    assert message in str(info.value)


@pytest.mark.parametrize("text, value, expected", [
    ("run {seed:04d} {seed:.2f} {seed:,} {seed:x} {seed:+}", 1234, "run 1234 1234.00 1,234 4d2 +1234"),
    ("run {seed:5d}", 7, "run '    7'"),  # space padding: still quoted
    ("run {seed: }", 7, "run ' 7'"),
    ("run {seed:*>3}", 7, "run '**7'"),
    ("run {seed:c}", 59, "run ';'"),
])
def test_fields_known_to_be_numbers_skip_quoting_only_when_the_spec_keeps_them_plain(text, value, expected):
    template = parse_template(text, KNOWN, shell=True).trusting({"seed"})
    assert template.render({"seed": value}) == expected


def test_a_sweep_of_text_values_is_quoted_and_a_sweep_of_numbers_renders_plainly(write):
    from bigcompute.workload import iter_tasks, load_workload

    lw = load_workload(write("apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\ntasks:\n"
                             "  - id: t{index}\n    command: run {n:03d} {s} {index}\n"
                             "    sweep: {n: {start: 0, stop: 2}, s: {values: ['a b', 1]}}\n"))
    assert [t.command for t in iter_tasks(lw.workload, lw.files)] == [
        "run 000 'a b' 0", "run 000 1 1", "run 001 'a b' 2", "run 001 1 3"]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_characters="\0")), st.sampled_from(["", ":>3", ":.2"]))
def test_any_text_value_is_one_shell_word(value, spec):
    """shlex.split reads a command as /bin/sh does: each filled value is exactly one word."""
    line = command(f"run {{x{spec}}} --out out/{{x{spec}}}.txt", x=value)
    text = format(value, spec[1:])
    assert shlex.split(line) == ["run", text, "--out", f"out/{text}.txt"]
