"""One located problem in one file, and the exception that carries a batch of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Path = tuple[str | int, ...]


def render_path(path: Path) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    column: int
    path: Path
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {render_path(self.path)}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": render_path(self.path),
            "code": self.code,
            "message": self.message,
        }


class DocumentError(Exception):
    """Raised with every diagnostic found; the caller reports them all and exits 2."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))
