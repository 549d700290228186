"""The bad-input corpus (tests/data/bad/, see its README) through the real CLI, in process.

Every broken workload is applied with `apply --stack test --wait` against a local target (Azurite and the
instant emulator): exit code 2, the file named at the expected line and column, no traceback, and nothing
created — no container, blob or job appeared, no file was written. `validate --format json` on the same
file reports the expected diagnostic code. Broken stack files go through `validate --stack FILE` (and
`apply --stack FILE`, which must also change nothing), broken formulas through `autoscale check FILE`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bigcompute.cli.main import cli
from tests.runner.conftest import STACK, make_target, write_local_files

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
KINDS = ("workloads", "stacks", "formulas")
SUFFIXES = {"workloads": (".yaml", ".yml"), "stacks": (".yaml", ".yml"), "formulas": (".formula",)}
EXPECT = re.compile(r"(?:#|//) expect:(.*)")
LINE = re.compile(r"\s*(\d+):(\d+) (.+?)\s*$")
TOO_LARGE = 2 * 1024 * 1024 + 1


@dataclass(frozen=True)
class Expect:
    file: str  # relative to the case's folder in the temp repository ("" for the case file itself)
    line: int
    column: int
    what: str  # a diagnostic code (workloads, stacks) or a message fragment (formulas)


@dataclass(frozen=True)
class Case:
    kind: str
    name: str  # path below the kind's folder: a file, or a folder applied as a whole
    expects: tuple[Expect, ...]

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


def expectations(path: Path) -> list[tuple[int, int, str]]:
    """The `line:col what` lines of a sidecar `<file>.expect`, or of the file's leading `expect:` comments."""
    sidecar = path.with_name(path.name + ".expect")
    if sidecar.exists():
        lines = [ln for ln in sidecar.read_text().splitlines() if not ln.startswith("#")]
    else:
        lines = []
        for ln in path.read_bytes().decode("utf-8", "replace").lstrip("\ufeff").splitlines():
            match = EXPECT.match(ln)
            if not match:
                break
            lines.append(match.group(1))
    found = []
    for ln in lines:
        match = LINE.match(ln)
        assert match, f"{path}: malformed expectation {ln!r}"
        found.append((int(match[1]), int(match[2]), match[3]))
    return found


def corpus_cases() -> list[Case]:
    cases = []
    for kind in KINDS:
        for entry in sorted((CORPUS / kind).iterdir()):
            if entry.is_dir() and entry.name != "data":  # a set of files applied together
                expects = tuple(Expect(f.name, *e) for f in sorted(entry.iterdir()) for e in expectations(f))
                cases.append(Case(kind, entry.name, expects))
            elif entry.suffix in SUFFIXES[kind]:
                cases.append(Case(kind, entry.name, tuple(Expect("", *e) for e in expectations(entry))))
    return cases


# Made at test time rather than committed: over 2 MiB, a symlink (out of the repo, or to its private files), or a FIFO.
def _oversized_workload(folder: Path) -> None:
    head = "apiVersion: bigcompute/v1\nkind: Workload\nname: oversized\npool: cpu\ntasks:\n  - {id: a, command: x}\n"
    (folder / "oversized.yaml").write_text(head + "# padding\n" * (TOO_LARGE // 10 + 1))


def _oversized_stack(folder: Path) -> None:
    (folder / "oversized.yaml").write_text(textwrap.dedent(STACK) + "# padding\n" * (TOO_LARGE // 10 + 1))


def _oversized_formula(folder: Path) -> None:
    (folder / "oversized.formula").write_text("$TargetDedicatedNodes = 1; // " + "x" * TOO_LARGE + "\n")


def _symlink_escape(folder: Path) -> None:
    outside = folder.parents[1] / "outside-the-repo.txt"  # beside the repository, not in it
    outside.write_text("private\n")
    (folder / "escape").mkdir(exist_ok=True)
    (folder / "escape" / "innocent.csv").symlink_to(outside)
    (folder / "symlink-escape.yaml").write_text(
        "apiVersion: bigcompute/v1\nkind: Workload\nname: symlink-escape\npool: cpu\n"
        "inputs: [escape/innocent.csv]\ntasks:\n  - {id: a, command: x}\n")


def _symlinked_secret(case: str, name: str, target: str) -> Callable[[Path], None]:
    """A link inside the workloads folder to a private file of the repository (the local target's key,
    `.git/config`): the file exists, so only the symlink rule stands between it and the inputs container."""
    def make(folder: Path) -> None:
        secret = folder.parent / target
        secret.parent.mkdir(parents=True, exist_ok=True)
        if not secret.exists():
            secret.write_text("[core]\n")
        (folder / "links").mkdir(exist_ok=True)
        (folder / "links" / name).symlink_to(Path("../..") / target)
        (folder / f"{case}.yaml").write_text(
            f"apiVersion: bigcompute/v1\nkind: Workload\nname: {case}\npool: cpu\n"
            f"inputs: [links/{name}]\ntasks:\n  - {{id: a, command: cat links/{name}}}\n")
    return make


def _fifo_input(folder: Path) -> None:
    (folder / "fifos").mkdir(exist_ok=True)
    os.mkfifo(folder / "fifos" / "pipe.csv")
    (folder / "input-fifo.yaml").write_text("apiVersion: bigcompute/v1\nkind: Workload\nname: fifo-input\n"
                                            "pool: cpu\ninputs: ['fifos/*.csv']\ntasks:\n  - {id: a, command: x}\n")


def _fifo_file(name: str) -> Callable[[Path], None]:
    return lambda folder: os.mkfifo(folder / name)


GENERATED: dict[str, tuple[Case, Callable[[Path], None]]] = {
    c.id: (c, make) for c, make in [
        (Case("workloads", "oversized.yaml", (Expect("", 1, 1, "too-large"),)), _oversized_workload),
        (Case("workloads", "symlink-escape.yaml", (Expect("", 5, 10, "input"),)), _symlink_escape),
        (Case("stacks", "oversized.yaml", (Expect("", 1, 1, "too-large"),)), _oversized_stack),
        (Case("formulas", "oversized.formula", (Expect("", 1, 8193, "Batch allows at most 8192"),)), _oversized_formula),
        (Case("workloads", "input-symlink-to-credentials.yaml", (Expect("", 5, 10, "input"),)),
         _symlinked_secret("input-symlink-to-credentials", "creds.json", ".bigcompute/local/credentials.json")),
        (Case("workloads", "input-symlink-to-git-config.yaml", (Expect("", 5, 10, "input"),)),
         _symlinked_secret("input-symlink-to-git-config", "cfg", ".git/config")),
        (Case("workloads", "input-fifo.yaml", (Expect("", 5, 10, "input"),)), _fifo_input),
        (Case("workloads", "workload-is-a-fifo.yaml", (Expect("", 1, 1, "not-a-file"),)),
         _fifo_file("workload-is-a-fifo.yaml")),
        (Case("stacks", "stack-is-a-fifo.yaml", (Expect("", 1, 1, "not-a-file"),)), _fifo_file("stack-is-a-fifo.yaml")),
        (Case("formulas", "formula-is-a-fifo.formula", (Expect("", 1, 1, "not a regular file"),)),
         _fifo_file("formula-is-a-fifo.formula")),
    ]
}
CASES = corpus_cases() + [c for c, _ in GENERATED.values()]
FOLDER = {"workloads": "workloads", "stacks": "bad-stacks", "formulas": "bad-formulas"}
GOOD = "apiVersion: bigcompute/v1\nkind: Workload\nname: fine\npool: cpu\ntasks:\n  - {id: a, command: x}\n"


@dataclass
class Bench:
    repo: Path
    target: object
    service: object
    batch: object

    def snapshot(self) -> tuple:
        """Everything an apply could create: containers, blobs of the target's containers, jobs, local files."""
        containers = sorted(c.name for c in self.service.list_containers())
        blobs = {name: sorted((b.name, b.etag) for b in self.service.get_container_client(name).list_blobs())
                 for name in self.target.containers.values()}
        jobs = sorted(j.id for j in self.batch.list_jobs())
        files = sorted(str(p.relative_to(self.repo)) for p in self.repo.rglob("*"))
        return containers, blobs, jobs, files


@pytest.fixture(scope="module")
def bench(tmp_path_factory, emulator, azurite) -> Bench:
    """One temporary repository holding the corpus, and one target (fresh containers, a pool) for the module."""
    repo = tmp_path_factory.mktemp("badinput") / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "stacks").mkdir()
    (repo / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    for kind, folder in FOLDER.items():
        shutil.copytree(CORPUS / kind, repo / folder)
    for case, make in GENERATED.values():
        make(repo / FOLDER[case.kind])
    (repo / "good").mkdir()
    (repo / "good" / "fine.yaml").write_text(GOOD)
    (repo / "empty").mkdir()
    target = make_target(emulator, azurite)
    write_local_files(repo, target)
    return Bench(repo, target, azurite.service(), emulator.client())


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def assert_refused(result: Result, case: Case, shown: str) -> None:
    """Exit 2 through the CLI's own exit path (no exception escaped), no traceback, every spot named."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    for e in case.expects:
        name = f"{shown}/{e.file}" if e.file else shown
        assert f"{name}:{e.line}:{e.column}:" in result.output, f"{e} not in:\n{result.output}"


def by_kind(kind: str) -> list:
    return [pytest.param(c, id=c.name) for c in CASES if c.kind == kind]


def test_corpus_is_complete() -> None:
    """At least 80 cases, each with an expectation; no stray file that would silently not be a case."""
    assert len(CASES) >= 80
    assert {c.kind for c in CASES} == set(KINDS)
    assert all(c.expects for c in CASES), [c.id for c in CASES if not c.expects]
    known = {c.name for c in CASES}
    for kind in KINDS:
        for entry in (CORPUS / kind).iterdir():
            assert entry.name in known or entry.name == "data" or (
                entry.name.endswith(".expect") and entry.name.removesuffix(".expect") in known), entry


@pytest.mark.parametrize("case", by_kind("workloads"))
def test_bad_workload_is_refused_before_any_side_effect(case: Case, bench: Bench, monkeypatch) -> None:
    monkeypatch.chdir(bench.repo)
    shown = f"workloads/{case.name}"
    before = bench.snapshot()
    applied = run("apply", shown, "--stack", "test", "--wait", "--poll-interval", "0.1")
    assert_refused(applied, case, shown)
    assert "nothing was changed" in applied.output
    assert bench.snapshot() == before, "apply of an invalid workload changed the target or the repository"

    validated = run("validate", shown, "--stack", "test", "--format", "json")
    assert validated.exit_code == 2, validated.output
    reported = {(err["file"], err["line"], err["column"], err["code"])
                for f in json.loads(validated.stdout)["files"] for err in f["errors"]}
    assert all(err["line"] >= 1 and err["column"] >= 1 for f in json.loads(validated.stdout)["files"]
               for err in f["errors"])
    for e in case.expects:
        assert (f"{shown}/{e.file}" if e.file else shown, e.line, e.column, e.what) in reported, reported


@pytest.mark.parametrize("case", by_kind("stacks"))
def test_bad_stack_is_refused(case: Case, bench: Bench, monkeypatch) -> None:
    monkeypatch.chdir(bench.repo)
    shown = f"bad-stacks/{case.name}"
    validated = run("validate", "empty", "--stack", shown)
    assert_refused(validated, case, shown)

    as_json = run("validate", "empty", "--stack", shown, "--format", "json")
    reported = {(err["line"], err["column"], err["code"]) for f in json.loads(as_json.stdout)["files"]
                for err in f["errors"]}
    for e in case.expects:
        assert (e.line, e.column, e.what) in reported, reported

    before = bench.snapshot()
    applied = run("apply", "good/fine.yaml", "--stack", shown, "--wait", "--poll-interval", "0.1")
    assert_refused(applied, case, shown)
    assert bench.snapshot() == before, "apply with an invalid stack file changed the target or the repository"


@pytest.mark.parametrize("case", by_kind("formulas"))
def test_bad_formula_is_refused(case: Case, bench: Bench, monkeypatch) -> None:
    monkeypatch.chdir(bench.repo)
    shown = f"bad-formulas/{case.name}"
    checked = run("autoscale", "check", shown)
    assert_refused(checked, case, shown)
    for e in case.expects:
        assert e.what in checked.output, checked.output
