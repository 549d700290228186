"""Options shared by the runner's commands."""

from __future__ import annotations

import click

from bigcompute.cli.terminal import default_terminal
from bigcompute.runner.session import TargetArgs


def target_options(fn):
    fn = click.option("--outputs", "outputs_file", type=click.Path(dir_okay=False),
                      help="Azure target: stack outputs JSON instead of `pulumi stack output`.")(fn)
    fn = click.option("--stack", default="dev", show_default=True, envvar="BIGCOMPUTE_STACK",
                      help="Stack whose pools and outputs to use.")(fn)
    fn = click.option("--target", "target_kind", type=click.Choice(["local", "azure"]), default="local",
                      show_default=True, envvar="BIGCOMPUTE_TARGET", help="Where to run.")(fn)
    return fn


def target_args(target_kind: str, stack: str, outputs_file: str | None) -> TargetArgs:
    return TargetArgs(target_kind, stack, outputs_file, notify=default_terminal().warn)
