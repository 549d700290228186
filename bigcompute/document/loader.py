"""Load YAML the way a reviewer reads it: every value keeps its line and column.

PyYAML's constructor silently keeps the last of two duplicate keys and expands aliases without
limit, so this module builds values from the composed node graph itself (as cfn-lint does), refusing
duplicate keys, capping alias expansion and file size, and reporting non-UTF-8 bytes by position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from bigcompute.document.diagnostics import Diagnostic, DocumentError, Path
from bigcompute.document.files import NotRegularFile, read_regular, require_regular

try:  # the C composer is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MERGE_TAG = "tag:yaml.org,2002:merge"
COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
STR_TAG = "tag:yaml.org,2002:str"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True)
class LoadLimits:
    max_bytes: int = 2 * 1024 * 1024
    max_nodes: int = 100_000  # values built, counting every alias expansion
    max_depth: int = 64  # nesting of mappings and lists; no schema goes deeper than 8


@dataclass
class Document:
    path: str
    data: Any
    text: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def mark(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The line/column of `path`, or of its nearest located ancestor."""
        if key and path in self.key_marks:
            return self.key_marks[path]
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    def diagnostic(self, path: Path, message: str, *, key: bool = False, code: str = "invalid") -> Diagnostic:
        line, column = self.mark(path, key=key)
        return Diagnostic(self.path, line, column, path, message, code)


def load_document(path: str | FsPath, limits: LoadLimits = LoadLimits(), display: str | None = None) -> Document:
    name = display or str(path)
    try:
        size = require_regular(path).st_size
        if size > limits.max_bytes:
            raise _fail(name, 1, 1, f"file is {size} bytes, over the limit of {limits.max_bytes}", "too-large")
        raw = read_regular(path, limits.max_bytes)  # capped too: the file may grow after the stat
    except NotRegularFile as e:
        raise _fail(name, 1, 1, f"cannot read file: it is {e}", "not-a-file") from None
    except OSError as e:
        raise _fail(name, 1, 1, f"cannot read file: {e.strerror or e}", "unreadable") from None
    return load_text(raw, name, limits)


def load_text(raw: bytes | str, name: str, limits: LoadLimits = LoadLimits()) -> Document:
    if isinstance(raw, bytes):
        if len(raw) > limits.max_bytes:
            raise _fail(name, 1, 1, f"file is {len(raw)} bytes, over the limit of {limits.max_bytes}", "too-large")
        text = _decode(raw, name)
    else:
        text = raw
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (e.context, e.problem) if p) or str(e)
        raise _fail(name, line, col, f"YAML syntax error: {problem}", "yaml-syntax") from None
    except yaml.reader.ReaderError as e:  # a character YAML forbids (NUL, other control characters)
        line, col = _utf8_position(text, e.position)
        raise _fail(name, line, col, f"YAML syntax error: character {_codepoint(text, line, col)} is not "
                    "allowed in YAML", "yaml-syntax") from None
    except yaml.YAMLError as e:
        raise _fail(name, 1, 1, f"YAML error: {e}", "yaml-syntax") from None
    except UnicodeEncodeError as e:  # text given as str with lone surrogates
        line, col = _position(text, e.start)
        raise _fail(name, line, col, f"text is not valid Unicode (lone surrogate U+{ord(text[e.start]):04X})",
                    "encoding") from None
    doc = Document(name, None, text)
    if node is not None:
        doc.data = _Builder(doc, limits).build(node, ())
    return doc


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(name, line, col, f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})", "encoding") from None


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _utf8_position(text: str, offset: int) -> tuple[int, int]:
    """libyaml reports reader errors at a byte offset of the UTF-8 text: the line and column of that byte."""
    before = text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "replace")
    return _position(before, len(before))


def _codepoint(text: str, line: int, col: int) -> str:
    lines = text.split("\n")
    row = lines[line - 1] if line <= len(lines) else ""
    return f"U+{ord(row[col - 1]):04X}" if col <= len(row) else "here"


def _fail(name: str, line: int, col: int, message: str, code: str) -> DocumentError:
    return DocumentError([Diagnostic(name, line, col, (), message, code)])


class _Builder:
    def __init__(self, doc: Document, limits: LoadLimits):
        self.doc = doc
        self.limits = limits
        self.count = 0
        self.scalars = yaml.constructor.SafeConstructor()
        self.open: set[int] = set()  # ids of the collection nodes being built: an alias to one is a cycle

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > self.limits.max_nodes:
            # An aliased node carries its anchor's position; the top-level entry expanding it is the culprit.
            line, col = self.doc.marks.get(path[:1], _pos(node))
            raise DocumentError([Diagnostic(self.doc.path, line, col, path[:1], f"document expands to over "
                                            f"{self.limits.max_nodes} values (an alias/anchor bomb?)", "alias-bomb")])
        self.doc.marks.setdefault(path, _pos(node))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self._collection(node, path)
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if node.tag == TIMESTAMP_TAG:  # keep dates as written; no schema field wants a datetime
            return node.value
        try:
            return self.scalars.construct_object(node)
        except yaml.constructor.ConstructorError as e:
            raise self._error(node, path, f"cannot read value: {e.problem}", "yaml-value") from None
        except (ValueError, LookupError, TypeError, ArithmeticError):  # `!!int x`, `!!int ''`, `!!bool maybe`, 5,000 digits
            raise self._error(node, path, f"cannot read {str(node.value)[:40]!r} as {node.tag.rsplit(':', 1)[-1]}",
                              "yaml-value") from None

    def _collection(self, node: yaml.MappingNode | yaml.SequenceNode, path: Path) -> Any:
        if id(node) in self.open:  # located at the key holding the alias where there is one
            line, col = self.doc.key_marks.get(path, _pos(node))
            raise DocumentError([Diagnostic(self.doc.path, line, col, path, "an alias refers to a mapping or list "
                                            "that contains it (recursive alias)", "alias-recursive")])
        if node.tag not in COLLECTION_TAGS:  # `!!python/object/apply:os.system [...]`, `!!set`: never built
            raise self._error(node, path, f"cannot read value: unsupported tag '{node.tag}'", "yaml-value")
        if len(path) >= self.limits.max_depth:
            raise self._error(node, path, f"values nested more than {self.limits.max_depth} levels deep",
                              "too-deep")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        explicit: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                self._merge(out, explicit, value_node, path)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error(key_node, path, "mapping keys must be plain scalars", "yaml-key")
            key = str(self._scalar(key_node, path))
            if key in explicit:
                first = self.doc.key_marks[(*path, key)]
                raise self._error(key_node, (*path, key),
                                  f"duplicate key '{key}' (first defined at line {first[0]})", "duplicate-key")
            explicit.add(key)
            self.doc.key_marks[(*path, key)] = _pos(key_node)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _merge(self, out: dict[str, Any], explicit: set[str], node: yaml.Node, path: Path) -> None:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            merged = self.build(source, path)
            if not isinstance(merged, dict):
                raise self._error(source, path, "'<<' merges only mappings", "yaml-merge")
            for key, value in merged.items():
                if key not in explicit:
                    out.setdefault(key, value)

    def _error(self, node: yaml.Node, path: Path, message: str, code: str) -> DocumentError:
        line, col = _pos(node)
        return DocumentError([Diagnostic(self.doc.path, line, col, path, message, code)])


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
