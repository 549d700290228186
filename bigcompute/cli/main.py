"""The `bigcompute` command: one click group; each command family lives in its own module."""

from __future__ import annotations

import click

from bigcompute.cli.validate import expand_command, validate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bigcompute")
def cli() -> None:
    """Run big-compute workloads on Azure Batch, declared as code."""


cli.add_command(validate_command)
cli.add_command(expand_command)


def main() -> None:
    cli(prog_name="bigcompute")
