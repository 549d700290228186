"""Reporters for located diagnostics: text for people, JSON for machines, GitHub Actions annotations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from bigcompute.document import Diagnostic
from bigcompute.document.diagnostics import render_path


@dataclass
class FileResult:
    file: str
    kind: str  # workload | stack
    diagnostics: list[Diagnostic] = field(default_factory=list)
    summary: str = ""  # e.g. "16 tasks", shown when valid
    warnings: list[Diagnostic] = field(default_factory=list)  # reported, but the file stays valid

    @property
    def valid(self) -> bool:
        return not self.diagnostics


def report(results: Sequence[FileResult], fmt: str, out: TextIO) -> None:
    {"text": _text, "json": _json, "github": _github}[fmt](results, out)


def _text(results: Sequence[FileResult], out: TextIO) -> None:
    for r in results:
        if r.valid:
            out.write(f"ok       {r.file}" + (f" ({r.summary})" if r.summary else "") + "\n")
            out.writelines(f"  warning: {d}\n" for d in r.warnings)
            continue
        n = len(r.diagnostics)
        out.write(f"invalid  {r.file}: {n} error{'s' if n > 1 else ''}\n")
        for d in r.diagnostics:
            out.write(f"  {d}\n")
    bad = [r for r in results if not r.valid]
    errors = sum(len(r.diagnostics) for r in bad)
    out.write(f"\n{len(results)} file{'s' if len(results) != 1 else ''} checked: "
              + (f"{len(bad)} invalid, {errors} error{'s' if errors != 1 else ''}\n" if bad else "all valid\n"))


def _json(results: Sequence[FileResult], out: TextIO) -> None:
    body = {
        "valid": all(r.valid for r in results),
        "files": [{"file": r.file, "kind": r.kind, "valid": r.valid, "summary": r.summary,
                   "errors": [d.as_json() for d in r.diagnostics],
                   "warnings": [d.as_json() for d in r.warnings]} for r in results],
    }
    json.dump(body, out, indent=2)
    out.write("\n")


def _github(results: Sequence[FileResult], out: TextIO) -> None:
    for r in results:
        for level, d in [*(("error", d) for d in r.diagnostics), *(("warning", d) for d in r.warnings)]:
            props = f"file={_prop(d.file)},line={d.line},col={d.column},title={_prop('bigcompute ' + d.code)}"
            message = f"{render_path(d.path)}: {d.message}" if d.path else d.message
            out.write(f"::{level} {props}::{_data(message)}\n")
    bad = sum(not r.valid for r in results)
    out.write(f"{len(results)} files checked, {bad} invalid\n")


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
