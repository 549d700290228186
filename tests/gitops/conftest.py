"""The gitops tests run the workflows' commands against the runner's local target: its fixtures, re-exported."""

from tests.runner.conftest import clients, local_files, local_target, repo  # noqa: F401
