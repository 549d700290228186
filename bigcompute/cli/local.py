"""`bigcompute local up|status|down`: the local target (Azurite + the Batch emulator) on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from bigcompute.cli.app import App
from bigcompute.cli.exit import EXIT_FAILED, EXIT_INVALID, EXIT_OK, Exit
from bigcompute.local import launcher
from bigcompute.project import NoProject, find_root, local_dir, private_dir, shown


def _local() -> Path:
    """The project's `.bigcompute/local`, wherever in the project the command runs (relative to the current
    folder, as messages show it); outside any project, exit 2."""
    try:
        return Path(shown(local_dir(find_root())))
    except NoProject as e:
        raise Exit(EXIT_INVALID, f"error: {e}") from None


@click.group("local")
def local_group() -> None:
    """Run the local target: Azurite + the Batch emulator on 127.0.0.1."""


@local_group.command("up")
@click.option("--stack", default="dev", show_default=True)
@click.option("--port", type=int, default=0,
              help="Emulator port (default: the one this checkout used last, else a free one).")
@click.option("--azurite-port", type=int, default=0,
              help="Azurite blob port (default: the one this checkout used last, else a free one). Jobs created "
                   "before keep the old one.")
@click.option("--time-scale", type=float, default=1.0, show_default=True,
              help="Divide autoscale intervals and the transitions' durations.")
@click.option("--transitions", default="azure", show_default=True, metavar="azure|instant[,NAME=SECONDS...]",
              help="How long pools stay resizing, nodes creating/starting, jobs deleting...: Azure's typical times "
                   "(a pool's nodes take about 3 minutes; --time-scale 30 makes it 6 s), none, or overrides "
                   "such as job-deleting=5.")
@click.option("--faults", default="", help="e.g. 429=0.05,503=0.1,reset=0.02")
@click.option("--task-user", default="auto", show_default=True, metavar="USER|none|auto",
              help="Who non-elevated tasks run as when the target runs as root (auto: nobody, when it can run "
                   "sh and python3).")
def up(stack: str, port: int, azurite_port: int, time_scale: float, transitions: str, faults: str,
       task_user: str) -> None:
    """Start Azurite and the emulator, create the stack's containers and pools, write outputs.json."""
    App().run(lambda app: _up(stack, port, azurite_port, time_scale, transitions, faults, task_user))


def _up(stack: str, port: int, azurite_port: int, time_scale: float, transitions: str, faults: str,
        task_user: str) -> int:
    try:
        transitions = launcher.check_transitions(transitions)
    except ValueError as e:
        raise Exit(EXIT_INVALID, f"error: {e}") from None
    local = _local()
    private_dir(local.parent.parent.resolve())
    try:
        result = launcher.up(stack, port, azurite_port, time_scale, faults, task_user, root=local,
                             transitions=transitions)
    except launcher.LauncherError as e:
        raise Exit(EXIT_FAILED, f"error: {e}") from None
    outputs = result.outputs
    state = "started" if result.started else "already running"
    for note in result.notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(f"{state}: Batch emulator {outputs['batchAccountEndpoint']} (account {outputs['batchAccountName']}), "
               f"Azurite {outputs['blobEndpoint']}; pools: {', '.join(outputs['poolIds'])}", err=True)
    click.echo(f"outputs: {local / 'outputs.json'}; credentials: {local / 'credentials.json'}",
               err=True)
    return EXIT_OK


@local_group.command("status")
def status() -> None:
    """Show whether the services run, and their pools, nodes and jobs."""
    App().run(lambda app: _status())


def _status() -> int:
    local = _local()
    procs = launcher.processes(local)
    click.echo(f"local target of {local.parent.parent.resolve()}")
    emulator_up = launcher.records.ours(procs, "emulator", local)
    click.echo(f"emulator: {'running ' + procs['emulatorUrl'] if emulator_up else 'stopped'}")
    azurite_up = launcher.records.ours(procs, "azurite", local)
    click.echo(f"azurite:  {'running ' + procs['blobEndpoint'] if azurite_up else 'stopped'}")
    if not emulator_up:
        return EXIT_OK
    for note in launcher.isolation_notes(procs):
        click.echo(f"warning: {note}", err=True)
    from bigcompute.runner.api import local_contents

    found = local_contents(procs["emulatorUrl"], launcher.credentials(local))
    for pool in found.pools:
        click.echo(f"pool {pool['id']}: {pool['allocation']}, {pool['nodes']} node(s) ({', '.join(pool['states']) or '-'}), "
                   f"{pool['slots']} slot(s)/node")
    for job in found.jobs:
        click.echo(f"job {job['id']}: {job['state']}, active {job['active']}, running {job['running']}, "
                   f"succeeded {job['succeeded']}, failed {job['failed']}")
    return EXIT_OK


@local_group.command("down")
@click.option("--purge", is_flag=True, help="Also delete all local data (.bigcompute/local).")
def down(purge: bool) -> None:
    """Stop Azurite and the emulator; data stays unless --purge."""
    App().run(lambda app: _down(purge))


def _down(purge: bool) -> int:
    local = _local()
    for note in launcher.down(purge, root=local):
        click.echo(f"warning: {note}", err=True)
    click.echo(f"stopped; {'removed' if purge else 'data kept in'} {local}", err=True)
    return EXIT_OK
