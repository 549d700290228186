"""Task-provided text is cleaned of terminal control sequences before it reaches a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bigcompute.cli.terminal import Terminal, clean


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b]0;pwned\x07b", "ab"),                       # OSC: set the window title, BEL-terminated
    ("a\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "alink"),  # OSC 8 hyperlink, ST-terminated
    ("x\x1b[2Jy", "xy"),                                # CSI: clear the screen
    ("p\x9b2Jq", "pq"),                                 # 8-bit CSI
    ("\x1bPq#0;2;0;0;0\x1b\\ok", "ok"),                 # DCS (sixel)
    ("\x1b(Bz\x1bc", "z"),                              # charset designation, full reset
    ("r\rs\x08\x00\x7f\x85", "rs"),                     # C0, DEL, C1 controls
    ("tab\tand\nnewline é 日本", "tab\tand\nnewline é 日本"),  # kept
    ("unterminated \x1b]0;title\nnext line", "unterminated \nnext line"),
])
def test_clean_removes_control_sequences(raw, shown):
    assert clean(raw) == shown


def test_messages_and_quoted_stderr_are_cleaned():
    err = io.StringIO()
    term = Terminal(err=Console(file=err, force_terminal=True, color_system=None, width=200))
    term.error("task t: \x1b]0;pwned\x07failed")
    term.quote("one\x1b[2J\ntwo\x9b1m", indent="  ")
    assert err.getvalue() == "✗ task t: failed\n  one\n  two\n"
