"""`bigcompute doctor`: why nodes are unusable, why nothing runs; every finding with what to do about it."""

from __future__ import annotations

import json

import click

from bigcompute.cli.app import App
from bigcompute.cli.exit import EXIT_OK, EXIT_UNHEALTHY
from bigcompute.cli.options import target_options
from bigcompute.cli.terminal import clean

LABEL = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
INDENT = " " * 6


def render_text(report) -> str:
    """A doctor report (runner.doctor.DoctorReport) for people."""
    lines = [f"bigcompute doctor: {report.target} target, stack {report.stack}", ""]
    for f in report.findings:
        first, *rest = clean(f.detail).splitlines() or [""]
        lines.append(f"{LABEL[f.status]}  {f.check}: {first}")
        lines += [f"{INDENT}{line}" for line in rest]
        if f.action:
            lines.append(f"{INDENT}→ {clean(f.action)}")
    counts = {s: sum(f.status == s for f in report.findings) for s in ("fail", "warn", "ok")}
    lines += ["", f"{counts['fail']} failed, {counts['warn']} warning(s), {counts['ok']} ok"]
    return "\n".join(lines) + "\n"


def run_doctor(app: App, stack: str, target_kind: str, outputs: str | None) -> int:
    report = app.runner(target_kind, stack, outputs).doctor()  # an invalid stack: exit 2, before any check
    app.term.write(json.dumps(report.as_json(), indent=2) + "\n" if app.json else render_text(report))
    return EXIT_UNHEALTHY if report.status == "fail" else EXIT_OK


@click.command("doctor")
@target_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def doctor_command(target_kind, stack, outputs_file, fmt) -> None:
    """Why nodes are unusable or nothing runs, and what to do about it.

    Checks that the account and storage answer (DNS, TCP, network rules), the credentials and their tokens, the
    runner's storage roles (reads inputs, writes and deletes a probe blob in outputs), the Batch account's vCPU,
    pool and job quotas against the stack's pools (azure), each pool's resize errors, allocation and last autoscale
    run, and nodes in unusable or starttaskfailed state with the start task's failure.

    Exit 0 when no check fails (warnings included), 3 when one does, 2 for an invalid stack file."""
    App(fmt).run(lambda app: run_doctor(app, stack, target_kind, outputs_file))


