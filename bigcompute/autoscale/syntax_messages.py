"""Turn Lark's UnexpectedInput into (line, column, message) naming what the formula needed there."""

from __future__ import annotations

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

_OPERAND = {"NAME", "NUMBER"}  # every state that wants an operand accepts these two
_OPERATORS = {"OROR", "ANDAND", "EQOP", "RELOP", "PLUS", "MINUS", "STAR", "SLASH", "QMARK"}
_PUNCT = {"_SEMI": "';'", "_RPAR": "')'", "_COMMA": "','", "_COLON": "':'", "ASSIGN": "'='"}
_HINTS = {
    "'": "strings are written in double quotes",
    "[": "vector literals are not part of the formula language",
    "%": "'%' is not an operator in Batch formulas",
    "^": "'^' is not an operator in Batch formulas",
    "&": "did you mean '&&'?",
    "|": "did you mean '||'?",
}


def describe(e: UnexpectedInput, text: str) -> tuple[int, int, str]:
    accepted = _accepted(e)
    if isinstance(e, UnexpectedCharacters):
        return e.line, e.column, _bad_character(text, e.pos_in_stream, accepted)
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    if tok.type == "$END":
        line, column = _end_of_input(text)
        return line, column, f"unexpected end of formula; expected {expected(accepted)}"
    history = getattr(e, "token_history", None) or []
    prev = history[-1] if history else None
    # A statement that runs into the next line is almost always a missing ';' (reference §B9-5):
    # point just after the statement rather than at the start of the next one.
    if "_SEMI" in accepted and prev is not None and prev.end_line is not None and prev.end_line < tok.line:
        return prev.end_line, prev.end_column, f"expected ';' after this statement (the next one starts on line {tok.line})"
    message = f"expected {expected(accepted)}, found {_show(tok.type, str(tok))}"
    return tok.line, tok.column, message + _comment_hint(text, tok.start_pos)


def expected(accepted: set[str]) -> str:
    parts = [_PUNCT[t] for t in ("_SEMI", "_RPAR", "_COMMA", "_COLON", "ASSIGN") if t in accepted]
    if accepted >= _OPERAND:
        parts.append("an expression")
    elif "NAME" in accepted:
        parts.append("a name")
    elif accepted & _OPERATORS:
        parts.append("an operator")
    if "_LPAR" in accepted and not accepted >= _OPERAND:
        parts.append("'('")
    if not parts:
        parts.append("end of formula" if "$END" in accepted else "something else")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _accepted(e: UnexpectedInput) -> set[str]:
    # The interactive parser answers exactly; `expected` alone is blurred by LALR state merging.
    parser = getattr(e, "interactive_parser", None)
    if parser is not None:
        try:
            return set(parser.accepts())
        except Exception:  # noqa: BLE001 - fall back to Lark's coarser set
            pass
    return set(getattr(e, "expected", None) or getattr(e, "allowed", None) or ())


def _show(kind: str, value: str) -> str:
    return f"'{value}'" if len(value) <= 40 else f"'{value[:37]}...'"


def _bad_character(text: str, offset: int, accepted: set[str]) -> str:
    ch = text[offset]
    if ch == '"':
        return "unterminated string: a string must end with '\"' on the same line"
    hint = _HINTS.get(ch)
    shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
    message = f"unexpected character {shown}"
    if hint:
        message += f"; {hint}"
    elif accepted:
        message += f"; expected {expected(accepted)}"
    return message


def _comment_hint(text: str, offset: int | None) -> str:
    if offset is None:
        return ""
    if text.startswith("/*", offset) or (text.startswith("*", offset) and offset and text[offset - 1] == "/"):
        return "; block comments are not supported, use //"
    return ""


def _end_of_input(text: str) -> tuple[int, int]:
    from bigcompute.autoscale.parser import _parser

    last = None
    try:
        for last in _parser().lex(text):  # noqa: B007 - only the last token matters
            pass
    except UnexpectedInput:
        pass
    if last is None or last.end_line is None:
        return 1, 1
    return last.end_line, last.end_column
