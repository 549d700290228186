"""Formula text -> AST, with Lark's LALR parser; every failure becomes a located FormulaError."""

from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from bigcompute.autoscale import nodes as n
from bigcompute.autoscale.errors import TOO_LONG, FormulaError, at, located

MAX_LENGTH = 8192  # Batch: AutoScalingFormulaTooLong (errors.TOO_LONG), "maximum length is 8192 characters"
MAX_STATEMENTS = 100  # reference §B1
# Not a Batch limit: the checker and the evaluator recurse once per level, so bound it well below
# Python's recursion limit. No sensible formula comes near it.
MAX_DEPTH = 200


def _pos(tok: Token) -> n.Pos:
    return n.Pos(tok.line, tok.column)


class _Build(Transformer):
    """Runs inside the LALR parser (no parse tree is built), so it must never raise."""

    def start(self, items: list) -> tuple[n.Statement, ...]:
        return tuple(items)

    def assign(self, items: list) -> n.Assign:
        name, _eq, value = items
        return n.Assign(str(name), value, _pos(name))

    def expr_stmt(self, items: list) -> n.ExprStmt:
        return n.ExprStmt(items[0], n.start(items[0]))

    def ternary(self, items: list) -> n.Ternary:
        test, q, then, orelse = items
        return n.Ternary(test, then, orelse, _pos(q))

    def binary(self, items: list) -> n.Binary:
        left, op, right = items
        return n.Binary(str(op), left, right, _pos(op))

    def unary(self, items: list) -> n.Unary:
        op, operand = items
        return n.Unary(str(op), operand, _pos(op))

    def member(self, items: list) -> n.Member:
        target, name = items
        return n.Member(target, str(name), _pos(name))

    def method(self, items: list) -> n.Method:
        target, name, args = items
        return n.Method(target, str(name), args or (), _pos(name))

    def call(self, items: list) -> n.Call:
        name, args = items
        return n.Call(str(name), args or (), _pos(name))

    def args(self, items: list) -> tuple[n.Expr, ...]:
        return tuple(items)

    def number(self, items: list) -> n.Number:
        return n.Number(float(items[0]), _pos(items[0]))

    def string(self, items: list) -> n.String:
        return n.String(str(items[0])[1:-1], _pos(items[0]))

    def var(self, items: list) -> n.Var:
        return n.Var(str(items[0]), _pos(items[0]))


@functools.cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "formula.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", transformer=_Build(), maybe_placeholders=True)


def parse_statements(text: str, source: str = "formula") -> tuple[n.Statement, ...]:
    """Syntax only: the statements of `text`, or a FormulaError at the first problem."""
    if len(text) > MAX_LENGTH:
        raise located(text, MAX_LENGTH, f"formula is {len(text)} characters long; Batch allows at most "
                      f"{MAX_LENGTH}", source=source, code=TOO_LONG)
    try:
        statements = _parser().parse(text)
    except UnexpectedInput as e:
        from bigcompute.autoscale.syntax_messages import describe

        line, column, message = describe(e, text)
        raise at(text, line, column, message, source=source) from None
    if not statements:
        # Batch requires autoScaleFormula on an autoscale pool (MissingRequiredProperty when absent or empty);
        # a formula of only blanks and comments sets no target, so Batch would never resize the pool.
        raise at(text, 1, 1, "the formula is empty: it needs at least one statement, such as "
                 "$TargetDedicatedNodes = 1;", source=source)
    if len(statements) > MAX_STATEMENTS:
        pos = statements[MAX_STATEMENTS].pos
        raise at(text, pos.line, pos.column, f"formula has {len(statements)} statements; Batch allows at most "
                 f"{MAX_STATEMENTS}", source=source)
    for stmt in statements:
        deep = _too_deep(stmt.value)
        if deep is not None:
            raise at(text, deep.line, deep.column, f"expression nested more than {MAX_DEPTH} levels deep",
                     source=source)
    return statements


def _too_deep(root: n.Expr) -> n.Pos | None:
    stack: list[tuple[n.Expr, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node.pos
        stack.extend((child, depth + 1) for child in children(node))
    return None


def children(node: n.Expr) -> tuple[n.Expr, ...]:
    if isinstance(node, n.Binary):
        return (node.left, node.right)
    if isinstance(node, n.Ternary):
        return (node.test, node.then, node.orelse)
    if isinstance(node, n.Unary):
        return (node.operand,)
    if isinstance(node, n.Member):
        return (node.target,)
    if isinstance(node, n.Method):
        return (node.target, *node.args)
    if isinstance(node, n.Call):
        return node.args
    return ()


__all__ = ["MAX_DEPTH", "MAX_LENGTH", "MAX_STATEMENTS", "FormulaError", "UnexpectedCharacters",
           "UnexpectedToken", "children", "parse_statements"]
