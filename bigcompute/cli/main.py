"""The `bigcompute` command: one click group; each command family lives in its own module."""

from __future__ import annotations

import click

from bigcompute.cli.autoscale import autoscale_group
from bigcompute.cli.deploy import apply_command, plan_command
from bigcompute.cli.infra import infra_group
from bigcompute.cli.jobs import delete_command, download_command, logs_command, pools_command, status_command
from bigcompute.cli.local import local_group
from bigcompute.cli.validate import expand_command, validate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bigcompute")
def cli() -> None:
    """Run big-compute workloads on Azure Batch, declared as code."""


for command in (validate_command, expand_command, plan_command, apply_command, status_command, pools_command,
                logs_command, download_command, delete_command, local_group, infra_group, autoscale_group):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="bigcompute")
