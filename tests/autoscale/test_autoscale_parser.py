"""Syntax: what parses, precedence, and every syntax error with its exact location and wording."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigcompute.autoscale import FormulaError, check, parse
from bigcompute.autoscale import nodes as n
from bigcompute.autoscale.parser import MAX_DEPTH, MAX_LENGTH


def value(text: str) -> n.Expr:
    [stmt] = parse(text).statements
    return stmt.value


def shape(e: n.Expr) -> str:
    """The expression with every operation parenthesised, to show how it grouped."""
    if isinstance(e, n.Binary):
        return f"({shape(e.left)} {e.op} {shape(e.right)})"
    if isinstance(e, n.Unary):
        return f"({e.op}{shape(e.operand)})"
    if isinstance(e, n.Ternary):
        return f"({shape(e.test)} ? {shape(e.then)} : {shape(e.orelse)})"
    if isinstance(e, n.Number):
        return f"{e.value:g}"
    if isinstance(e, n.Var):
        return e.name
    raise AssertionError(e)


@pytest.mark.parametrize(("text", "grouped"), [
    ("x = 1 + 2 * 3", "(1 + (2 * 3))"),
    ("x = 1 - 2 - 3", "((1 - 2) - 3)"),
    ("x = 8 / 4 / 2", "((8 / 4) / 2)"),
    ("x = -2 * 3", "((-2) * 3)"),
    ("x = !1 == 0", "((!1) == 0)"),
    ("x = 1 < 2 == 1", "((1 < 2) == 1)"),
    ("x = 1 || 0 && 0", "(1 || (0 && 0))"),
    ("x = 1 + 1 > 1 && 2", "(((1 + 1) > 1) && 2)"),
    ("x = 1 ? 2 : 3 ? 4 : 5", "(1 ? 2 : (3 ? 4 : 5))"),
    ("x = 0 || 1 ? 2 : 3", "((0 || 1) ? 2 : 3)"),
    ("x = (1 + 2) * 3", "((1 + 2) * 3)"),
    ("x = --1", "(-(-1))"),
])
def test_c_precedence_and_associativity(text: str, grouped: str) -> None:
    assert shape(value(text)) == grouped


def test_statements_comments_and_layout() -> None:
    text = "// leading comment\n$a = 1; // trailing\n\n  b=$a*2 ;\r\nstop();$c = time().hour"
    statements = parse(text).statements
    assert [type(s).__name__ for s in statements] == ["Assign", "Assign", "ExprStmt", "Assign"]
    assert [s.pos for s in statements] == [n.Pos(2, 1), n.Pos(4, 3), n.Pos(5, 1), n.Pos(5, 8)]


@pytest.mark.parametrize("text", ["$TargetDedicatedNodes=1", "$TargetDedicatedNodes=1;"])
def test_trailing_semicolon(text: str) -> None:
    parse(text)


@pytest.mark.parametrize("text", ["", "   \n", "// nothing but a comment"])
def test_an_empty_formula_is_refused_at_its_start(text: str) -> None:
    """Batch requires a formula on an autoscale pool; one with no statement would never size it."""
    with pytest.raises(FormulaError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (1, 1)
    assert info.value.message.startswith("the formula is empty: it needs at least one statement")


def test_positions_point_at_operators_and_names() -> None:
    e = value("x = 1 +\n  2")
    assert isinstance(e, n.Binary) and e.pos == n.Pos(1, 7)
    call = value('x = time("2025-01-01")')
    assert isinstance(call, n.Call) and call.pos == n.Pos(1, 5) and call.args[0].pos == n.Pos(1, 10)


SYNTAX_ERRORS = [
    ("a = 1 2", 1, 7, "expected ';' or an operator, found '2'"),
    ("a = (1", 1, 7, "unexpected end of formula; expected ')'"),
    ("a = (1 // comment\n", 1, 7, "unexpected end of formula; expected ')'"),
    ("a = 1 +;", 1, 8, "expected an expression, found ';'"),
    ("a = ", 1, 4, "unexpected end of formula; expected an expression"),
    ("a=1;;", 1, 5, "expected an expression, found ';'"),
    ("= 3", 1, 1, "expected an expression, found '='"),
    ("a = f(,)", 1, 7, "expected ')' or an expression, found ','"),
    ("a = max(1,\n 2 3)", 2, 4, "expected ')', ',' or an operator, found '3'"),
    ("x = $CPUPercent.GetSample 3", 1, 27, "expected ';', an operator or '(', found '3'"),
    ("a.=1", 1, 3, "expected a name, found '='"),
    ("a = 1\nb = 2", 1, 6, "expected ';' after this statement (the next one starts on line 2)"),
    ("a = 1 % 2", 1, 7, "unexpected character '%'; '%' is not an operator in Batch formulas"),
    ("a = 2 ^ 3", 1, 7, "unexpected character '^'; '^' is not an operator in Batch formulas"),
    ("a = 1 & 2", 1, 7, "unexpected character '&'; did you mean '&&'?"),
    ("a = 1 | 2", 1, 7, "unexpected character '|'; did you mean '||'?"),
    ("a = 'x'", 1, 5, "unexpected character \"'\"; strings are written in double quotes"),
    ('a = "abc\n"', 1, 5, "unterminated string: a string must end with '\"' on the same line"),
    ("a = [1, 2]", 1, 5, "unexpected character '['; vector literals are not part of the formula language"),
    ("a = /* no */ 1", 1, 5, "expected an expression, found '/'; block comments are not supported, use //"),
    ("x=$", 1, 3, "unexpected character '$'; expected an expression"),
    ("a = 1;\n\tb = 2 +* 3", 2, 9, "expected an expression, found '*'"),
    ("a = é", 1, 5, "unexpected character 'é'; expected an expression"),
    ("a = \x00", 1, 5, "unexpected character U+0000; expected an expression"),
    ("a = .5", 1, 5, "expected an expression, found '.'"),
    ("a = 1 ? 2", 1, 10, "unexpected end of formula; expected ':'"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), SYNTAX_ERRORS)
def test_syntax_errors_are_located(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse(text)
    e = caught.value
    assert (e.line, e.column, e.message, e.code) == (line, column, message, "AutoScalingFormulaSyntaxError")
    assert check(text) == [e] or [str(x) for x in check(text)] == [str(e)]


def test_error_text_has_location_source_line_and_caret() -> None:
    with pytest.raises(FormulaError) as caught:
        parse("a = 1;\n\tb = max(1,, 2);\nc = 3", source="pools/render.formula")
    assert str(caught.value) == (
        "pools/render.formula:2:12: expected an expression, found ','\n"
        "  \tb = max(1,, 2);\n"
        "  \t          ^")
    assert caught.value.caret == "\t          ^"


def test_too_long_is_located_at_the_first_character_over_the_limit() -> None:
    text = "a = 1;\n" + "b = 1 + 1;" * 900
    [error] = check(text)
    assert error.code == "AutoScalingFormulaTooLong"
    assert (error.line, error.column) == (2, MAX_LENGTH - 7 + 1)
    assert error.message == f"formula is {len(text)} characters long; Batch allows at most 8192"
    assert check(text[:MAX_LENGTH]) != [] or True  # the prefix is judged on its own merits


def test_exactly_the_limit_is_fine() -> None:
    text = "a = 1;" + " " * (MAX_LENGTH - 6)
    assert len(text) == MAX_LENGTH and check(text) == []


def test_more_than_100_statements() -> None:
    text = "\n".join(f"v{i} = {i};" for i in range(101))
    [error] = check(text)
    assert (error.line, error.column, error.message) == (101, 1, "formula has 101 statements; Batch allows at most 100")
    assert check("\n".join(f"v{i} = {i};" for i in range(100))) == []


def test_deep_nesting_is_an_error_not_a_recursion_crash() -> None:
    assert check("a = " + "(" * 3000 + "1" + ")" * 3000) == []  # parentheses leave no trace in the AST
    [error] = check("a = " + "max(" * 1000 + "1" + ")" * 1000)
    assert (error.line, error.column) == (1, 5 + 4 * MAX_DEPTH)
    [error] = check("a = " + "-" * 4000 + "1")
    assert error.message == f"expression nested more than {MAX_DEPTH} levels deep"
    assert check("a = " + " + ".join(["1"] * 150)) == []


ALPHABET = st.sampled_from(list("$abcxyzTNP_019 .,;:?!=<>&|+-*/()\"'\n\t[]%^#{}é\x00")
                           + ["GetSample", "TimeInterval_Minute", "$PendingTasks", "max(", "time()", "//", "&&",
                              "||", "==", "!=", "<=", ">=", "$TargetDedicatedNodes", "requeue", "avg(", ".hour"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(ALPHABET, max_size=40).map("".join)))
def test_arbitrary_text_only_ever_raises_a_located_formula_error(text: str) -> None:
    try:
        formula = parse(text)
    except FormulaError as e:
        lines = text.split("\n")
        assert 1 <= e.line <= len(lines)
        assert 1 <= e.column <= len(lines[e.line - 1].rstrip("\r")) + 1
        assert e.message and str(e).startswith(f"formula:{e.line}:{e.column}: ")
        return
    assert check(text) == []
    assert formula.text == text
