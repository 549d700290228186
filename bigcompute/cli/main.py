"""The `bigcompute` command: one click group; each command family lives in its own module, imported
only when that command runs (the Azure SDK, Pulumi and the emulator stay unloaded for `validate`)."""

from __future__ import annotations

import importlib

import click

COMMANDS = {
    "validate": "bigcompute.cli.validate:validate_command",
    "expand": "bigcompute.cli.validate:expand_command",
    "plan": "bigcompute.cli.deploy:plan_command",
    "apply": "bigcompute.cli.deploy:apply_command",
    "status": "bigcompute.cli.jobs:status_command",
    "pools": "bigcompute.cli.jobs:pools_command",
    "logs": "bigcompute.cli.jobs:logs_command",
    "download": "bigcompute.cli.jobs:download_command",
    "delete": "bigcompute.cli.jobs:delete_command",
    "retry": "bigcompute.cli.retry:retry_command",
    "tasks": "bigcompute.cli.tasks:tasks_command",
    "history": "bigcompute.cli.tasks:history_command",
    "report": "bigcompute.cli.tasks:report_command",
    "doctor": "bigcompute.cli.doctor:doctor_command",
    "local": "bigcompute.cli.local:local_group",
    "infra": "bigcompute.cli.infra:infra_group",
    "autoscale": "bigcompute.cli.autoscale:autoscale_group",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bigcompute")
def cli() -> None:
    """Run big-compute workloads on Azure Batch, declared as code.

    Nodes unusable, nothing running? `bigcompute doctor --stack S [--target azure]` says why.

    \b
    Environment (each also shown in the --help of the commands that read it):
      BIGCOMPUTE_TARGET     local | azure (--target)
      BIGCOMPUTE_STACK      the stack (--stack)
      BIGCOMPUTE_OUTPUTS    the azure target's stack outputs JSON (--outputs)
      BIGCOMPUTE_MAX_TASKS  the most tasks a workload may expand to (--max-tasks)
      BIGCOMPUTE_WEBHOOK    apply's completion webhook (--webhook)
      BIGCOMPUTE_AZURITE    the Azurite program the local target starts

    \b
    Shell completion (commands, options, workload names, task ids):
      eval "$(_BIGCOMPUTE_COMPLETE=bash_source bigcompute)"   # in ~/.bashrc; zsh_source, fish_source too"""


def main() -> None:
    cli(prog_name="bigcompute")
