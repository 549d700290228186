"""Starting Azurite (the storage emulator) the same way for `local up` and for the test fixtures."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from bigcompute.emulator.compute.storage import DEV_ACCOUNT, DEV_KEY  # Azurite's well-known account

AZURITE_BIN = Path("node_modules/.bin/azurite-blob")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(location: Path, port: int, binary: Path = AZURITE_BIN) -> list[str]:
    return [str(binary), "--disableTelemetry", "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--location", str(location), "--skipApiVersionCheck", "--silent"]


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def blob_endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}/{DEV_ACCOUNT}"


def connection_string(port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={blob_endpoint(port)};")
