"""Exit codes and the one place the CLI exits: commands return an int or raise `Exit`."""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
EXIT_UNHEALTHY = 3  # `doctor`: a check failed (the command itself ran)
EXIT_CHANGES = 10  # `plan --detailed-exitcode`: apply would change something (Terraform's 2 is our invalid input)
EXIT_UNREACHABLE = 4  # the target does not answer (not started, stopped meanwhile, or out of the network's reach)
EXIT_TIMEOUT = 5  # `--wait --timeout`: the jobs still run when the time is up
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class Exit(Exception):
    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message

    @staticmethod
    def run(body: Callable[[], int]) -> None:
        try:
            code = body()
        except Exit as e:
            if e.message:
                print(e.message, file=sys.stderr)
            code = e.code
        sys.exit(code)
