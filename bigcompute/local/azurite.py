"""Starting Azurite (the storage emulator) the same way for `local up` and for the test fixtures."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from bigcompute.emulator.compute.storage import DEV_ACCOUNT, DEV_KEY  # Azurite's well-known account

AZURITE_BIN = Path("node_modules/.bin/azurite-blob")
AZURITE_VERSION = "3.35.0"  # what `local up` installs when no Azurite is found (package.json pins ^3.35.0 too)
BINARY_ENV = "BIGCOMPUTE_AZURITE"


def cache_dir() -> Path:
    """Where `local up` installs Azurite for a bigcompute installed without this repository's package.json."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bigcompute" / f"azurite-{AZURITE_VERSION}"


def candidates(project: Path) -> list[tuple[str, Path | None]]:
    """Where Azurite is looked for, in order: $BIGCOMPUTE_AZURITE, the project's own npm install, the PATH, the
    user's cache. Never this package's source checkout: an installed bigcompute must not depend on it."""
    found = shutil.which(AZURITE_BIN.name)
    env = os.environ.get(BINARY_ENV)
    return [(f"${BINARY_ENV}", Path(env) if env else None), ("the project", project / AZURITE_BIN),
            ("the PATH", Path(found) if found else None), ("the cache", cache_dir() / AZURITE_BIN)]


def find_binary(project: Path) -> Path | None:
    return next((path for _, path in candidates(project) if path is not None and path.is_file()), None)


def install_command() -> list[str]:
    return ["npm", "install", "--prefix", str(cache_dir()), "--no-audit", "--no-fund", "--loglevel=error",
            f"azurite@{AZURITE_VERSION}"]


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
