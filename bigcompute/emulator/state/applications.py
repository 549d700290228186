"""The account's applications and their package versions. On Azure they are managed through Azure Resource Manager
(an application, its packages uploaded and activated) and the data plane only lists them; locally a package is
added through the emulator's own route (wire/application_handlers.py), which `bigcompute local up` calls for the
stack's `localApplications`. The package files are the compute layer's (compute/packages.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from bigcompute.emulator.core.errors import BatchError, invalid_property
from bigcompute.emulator.state.common import Ctx
from bigcompute.emulator.state.db import dumps, loads

# Batch management API (BatchManagement.json 2024-07-01): ApplicationNameParameter and VersionNameParameter.
APP_ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
VERSION_RE = re.compile(r"[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,63}")
MAX_POOL_PACKAGES = 10  # "There is a maximum of 10 Package references on any given Pool" (BatchPoolSpecification)


class ApplicationDoc(TypedDict, total=False):
    id: str
    displayName: str
    versions: list[str]
    _default: str  # the application's defaultVersion (ApplicationProperties): what a reference without one gets


@dataclass(frozen=True)
class Resolved:
    """A package reference resolved against the account: the application's id as the account spells it, the
    version the reference gave (None: the default) and the version that is installed."""

    application_id: str
    asked: str | None
    version: str


def check_names(app_id: str, version: str) -> None:
    if not APP_ID_RE.fullmatch(app_id):
        raise invalid_property("applicationId", "An application name is 1-64 letters, digits, hyphens and "
                               "underscores.", app_id)
    if not VERSION_RE.fullmatch(version):
        raise invalid_property("version", "A package version is 1-64 letters, digits, hyphens, underscores and "
                               "periods, not starting with a period.", version)


def short_id(application_id: str) -> str:
    """A pool names an application by its ARM id (`.../batchAccounts/<account>/applications/<name>`); a task by
    its name. Either way the name is the last segment."""
    return application_id.rstrip("/").rsplit("/applications/", 1)[-1]


class ApplicationStore:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def add_version(self, app_id: str, version: str, *, display_name: str | None, default: bool) -> ApplicationDoc:
        """An active package version (an upload over a version replaces it: ARM's allowUpdates, true by default)."""
        check_names(app_id, version)
        with self.ctx.db.tx() as c:
            row = c.execute("SELECT doc FROM applications WHERE id=?", (app_id,)).fetchone()
            doc = cast(ApplicationDoc, loads(row[0])) if row else ApplicationDoc(id=app_id, versions=[])
            if display_name:
                doc["displayName"] = display_name
            if version not in doc["versions"]:
                doc["versions"] = sorted([*doc["versions"], version])
            if default:
                doc["_default"] = version
            c.execute("INSERT OR REPLACE INTO applications (id, doc) VALUES (?, ?)", (doc["id"], dumps(doc)))
        return doc

    def all(self) -> list[ApplicationDoc]:
        with self.ctx.db.lock:
            rows = self.ctx.db.conn.execute("SELECT doc FROM applications ORDER BY id").fetchall()
        return [cast(ApplicationDoc, loads(text)) for (text,) in rows]

    def find(self, app_id: str) -> ApplicationDoc | None:
        with self.ctx.db.lock:
            row = self.ctx.db.conn.execute("SELECT doc FROM applications WHERE id=?", (app_id,)).fetchone()
        return None if row is None else cast(ApplicationDoc, loads(row[0]))

    def get(self, app_id: str) -> ApplicationDoc:
        doc = self.find(app_id)
        if doc is None:
            raise BatchError(404, "ApplicationNotFound", "The specified application does not exist.")
        return doc

    def resolve(self, ref: dict[str, Any]) -> Resolved | str:
        """The reference resolved, or why it cannot be."""
        name = short_id(str(ref.get("applicationId") or ""))
        doc = self.find(name)
        if doc is None:
            return f"the account has no application {name!r}"
        asked = ref.get("version")
        if asked is None:
            if "_default" not in doc:
                return f"application {name!r} has no default version and the reference names none"
            return Resolved(doc["id"], None, doc["_default"])
        if asked not in doc["versions"]:
            return f"application {name!r} has no version {asked!r} (it has {', '.join(doc['versions'])})"
        return Resolved(doc["id"], asked, asked)

    def check_pool_refs(self, refs: list[dict[str, Any]] | None, prop: str) -> None:
        """A pool's references must resolve: "If this is omitted on a Pool, and no default version is specified
        for this application, the request fails with the error code InvalidApplicationPackageReferences and HTTP
        status code 409" (BatchApplicationPackageReference); so does a reference to no application."""
        if not refs:
            return
        if len(refs) > MAX_POOL_PACKAGES:
            raise invalid_property(prop, f"A pool has at most {MAX_POOL_PACKAGES} application package references.")
        for i, ref in enumerate(refs):
            found = self.resolve(ref)
            if isinstance(found, str):
                raise BatchError(409, "InvalidApplicationPackageReferences", "One or more of the specified "
                                 f"application package references are invalid: {prop}[{i}]: {found}.",
                                 {"PropertyName": prop, "ApplicationId": str(ref.get("applicationId"))})


def wire_application(doc: ApplicationDoc) -> dict[str, Any]:
    out: dict[str, Any] = {"id": doc["id"], "versions": doc["versions"]}
    out["displayName"] = doc.get("displayName") or doc["id"]
    return out
