"""Exit codes, and `Exit`: a command body returns an int or raises it; the App (cli/app.py) is the one place the
CLI exits."""

from __future__ import annotations

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
        self.message = message  # printed as it is: located diagnostics (file:line:col) start their lines
