"""All human-facing output goes through one Terminal: progress and messages on stderr (plain lines when
stderr is not a terminal, so CI logs stay readable), machine output on stdout. Messages are plain text:
they quote workload files and task stderr, so any `[...]` in them is escaped, never read as rich markup."""

from __future__ import annotations

import sys
from contextlib import contextmanager

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


class Terminal:
    def __init__(self, err: Console | None = None, out: Console | None = None):
        self.err = err or Console(stderr=True, highlight=False, soft_wrap=True)
        self.out = out or Console(highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal

    def step(self, message: str) -> None:
        self.err.print(f"[dim]•[/dim] {escape(message)}", markup=True)

    def success(self, message: str) -> None:
        self.err.print(f"[green]✓[/green] {escape(message)}", markup=True)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]![/yellow] {escape(message)}", markup=True)

    def error(self, message: str) -> None:
        self.err.print(f"[red]✗[/red] {escape(message)}", markup=True)

    def table(self, table: Table) -> None:
        self.out.print(table)

    def write(self, text: str) -> None:
        self.out.file.write(text)
        self.out.file.flush()

    @contextmanager
    def progress(self, *columns):
        """A live progress display on a terminal; without one, callers print plain lines instead."""
        cols = columns or (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TaskProgressColumn(), TimeRemainingColumn())
        with Progress(*cols, console=self.err, disable=not self.interactive, transient=False) as bar:
            yield bar


def default_terminal() -> Terminal:
    return Terminal()


def plain(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
