"""The YAML loader's own defences: encoding, size, alias bombs, multi-document files, merge keys."""

from __future__ import annotations

import pytest

from bigcompute.document import DocumentError, LoadLimits, load_text


def only_error(raw, limits=None):
    with pytest.raises(DocumentError) as info:
        load_text(raw, "f.yaml", limits or LoadLimits())
    [d] = info.value.diagnostics
    return d.line, d.column, d.code, d.message


def test_non_utf8_byte_is_located():
    assert only_error(b"a: 1\nb: caf\xe9\n") == (2, 7, "encoding", "file is not valid UTF-8 (byte 0xe9)")


def test_oversized_file_is_refused_before_parsing():
    line, col, code, message = only_error(b"a: 1\n" * 100, LoadLimits(max_bytes=100))
    assert (line, col, code) == (1, 1, "too-large") and "500 bytes, over the limit of 100" in message


def test_alias_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for name, prev in zip("bcdefg", "abcdef", strict=True):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    line, col, code, message = only_error(bomb.encode())
    assert code == "alias-bomb" and "expands to over 100000 values" in message and line >= 5


def test_aliases_and_merge_keys_within_limits_work():
    doc = load_text(b"base: &b {retries: 2, timeout: PT1M}\nx:\n  <<: *b\n  retries: 3\n", "f.yaml")
    assert doc.data["x"] == {"retries": 3, "timeout": "PT1M"}


def test_two_documents_are_refused():
    assert only_error(b"a: 1\n---\nb: 2\n")[2] == "yaml-syntax"


def test_marks_point_at_values_and_keys():
    doc = load_text(b"a:\n  b: [1, 2]\n", "f.yaml")
    assert doc.mark(("a", "b", 1)) == (2, 10)
    assert doc.mark(("a", "b"), key=True) == (2, 3)
    assert doc.mark(("a", "missing", 3)) == (2, 3)  # falls back to the nearest located ancestor
