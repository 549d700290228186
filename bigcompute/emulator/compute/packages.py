"""Application packages on local nodes: the uploaded zips, and their installation into a node's `applications`
folder with the environment Batch gives tasks (https://learn.microsoft.com/azure/batch/batch-application-packages,
"Execute the installed applications"; the reference's node environment, §A9).

A package is extracted once per node, under `applications/<application>#<version>`, the first time a task (or the
start task) of a pool or task that references it runs there; tasks see `AZ_BATCH_APP_PACKAGE_<application>_<version>`
or, for a reference without a version, `AZ_BATCH_APP_PACKAGE_<application>` (the default version's folder). On
Linux nodes "periods (.), hyphens (-) and number signs (#) are flattened to underscores in the environment
variable", and the application id keeps its case.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.state.applications import ApplicationDoc, ApplicationStore, Resolved, check_names


class PackageError(Exception):
    """A task's package reference that does not resolve: Batch fails the task with a pre-processing error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.failure = {"category": "usererror", "code": "ApplicationPackageError", "message": message,
                        "details": [{"name": "Message", "value": message}]}


class Packages:
    def __init__(self, root: Path, store: ApplicationStore) -> None:
        self.root = root  # <data dir>/applications: one zip per application version
        self.store = store

    def add(self, app_id: str, version: str, data: bytes, *, display_name: str | None,
            default: bool) -> ApplicationDoc:
        """An uploaded, active package version (ARM's create application package, upload, activate as zip)."""
        if not zipfile.is_zipfile(BytesIO(data)):
            raise BatchError(400, "InvalidRequestBody", "An application package must be a zip file.")
        check_names(app_id, version)  # before its name becomes a path
        target = self.zip_path(app_id, version)  # in place before the account lists it: no task finds it missing
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
        return self.store.add_version(app_id, version, display_name=display_name, default=default)

    def zip_path(self, app_id: str, version: str) -> Path:
        return self.root / app_id.lower() / f"{version}.zip"

    def install(self, node_root: Path, refs: list[dict[str, Any]]) -> dict[str, str]:
        """Each reference's package extracted on the node (once); returns the variables that name the folders."""
        env: dict[str, str] = {}
        for ref in refs:
            found = self.store.resolve(ref)
            if isinstance(found, str):
                raise PackageError(f"Application package reference {ref.get('applicationId')!r}: {found}.")
            folder = node_root / "applications" / f"{found.application_id}#{found.version}"
            if not folder.is_dir():
                self._extract(self.zip_path(found.application_id, found.version), folder)
            env[variable(found)] = str(folder)
        return env

    @staticmethod
    def _extract(package: Path, folder: Path) -> None:
        """Into a temporary folder renamed into place: two tasks starting together on a node never see half a
        package. Zip members keep their Unix modes (an executable stays executable); zipfile drops absolute
        paths and `..` from member names, so nothing lands outside the folder."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".install-", dir=folder.parent))
        try:
            with zipfile.ZipFile(package) as archive:
                for info in archive.infolist():
                    path = Path(archive.extract(info, staging))
                    mode = (info.external_attr >> 16) & 0o777
                    readable = 0o555 if info.is_dir() else 0o444  # the task user reads what the emulator installed
                    os.chmod(path, mode | readable if mode else readable | 0o200)
            staging.chmod(0o755)
            try:
                staging.rename(folder)
            except OSError:  # another task installed it meanwhile
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def variable(found: Resolved) -> str:
    name = f"AZ_BATCH_APP_PACKAGE_{found.application_id}" + (f"_{found.asked}" if found.asked is not None else "")
    return re.sub(r"[^A-Za-z0-9_]", "_", name)
