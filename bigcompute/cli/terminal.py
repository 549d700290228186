"""All human-facing output goes through one Terminal: progress and messages on stderr (plain lines when
stderr is not a terminal, so CI logs stay readable), machine output on stdout. Messages are plain text:
they quote workload files and task stderr, so any `[...]` in them is escaped, never read as rich markup, and
terminal control sequences in them are removed (a task must not retitle, clear or rewrite the user's terminal)."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# ECMA-48 (https://ecma-international.org/publications-and-standards/standards/ecma-48/): control strings
# (OSC, DCS, SOS, PM, APC, up to their terminator or the end of the line), CSI sequences (7-bit ESC [ and 8-bit 0x9b), other escape
# sequences, then every C0/C1 control left over except newline and tab.
_SEQUENCE = re.compile(r"""
    (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c\n]* (?:\x07|\x1b\\|\x9c)?  # control strings
  | (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]?                                          # CSI
  | \x1b [ -/]* [0-~]?                                                            # other ESC sequences
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]                                                 # remaining controls
""", re.VERBOSE)


def clean(text: str) -> str:
    """`text` without terminal control sequences or control characters (newline and tab kept)."""
    return _SEQUENCE.sub("", text)


class Terminal:
    def __init__(self, err: Console | None = None, out: Console | None = None):
        self.err = err or Console(stderr=True, highlight=False, soft_wrap=True)
        self.out = out or Console(highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal

    @property
    def can_ask(self) -> bool:
        """Whether a question can be answered: someone at a terminal (never in CI or with piped input)."""
        return sys.stdin.isatty()

    def confirm(self, question: str) -> bool:
        return click.confirm(question, default=False, err=True)

    def step(self, message: str) -> None:
        self.err.print(f"[dim]•[/dim] {escape(clean(message))}", markup=True)

    def success(self, message: str) -> None:
        self.err.print(f"[green]✓[/green] {escape(clean(message))}", markup=True)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]![/yellow] {escape(clean(message))}", markup=True)

    def error(self, message: str) -> None:
        self.err.print(f"[red]✗[/red] {escape(clean(message))}", markup=True)

    def table(self, table: Table) -> None:
        self.out.print(table)

    def write(self, text: str) -> None:
        self.out.file.write(text)
        self.out.file.flush()

    def write_untrusted(self, text: str) -> None:
        """Text a task produced, on stdout: cleaned on a terminal, byte for byte when piped."""
        self.write(clean(text) if self.out.is_terminal else text)

    def quote(self, text: str, indent: str = "") -> None:
        """Lines a task produced (a stderr tail), cleaned, on stderr."""
        for line in clean(text).splitlines():
            self.err.print(f"{indent}{line}", markup=False, highlight=False)

    @contextmanager
    def progress(self, *columns):
        """A live progress display on a terminal; without one, callers print plain lines instead."""
        cols = columns or (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TaskProgressColumn(), TimeRemainingColumn())
        with Progress(*cols, console=self.err, disable=not self.interactive, transient=False) as bar:
            yield bar


def plain(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
