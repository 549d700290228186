"""parse() and check(): formula text -> a checked, compiled Formula, or located errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from bigcompute.autoscale import nodes as n
from bigcompute.autoscale.compiler import Compiler, Program
from bigcompute.autoscale.errors import FormulaError
from bigcompute.autoscale.parser import parse_statements


@dataclass(frozen=True, eq=False)
class Formula:
    """A formula that parsed and type-checked; evaluating it can only fail the way Batch's can."""

    text: str
    source: str
    statements: tuple[n.Statement, ...]
    program: Program = field(repr=False)

    @property
    def metrics(self) -> frozenset[str]:
        """The history keys its sample methods read (`$PendingTasks`, ...)."""
        return self.program.metrics

    @property
    def variables(self) -> tuple[str, ...]:
        """Its user variables, in order of first assignment."""
        return self.program.assigned


def parse(text: str, source: str = "formula") -> Formula:
    """Parse and check `text`; raise the first FormulaError (see check() for all of them)."""
    errors, formula = _compile(text, source)
    if errors:
        raise errors[0]
    assert formula is not None
    return formula


def check(text: str, source: str = "formula") -> list[FormulaError]:
    """Every problem Batch would reject the formula for, in text order; empty when it is fine."""
    return list(_compile(text, source)[0])


@lru_cache(maxsize=256)
def _compile(text: str, source: str) -> tuple[tuple[FormulaError, ...], Formula | None]:
    # memoized (a Formula is immutable): `infra plan` checks each pool's formula when it loads the stack, and
    # the program checks it again when it loads the stack and declares the pool; parsing is ~10 ms a formula
    try:
        statements = parse_statements(text, source)
    except FormulaError as e:
        return (e,), None
    compiler = Compiler(text, source)
    program = compiler.program(statements)
    if compiler.errors:
        return tuple(sorted(compiler.errors, key=lambda e: (e.line, e.column))), None
    return (), Formula(text, source, statements, program)
