"""Located YAML documents: load with line/column marks, check against JSON Schemas, report diagnostics.

Shared by the workload files and the stack config, so both give `file:line:col: $.path: message`.
"""

from bigcompute.document.diagnostics import Diagnostic, DocumentError
from bigcompute.document.loader import Document, LoadLimits, load_document, load_text
from bigcompute.document.schema import check_schema

__all__ = [
    "Diagnostic",
    "Document",
    "DocumentError",
    "LoadLimits",
    "check_schema",
    "load_document",
    "load_text",
]
