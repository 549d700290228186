"""File names as attacks: on the local target, tasks receive hostile input names as plain text.

Each foreach task writes what its command received — the `{file}` / `{name}` / `{stem}` placeholders, the
BIGCOMPUTE_* variables, the file's content and its working directory — to outputs. No marker file the
names try to create appears in that working directory; `{file!raw}` shows the same spot is where an
unquoted name would have run its command.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from click.testing import CliRunner

from bigcompute.cli.main import cli
from tests.runner.conftest import write_workload

INJECTIONS = {"$(touch pwned1).mp4": "pwned1", "a`touch pwned2`.mp4": "pwned2", "a&&touch pwned3&&.mp4": "pwned3",
              "b|touch pwned4|.mp4": "pwned4", "c;touch pwned5;.mp4": "pwned5"}
# Names a URL mangles (`#` a fragment, `?` a query, `;` parameters, `%` an escape) and a shell splits.
AWKWARD = ["it's a file.mp4", "a#b.mp4", "c?d.mp4", "e;f.mp4", "50%.mp4"]

RECORD = """\
tasks:
  - id: t-{index}
    command: |
      mkdir -p got; pwd > got/wd.txt; cat {file} > got/content.txt
      printf '%s\\n' {file} {name} {stem} > got/args.txt
      printf '%s\\n' "$BIGCOMPUTE_FILE" "$BIGCOMPUTE_NAME" "$BIGCOMPUTE_STEM" "$BIGCOMPUTE_INDEX" > got/env.txt
    foreach: {files: 'media/*.mp4'}
    outputs: ['got/*']
inputs: ['media/*']
"""


def apply_names(repo: Path, names: list[str], body: str, clients) -> dict[str, dict[str, str]]:
    """Apply `body` over input files called `names` (each holding its own name); the outputs per task."""
    (repo / "workloads" / "media").mkdir()
    for name in names:
        (repo / "workloads" / "media" / name).write_text(name)
    workload = f"names-{uuid.uuid4().hex[:6]}"
    write_workload(repo, workload, body)
    [row] = json.loads(_run("plan", "--stack", "test", "--format", "json").output)["workloads"]
    applied = _run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert applied.exit_code == 0, applied.output
    outputs = clients.container("outputs")
    found: dict[str, dict[str, str]] = {}
    for blob in outputs.list_blobs(name_starts_with=f"{row['job']}/"):
        _, task, *rest = blob.name.split("/")  # <job>/<task>/<file>, beside <job>/manifest.json
        if rest:
            found.setdefault(task, {})["/".join(rest)] = outputs.download_blob(blob.name).readall().decode()
    return found


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_hostile_file_names_reach_the_task_as_text(repo, local_files, clients):
    names = sorted([*INJECTIONS, *AWKWARD])
    found = apply_names(repo, names, RECORD, clients)
    assert len(found) == len(names)
    for index, name in enumerate(names):  # foreach tasks follow the files' sorted order
        got = found[f"t-{index}"]
        wd = Path(got["wd.txt"].strip())
        assert wd.is_dir() and not [p.name for p in wd.iterdir() if p.name.startswith("pwned")], name
        stem = name.removesuffix(".mp4")
        assert got["args.txt"] == f"media/{name}\n{name}\n{stem}\n"
        assert got["env.txt"] == f"media/{name}\n{name}\n{stem}\n{index}\n"
        assert got["content.txt"] == name


def test_raw_placeholders_are_inserted_as_they_are(repo, local_files, clients):
    """The control: unquoted, the same name runs its command in the working directory checked above."""
    raw = RECORD.replace("printf '%s\\n' {file} {name} {stem} > got/args.txt", "printf '%s\\n' {file!raw} > got/args.txt")
    found = apply_names(repo, ["$(touch pwned1).mp4"], raw, clients)
    got = found["t-0"]
    assert got["args.txt"] == "media/.mp4\n"
    assert (Path(got["wd.txt"].strip()) / "pwned1").is_file()
