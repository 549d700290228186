"""The formula AST: frozen dataclasses, each located at the token that best explains an error about it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


@dataclass(frozen=True)
class Number:
    value: float
    pos: Pos


@dataclass(frozen=True)
class String:
    value: str
    pos: Pos


@dataclass(frozen=True)
class Var:
    name: str
    pos: Pos


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Expr
    pos: Pos  # the operator


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    pos: Pos  # the operator


@dataclass(frozen=True)
class Ternary:
    test: Expr
    then: Expr
    orelse: Expr
    pos: Pos  # the '?'


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    pos: Pos  # the function name


@dataclass(frozen=True)
class Member:
    target: Expr
    name: str
    pos: Pos  # the member name: `time().hour`


@dataclass(frozen=True)
class Method:
    target: Expr
    name: str
    args: tuple[Expr, ...]
    pos: Pos  # the method name: `$CPUPercent.GetSample(...)`


Expr = Number | String | Var | Unary | Binary | Ternary | Call | Member | Method


@dataclass(frozen=True)
class Assign:
    name: str
    value: Expr
    pos: Pos  # the variable name


@dataclass(frozen=True)
class ExprStmt:
    value: Expr
    pos: Pos


Statement = Assign | ExprStmt


def start(node: Expr) -> Pos:
    """Where an expression begins in the text (its leftmost token)."""
    while isinstance(node, Binary | Ternary | Member | Method):
        node = node.left if isinstance(node, Binary) else node.test if isinstance(node, Ternary) else node.target
    return node.pos
