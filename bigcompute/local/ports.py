"""The local target's ports are stable per checkout: jobs keep the Azurite URL they were created with
(their tasks' resource files point at it), so a restart reuses the ports recorded in outputs.json, and
refuses, saying what to do, when another process holds one."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlparse

from bigcompute.local import azurite as az


class PortTaken(Exception):
    pass


def recorded(root: Path) -> tuple[int | None, int | None]:
    """(emulator port, Azurite port) of the last run, from outputs.json."""
    try:
        outputs = json.loads((root / "outputs.json").read_text())
        return urlparse(outputs["batchAccountEndpoint"]).port, urlparse(outputs["blobEndpoint"]).port
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the services bind: TIME_WAIT is no owner
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose(root: Path, port: int = 0, azurite_port: int = 0) -> tuple[int, int]:
    """(Azurite port, emulator port): the asked ones, else the recorded ones, else free ones."""
    emu_last, blob_last = recorded(root)
    blob, emu = azurite_port or blob_last or az.free_port(), port or emu_last or az.free_port()
    for chosen, asked, last, what, flag in ((blob, azurite_port, blob_last, "Azurite", "--azurite-port"),
                                            (emu, port, emu_last, "Batch emulator", "--port")):
        if free(chosen):
            continue
        where = (f"asked for with {flag}" if asked else
                 f"where this checkout's {what} listened last time (recorded in {root / 'outputs.json'})" if last
                 else "just found free")
        impact = (f"jobs created before read their inputs from {az.blob_endpoint(blob_last)}, so their unfinished "
                  "tasks fail on another port: apply them again after" if what == "Azurite" and blob_last else
                  "existing jobs are kept")
        raise PortTaken(f"port {chosen}, {where}, is in use by another process (`ss -ltnp 'sport = :{chosen}'` "
                           f"shows which); nothing was started. Stop that process and run `bigcompute local up` "
                           f"again, or choose another port with `bigcompute local up {flag} N` ({impact})")
    if blob == emu:
        raise PortTaken(f"Azurite and the Batch emulator cannot share port {blob}")
    return blob, emu
