"""The CLI's one application object. A command parses its arguments, then hands its body to `App.run`; the App
gives it the runner (runner.api), renders what the runner tells while it works (events: messages, progress bars,
why nothing runs) and what it returns (results, as text or JSON), and turns every error into one line and an exit
code. So each command only parses and renders, and all of them fail the same way. (hatch's Application and
pip-tools' are the models: one object owns the terminal, the output format and the exit.)"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bigcompute.cli.exit import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_UNREACHABLE,
    Exit,
)
from bigcompute.cli.options import max_tasks
from bigcompute.cli.terminal import Terminal, plain
from bigcompute.runner.api import (
    OK,
    WARN,
    DeployError,
    InvalidInput,
    Message,
    NoProject,
    NotRetryable,
    Phase,
    Polled,
    Runner,
    Submitting,
    TargetArgs,
    TargetLost,
    TasksAdded,
    Waiting,
    Watching,
)

JSON_FORMATS = ("json",)


def as_json(value: Any) -> Any:
    """A result as JSON values: dataclasses as objects (their field names; a field kept out of repr, such as a key
    or a stream, is left out), dates in ISO 8601, paths as text."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in fields(value) if f.repr}
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [as_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def describe(name: str, p: Any) -> str:
    return f"{name}: {p.active} active, {p.running} running, {p.succeeded} ok, {p.failed} failed"


class App:
    def __init__(self, fmt: str = "text", term: Terminal | None = None):
        self.fmt = fmt
        self.term = term or Terminal()
        self.phase: str | None = None
        self.command = "apply"  # the command that runs, named when Ctrl-C stops it
        self.reattach = "bigcompute apply --wait"  # the command that watches again, said on Ctrl-C
        self._live = ExitStack()
        self._bar: Any = None
        self._rows: dict[str, Any] = {}
        self._lines: dict[str, str] = {}

    @property
    def json(self) -> bool:
        return self.fmt in JSON_FORMATS

    # --- the runner and its events --------------------------------------------------------------------------
    def runner(self, target_kind: str, stack: str, outputs_file: str | None) -> Runner:
        return Runner(TargetArgs(target_kind, stack, outputs_file, notify=self.term.warn), self.on_event,
                      max_tasks=max_tasks())

    def on_event(self, event: Any) -> None:
        if isinstance(event, TasksAdded):
            self._bar.advance(self._rows[event.workload], event.count)
        elif isinstance(event, Polled):
            self._polled(event)
        elif isinstance(event, Message):
            {OK: self.term.success, WARN: self.term.warn}.get(event.level, self.term.step)(event.text)
        elif isinstance(event, Waiting):
            (self.term.step if event.status == "ok" else self.term.warn)(event.text())
        elif isinstance(event, Phase):
            self.settle()
            self.phase = event.name
        elif isinstance(event, Submitting):
            self.settle()
            self._open_bar()
            self._rows[event.workload] = self._bar.add_task(f"{event.workload}: tasks", total=event.total)
        elif isinstance(event, Watching):
            self.settle()
            self._open_bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
            self._rows = {job: self._bar.add_task(name, total=total, rate="") for name, job, total in event.jobs}

    def _open_bar(self, *columns: Any) -> None:
        self._bar = self._live.enter_context(self.term.progress(*columns))

    def _polled(self, e: Polled) -> None:
        line = describe(e.workload, e.progress)
        self._bar.update(self._rows[e.job], completed=e.progress.completed, description=line,
                         rate=f"{e.rate:.1f} tasks/s")
        if not self.term.interactive and line != self._lines.get(e.job):
            self.term.step(line)  # plain progress lines in CI logs, only when something changed
            self._lines[e.job] = line

    def settle(self) -> None:
        """Close the live progress display, so what follows prints below it."""
        self._live.close()
        self._bar, self._rows = None, {}

    # --- results ----------------------------------------------------------------------------------------------
    def emit_json(self, value: Any) -> None:
        self.term.write(json.dumps(as_json(value), indent=2) + "\n")

    # --- errors and exit codes ---------------------------------------------------------------------------------
    def guarded(self, body: Callable[[App], int]) -> int:
        """Run a command body: invalid input exits 2 with every diagnostic, a lost target 4, a run that cannot go
        on 1 in one sentence, Ctrl-C 130 saying what it means for what was under way."""
        try:
            return body(self)
        except Exit as e:
            self.settle()
            if e.message:
                plain(e.message)
            return e.code
        except KeyboardInterrupt:
            self.settle()
            self.term.error(self._interrupted())
            return EXIT_INTERRUPTED
        except (NoProject, NotRetryable) as e:
            return self._fail(EXIT_INVALID, str(e))
        except InvalidInput as e:
            self.settle()
            for d in e.diagnostics:
                self.term.error(str(d))
            return self._fail(EXIT_INVALID, f"{len(e.diagnostics)} problem(s) found; nothing was changed",
                              [getattr(d, "as_json", lambda d=d: {"message": str(d)})() for d in e.diagnostics])
        except TargetLost as e:
            return self._fail(EXIT_UNREACHABLE, str(e))
        except DeployError as e:
            return self._fail(EXIT_FAILED, str(e))
        finally:
            self.settle()

    def _fail(self, code: int, message: str, diagnostics: list | None = None) -> int:
        self.settle()
        self.term.error(message)
        if self.json:  # scripts read the failure on stdout too, in the same shape for every command
            self.emit_json({"error": {"exit_code": code, "message": message, "diagnostics": diagnostics or []}})
        return code

    def _interrupted(self) -> str:
        if self.phase == "watching":
            return f"stopped watching; the jobs keep running on the target: watch them again with `{self.reattach}`"
        if self.phase in ("submitting", "downloading", "pruning"):
            return f"{self.command} interrupted: run it again, it continues where it stopped (nothing is added twice)"
        return f"{self.command} interrupted"

    def run(self, body: Callable[[App], int]) -> NoReturn:
        sys.exit(self.guarded(body))
