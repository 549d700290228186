"""The runner's local-target fixtures (a throwaway repository, the session's Azurite and process emulator)."""

from tests.runner.conftest import clients, clients_for, local_files, local_target, repo  # noqa: F401
