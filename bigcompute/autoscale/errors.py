"""Errors of the formula language: located static errors and Batch-shaped evaluation errors."""

from __future__ import annotations

from dataclasses import dataclass

# Batch's own codes (reference §A1, §B6, §B8) plus one of ours for runtime failures Batch documents
# no code for (empty vector, index out of range, NaN target); see evaluate.py.
SYNTAX_ERROR = "AutoScalingFormulaSyntaxError"
# The service's answer to a formula over 8192 characters: "AutoScalingFormulaTooLong | BadRequest (400)" in
# "Batch Status and Error Codes" (learn.microsoft.com/rest/api/batchservice/batch-status-and-error-codes). The
# .NET SDK's BatchErrorCodeStrings spells a constant AutoScaleFormulaTooLong, but the service sends this one.
TOO_LONG = "AutoScalingFormulaTooLong"
INSUFFICIENT_SAMPLES = "InsufficientSampleData"
EVALUATION_ERROR = "AutoScalingFormulaEvaluationError"


class FormulaError(Exception):
    """A problem found before evaluation, located at a 1-based line and column of the formula text."""

    def __init__(self, line: int, column: int, message: str, *, source: str = "formula",
                 source_line: str = "", code: str = SYNTAX_ERROR) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message
        self.source = source
        self.source_line = source_line
        self.code = code

    @property
    def caret(self) -> str:
        # Keep the tabs of the source line so the caret lines up however the terminal renders them.
        prefix = self.source_line[: max(self.column - 1, 0)]
        return "".join(c if c == "\t" else " " for c in prefix) + "^"

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"

    def __str__(self) -> str:
        head = f"{self.location}: {self.message}"
        if not self.source_line:
            return head
        return f"{head}\n  {self.source_line}\n  {self.caret}"

    def __repr__(self) -> str:
        return f"FormulaError({self.line}, {self.column}, {self.message!r}, source={self.source!r})"


def located(text: str, offset: int, message: str, *, source: str = "formula",
            code: str = SYNTAX_ERROR) -> FormulaError:
    """A FormulaError at a 0-based character offset of `text`."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return at(text, line, offset - start + 1, message, source=source, code=code)


def at(text: str, line: int, column: int, message: str, *, source: str = "formula",
       code: str = SYNTAX_ERROR) -> FormulaError:
    lines = text.split("\n")
    source_line = lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""
    return FormulaError(line, column, message, source=source, source_line=source_line, code=code)


@dataclass(frozen=True)
class AutoScaleRunError:
    """Batch's `AutoScaleRun.error`: a code, a message and name/value details."""

    code: str
    message: str
    values: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message,
                "values": [{"name": n, "value": v} for n, v in self.values]}


class EvaluationFailure(Exception):
    """Raised inside an evaluation; evaluate() turns it into an AutoScaleRunError (never escapes)."""

    def __init__(self, code: str, message: str, detail: str, line: int, column: int) -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail
        self.line = line
        self.column = column

    def to_error(self) -> AutoScaleRunError:
        return AutoScaleRunError(self.code, self.message,
                                 (("Message", f"Line {self.line}, Col {self.column}: {self.detail}"),))
