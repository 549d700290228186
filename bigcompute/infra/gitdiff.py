"""The git side of `infra diff`: a stack's resource graph at a git ref, computed by that ref's own code.

A pull request may change the stack file, a component in `components/` or the code in `bigcompute/`
that the program imports; the base graph must reflect all of it. So the whole tree at the ref is
exported into a temp folder (`git archive`, which leaves no worktree bookkeeping behind in the user's
repository) and `bigcompute infra plan --format json` runs there in a subprocess with that tree first on
PYTHONPATH. The working tree is planned the same way, concurrently: both graphs then come out of the same
JSON round trip and differ only where the trees do, and the wall time is one plan rather than two.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bigcompute.config import ConfigError, StackConfig, load_stack
from bigcompute.infra.graph import Graph

EXIT_INVALID, EXIT_FAILED = 2, 1
PLAN_TIMEOUT = 600.0  # seconds; a plan takes a few, a hung one must not hold a CI runner forever
# what `pulumi stack init` accepts, and never a path: the name becomes part of stacks/Pulumi.<name>.yaml
STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class DiffError(Exception):
    """Why there is no diff, in one sentence (diagnostics may follow); `code` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Side:
    """One end of the diff. `graph` is None when the stack file does not exist there (a stack being
    added or removed), which reads as an empty graph."""

    label: str
    graph: Graph | None
    # the stack file as this version of bigcompute reads it, for the operator's summary; None without the file
    config: StackConfig | None = None
    config_error: str | None = None  # why the stack file at this side does not load here


def stack_file(project: Path, stack: str) -> Path:
    return project / "stacks" / f"Pulumi.{stack}.yaml"


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise DiffError("git is not installed; infra diff needs it to read the base ref") from None


@dataclass(frozen=True)
class Ref:
    name: str  # as the user typed it, for messages
    commit: str
    toplevel: Path  # the repository's root
    prefix: str  # the project's folder inside the repository ("" at the root)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.commit[:8]})"


def resolve_ref(project: Path, ref: str) -> Ref:
    top = git(project, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise DiffError(f"{project} is not inside a git repository, so there is no {ref} to compare with")
    toplevel = Path(top.stdout.strip()).resolve()
    # --end-of-options: a ref that starts with "-" is a name, never an option
    commit = git(project, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if not ref or commit.returncode != 0:
        raise DiffError(f"'{ref}' is not a commit in this repository: check its spelling, or fetch it first "
                        "(e.g. `git fetch origin main`, or `fetch-depth: 0` in actions/checkout)")
    prefix = project.resolve().relative_to(toplevel).as_posix()
    return Ref(ref, commit.stdout.strip(), toplevel, "" if prefix == "." else prefix)


def export_tree(ref: Ref, dest: Path) -> Path:
    """Write the repository's tree at `ref` into `dest`; return the project's folder within it."""
    proc = subprocess.Popen(["git", "archive", "--format=tar", ref.commit], cwd=ref.toplevel,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(dest, filter=_inside)
            else:  # pragma: no cover - 3.11 before 3.11.4 has no extraction filters
                archive.extractall(dest)
    except tarfile.TarError as e:
        proc.kill()
        raise DiffError(f"could not read the tree of {ref.label}: {e}", EXIT_FAILED) from None
    finally:
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
    if proc.returncode != 0:
        raise DiffError(f"git archive {ref.label} failed: {_last_line(stderr)}", EXIT_FAILED)
    return dest / ref.prefix if ref.prefix else dest


def _inside(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """Tar's `data` filter, skipping what it refuses (a link to an absolute path, or out of the tree)
    instead of failing: a plan never reads such a link, and one in the repository must not stop the diff."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


@dataclass
class PlanRun:
    """`bigcompute infra plan --format json` running in a subprocess over one tree."""

    label: str
    where: str  # "in the working tree", "at origin/main (1a2b3c4d)": for messages
    tree: Path
    stdout: Path
    proc: subprocess.Popen[bytes]


def start_plan(tree: Path, stack: str, label: str, where: str, stdout: Path) -> PlanRun:
    # the tree first on the path: its own bigcompute/ and components/ win over the installed package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    # the JSON goes to a file, not a pipe: two plans run at once and neither may block on a full pipe
    with stdout.open("wb") as sink:
        proc = subprocess.Popen(_plan_command(tree, stack), cwd=tree, env=env, stdout=sink,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    return PlanRun(label, where, tree, stdout, proc)


def _plan_command(tree: Path, stack: str) -> list[str]:
    return [sys.executable, "-m", "bigcompute", "infra", "plan", "--stack", stack, "--format", "json",
            "--project-dir", str(tree)]


def finish_plan(run: PlanRun, stack: str, invalid_code: int) -> Graph:
    """The graph `run` printed. A policy violation (exit 2 with resources) still yields the graph: the
    diff is for review and the violation is `infra plan`'s to report."""
    try:
        _, stderr_bytes = run.proc.communicate(timeout=PLAN_TIMEOUT)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        run.proc.communicate()
        raise DiffError(f"planning stack '{stack}' {run.where} took over {PLAN_TIMEOUT:.0f} s", EXIT_FAILED) \
            from None
    # diagnostics name files inside the tree: relative to it they read as the repository's paths
    stderr = stderr_bytes.decode(errors="replace").replace(f"{run.tree}{os.sep}", "")
    data = _json_or_none(run.stdout.read_text(errors="replace"))
    if isinstance(data, dict) and "resources" in data:
        return Graph.from_json(data)
    if isinstance(data, dict) and "errors" in data:
        raise DiffError(f"the stack file of '{stack}' {run.where} is invalid:\n{stderr.strip()}", invalid_code)
    raise DiffError(f"planning stack '{stack}' {run.where} failed (exit {run.proc.returncode}): "
                    f"{_last_line(stderr) or 'no output'}", EXIT_FAILED)


def load_sides(project: Path, stack: str, base_ref: str) -> tuple[Side, Side]:
    """(base, head): the stack's graph at `base_ref` and in the working tree at `project`."""
    if not STACK_NAME.match(stack):
        raise DiffError(f"'{stack}' is not a stack name (letters, digits, '-', '_' and '.')")
    project = project.resolve()
    ref = resolve_ref(project, base_ref)
    head_label = "working tree"
    runs: list[PlanRun] = []
    with tempfile.TemporaryDirectory(prefix="bigcompute-diff-") as tmp:
        try:
            head_exists = stack_file(project, stack).is_file()
            if head_exists:  # started first: it runs while the base tree is being exported
                runs.append(start_plan(project, stack, head_label, "in the working tree", Path(tmp) / "head.json"))
            base_tree = export_tree(ref, Path(tmp) / "base")
            base_exists = stack_file(base_tree, stack).is_file()
            if not head_exists and not base_exists:
                raise DiffError(f"there is no stack '{stack}': {stack_file(Path(), stack)} exists neither in the "
                                f"working tree nor at {ref.label}")
            if base_exists:
                runs.append(start_plan(base_tree, stack, ref.label, f"at {ref.label}", Path(tmp) / "base.json"))
            # the working tree's stack file is the user's input (exit 2); a broken base is a failure to plan
            graphs = {run.label: finish_plan(run, stack, EXIT_INVALID if run.label == head_label else EXIT_FAILED)
                      for run in runs}
            base_config = _config(base_tree, stack, f"at {ref.label}") if base_exists else (None, None)
        finally:
            _stop(runs)
    head_config = _config(project, stack, "in the working tree") if head_exists else (None, None)
    return Side(ref.label, graphs.get(ref.label), *base_config), Side(head_label, graphs.get(head_label), *head_config)


def _config(tree: Path, stack: str, where: str) -> tuple[StackConfig | None, str | None]:
    """The side's stack file read by this version's loader (the plan ran the side's own code): a base written
    for an older schema may not load, and then the summary says so rather than guessing."""
    try:
        return load_stack(stack_file(tree, stack)), None
    except ConfigError as e:
        first = str(e.diagnostics[0]).replace(f"{tree}{os.sep}", "") if e.diagnostics else "invalid"
        return None, f"the stack file {where} does not load with this version of bigcompute: {first}"


def _stop(runs: Sequence[PlanRun]) -> None:
    """Leave no plan running behind an error: the temp tree it reads is about to be deleted."""
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.communicate()


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""

