"""The command table: every command loads, and only what it needs."""

from __future__ import annotations

import subprocess
import sys

import click

from bigcompute.cli.main import COMMANDS, cli


def test_every_command_loads():
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name


def test_validate_does_not_load_the_azure_sdk_or_pulumi():
    code = ("import sys; from bigcompute.cli.main import cli; cli.get_command(None, 'validate'); "
            "print(sorted(m for m in ('azure.batch', 'pulumi', 'bigcompute.emulator') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
