"""What the instant executor (no process) reports as a command line's exit code: the code of an `exit N` the
script would certainly reach, and 0 otherwise. An `exit N` under a condition (`|| exit 1`, inside `if ... fi`,
a `{ ...; }` group after `||`) is a failure path a real run takes only when its condition fails, which the
instant executor cannot know: reading it as the outcome would fail every task whose prologue guards its inputs.
"""

from __future__ import annotations

import os
import shlex

_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})
_OPEN = frozenset({"{", "(", "if", "for", "while", "until", "case", "$("})
_CLOSE = frozenset({"}", ")", "fi", "done", "esac"})
_SEPARATORS = frozenset({";", "&", ";;"})
_CONDITIONAL = frozenset({"&&", "||", "|"})


def exit_code(command_line: str) -> int:
    """The exit code of the first unconditional top-level `exit N` of the script, else 0."""
    if "exit" not in command_line:  # shlex reads a character at a time: a 20 KB command took 35 ms to parse
        return 0
    script = _unwrap(command_line)
    if script is None:
        return 0
    for statement in _statements(script):
        if len(statement) == 2 and statement[0] == "exit" and statement[1].isdigit():
            return int(statement[1]) % 256
    return 0


def _unwrap(command_line: str) -> str | None:
    """The script a command line runs: `sh -c '<script>'` and `cmd /c <script>` give their script; a bare
    command line (Batch runs it without a shell) is its own."""
    try:
        argv = shlex.split(command_line)
    except ValueError:
        return None
    while argv:
        prog = os.path.basename(argv[0]).lower()
        if prog in _SHELLS and "-c" in argv[1:-1]:
            script = argv[argv.index("-c") + 1]
        elif prog in ("cmd", "cmd.exe") and len(argv) > 2 and argv[1].lower() == "/c":
            script = " ".join(argv[2:])
        else:
            return command_line
        try:
            argv, command_line = shlex.split(script), script
        except ValueError:
            return None
    return command_line


def _tokens(script: str) -> list[str]:
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.wordchars += "${}"
    return list(lexer)


def _statements(script: str) -> list[list[str]]:
    """The script's top-level simple statements that run unconditionally (not in an and-or list, not nested)."""
    out: list[list[str]] = []
    depth, conditional = 0, False
    current: list[str] = []
    try:
        tokens = _tokens(script)
    except ValueError:
        return []
    for tok in [*tokens, ";"]:
        if tok in _OPEN or tok.startswith("$("):
            depth += 1
        elif tok in _CLOSE and depth:
            depth -= 1
        if depth == 0 and tok in _SEPARATORS:
            if current and not conditional:
                out.append(current)
            current, conditional = [], False
        elif depth == 0 and tok in _CONDITIONAL:
            conditional = True
        else:
            current.append(tok)
            conditional = conditional or depth > 0 or tok in _CLOSE
    return out
