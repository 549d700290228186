"""Storage outside the workload's own files: containers named by a workload (the stack's account or another),
https URLs with an optional SHA-256, output destinations with path templates, and blobs listed for
`foreach: {blobs: …}`.

A container is written either as a bare name (a container of the stack's storage account: the same workload
runs on the local target and on Azure) or as `https://<account>.blob.core.windows.net/<container>` (another
account). Nothing carries a SAS token or key: tasks reach every container through the stack's pool identity
(`identityReference`), so a URL with a query is refused.
https://learn.microsoft.com/rest/api/batchservice/task/add#resourcefile
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from bigcompute.workload.templates import Template, TemplateError, split_template

# https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata#container-names
CONTAINER_NAME = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")
SHA256 = re.compile(r"[0-9a-f]{64}\Z")
# A destination path's deferred placeholder: the job id exists only once the plan has hashed the spec.
JOB = "job"
JOB_MARK = "\0job\0"  # no workload string, file name or blob name holds a NUL (check_text refuses them)


class StorageError(ValueError):
    pass


@dataclass(frozen=True)
class UrlInput:
    """An https file every task downloads to `<to>/<name>`; verified against `sha256` when given."""

    url: str
    to: str = ""
    name: str = ""
    sha256: str | None = None

    @property
    def path(self) -> str:
        """Where the file lands in the task's working directory."""
        return f"{self.to.rstrip('/')}/{self.name}" if self.to else self.name


@dataclass(frozen=True)
class BlobSource:
    """`foreach: {blobs: PREFIX}`: one task per blob under the prefix (optionally matching a glob)."""

    prefix: str
    container: str | None = None  # None: the stack's inputs container
    match: str | None = None
    to: str = ""


@dataclass(frozen=True)
class ListedFile:
    """A blob that one task of a `foreach: {blobs: …}` group receives, as the plan listed it."""

    relpath: str  # where it lands in the working directory: `<to>/<full blob name>`
    name: str  # the blob's name
    container: str | None
    size: int
    version: str  # Content-MD5 or ETag (see runner.sync.ListedBlob)


def url_name(url: str) -> str:
    """The file name a URL's path ends with ('' when it ends with '/')."""
    return unquote(PurePosixPath(urlsplit(url).path).name) if not urlsplit(url).path.endswith("/") else ""


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise StorageError(f"URL {url!r} must be an https:// URL: a node downloads it before the task runs, and "
                           "plain http can be changed on the way")
    if parts.username or parts.password:
        raise StorageError("URL carries a user name or password; workload files hold no credentials")
    if _looks_signed(parts.query):
        raise StorageError("URL carries a SAS signature (sig=); workload files hold no credentials: tasks read "
                           "storage through the stack's pool identity (write the container and a blob prefix)")


def _looks_signed(query: str) -> bool:
    return any(p.split("=", 1)[0].lower() == "sig" for p in query.split("&") if p)


def check_container(ref: str) -> None:
    """A bare container name of the stack's account, or an https container URL of another account."""
    if "://" not in ref:
        if not CONTAINER_NAME.match(ref):
            raise StorageError(f"container {ref!r} is not a valid container name (3-63 lowercase letters, digits "
                               "and single hyphens) nor an https:// container URL")
        return
    check_url(ref)
    parts = urlsplit(ref)
    if parts.query or parts.fragment:
        raise StorageError(f"container URL {ref!r} must end at the container: no query or fragment")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 1 or not CONTAINER_NAME.match(segments[0]):
        raise StorageError(f"container URL {ref!r} must be https://<account host>/<container>, one container "
                           "name as its path (a blob prefix goes in its own field)")


def is_url(ref: str | None) -> bool:
    return bool(ref) and "://" in ref  # type: ignore[operator]


def container_url(ref: str, endpoint: str) -> str:
    """The URL of a container reference: a bare name below the stack's blob endpoint, a URL as written."""
    return ref.rstrip("/") if is_url(ref) else f"{endpoint.rstrip('/')}/{ref}"


def account_host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


# --- output destination paths ------------------------------------------------------------------------------

DEFAULT_PATH = "{job}/{task}"


def check_path_template(text: str) -> None:
    """A destination path stays a relative blob path, and `{job}` takes no format spec (it is filled last)."""
    for literal, f in split_template(text):
        if f is not None and f.name == JOB and f.spec:
            raise TemplateError("placeholder {job} takes no format spec")
        if "\\" in literal:
            raise TemplateError(f"destination path {text!r} must use '/' as separator")
    if text.startswith("/") or ".." in text.split("/"):
        raise TemplateError(f"destination path {text!r} must be relative and must not contain '..'")


def destination_blob_path(path: str, pattern: str) -> str:
    """Where an output lands: its path relative to the working directory is kept below `path`, for plain
    paths and wildcards alike (Batch keeps only what follows a wildcard's fixed folders, and names a plain
    path's blob by `path` alone: so the fixed folders, or the whole relative path, go into `path`)."""
    from bigcompute.workload.globs import has_wildcard

    base = path.strip("/")
    if has_wildcard(pattern):
        fixed = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        keep = fixed.rsplit("/", 1)[0] if "/" in fixed else ""
    else:
        keep = pattern.strip("/")
    return "/".join(p for p in (base, keep) if p)


def fill_job(path: str, job: str) -> str:
    return path.replace(JOB_MARK, job)


def render_path(template: Template, values: dict, task: str) -> str:
    """A destination path for one task: its placeholders filled, `{job}` left as JOB_MARK for `fill_job`."""
    rendered = template.render({**values, "task": task, JOB: JOB_MARK})
    if rendered.startswith("/") or ".." in rendered.split("/") or "\\" in rendered:
        raise TemplateError(f"destination path {rendered!r} of task {task!r} escapes its container folder",
                            template.text)
    return rendered
