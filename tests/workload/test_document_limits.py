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


# --- only regular files: a FIFO or a device would block or never end, whatever the size limit ----------

def _load_within(path, seconds: float = 10):
    """load_document in a thread, so a regression fails the test instead of hanging it."""
    import threading

    from bigcompute.document import load_document

    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(_catch(load_document, path)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"load_document({path}) blocked for {seconds}s"
    return outcome[0]


def _catch(fn, *args):
    try:
        return fn(*args)
    except DocumentError as e:
        return e


@pytest.fixture
def fifo(tmp_path):
    import contextlib
    import os

    path = tmp_path / "w.yaml"
    os.mkfifo(path)
    yield path
    with contextlib.suppress(OSError):  # a reader blocked in open() by a regression is released by a writer
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def test_fifo_is_refused_without_blocking(fifo):
    [d] = _load_within(fifo).diagnostics
    assert (d.line, d.column, d.code) == (1, 1, "not-a-file")
    assert d.message == "cannot read file: it is a FIFO (named pipe), not a regular file"


def test_directory_and_socket_are_refused(tmp_path):
    import socket

    assert "it is a directory" in _load_within(tmp_path).diagnostics[0].message
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "s.yaml"))
        assert "it is a socket" in _load_within(tmp_path / "s.yaml").diagnostics[0].message


@pytest.mark.parametrize("command", [["validate"], ["validate", "--stack"], ["autoscale", "check"]])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_cli_refuses_special_files_without_hanging(command, special, fifo):
    """/dev/zero has size 0 to stat, then never ends: a regression would read it until memory runs out, so
    the command runs in a child with a memory limit and a timeout."""
    import resource
    import subprocess
    import sys

    path = str(fifo) if special == "fifo" else special
    args = [*command, path] + (["--", "/nonexistent-workloads"] if command == ["validate", "--stack"] else [])

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    run = subprocess.run([sys.executable, "-c", "from bigcompute.cli.main import cli; cli()", *args], capture_output=True, text=True,
                         timeout=60, preexec_fn=limit_memory)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "not a regular file" in run.stdout + run.stderr and "Traceback" not in run.stderr
