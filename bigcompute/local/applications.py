"""The local account's application packages: what Azure keeps in the Batch account (created and uploaded through
Azure Resource Manager, e.g. `az batch application package create`), the local target gets from the stack's
`localApplications` when `bigcompute local up` starts it. Each version is a folder or a zip, zipped and uploaded
through the emulator's own route (PUT /_emulator/applications/<id>/versions/<version>), signed by the real SDK."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK loads when a package is uploaded, not with every command that imports the launcher
    from azure.batch import BatchClient

API_VERSION = "2025-06-01"


def package_bytes(source: Path) -> bytes:
    """A zip file as it is, or a folder zipped with its files' modes (an executable stays executable)."""
    if source.is_file():
        return source.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()


def upload(client: BatchClient, app_id: str, version: str, data: bytes, *, display_name: str | None = None,
           default: bool = False) -> None:
    """Add (or replace) one package version; `default` makes it the application's default version."""
    from azure.core.rest import HttpRequest

    params = {"api-version": API_VERSION, **({"displayName": display_name} if display_name else {}),
              **({"default": "true"} if default else {})}
    request = HttpRequest("PUT", f"/_emulator/applications/{app_id}/versions/{version}", params=params,
                          content=data, headers={"content-type": "application/zip"})
    response = client.send_request(request)
    response.raise_for_status()


def upload_source(client: BatchClient, app_id: str, version: str, source: Path, *, display_name: str | None = None,
                  default: bool = False) -> None:
    """`source`: the package's folder or zip file."""
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such folder or zip file")
    upload(client, app_id, version, package_bytes(source), display_name=display_name, default=default)
