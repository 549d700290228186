"""Resource-file download and output-file upload against Azurite, as the Batch node agent does them.

Identity references and auto-storage map to Azurite's well-known development account: that key is
public (it ships with every Azurite) and is used here in the emulator process only, never in a task's
environment.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_CONDITIONS = {"taskcompletion": (True, True), "tasksuccess": (True, False), "taskfailure": (False, True)}


@functools.lru_cache(maxsize=64)
def _container_client(url: str, blob_endpoint: str | None) -> Any:
    """One client per container URL, reused by every task's downloads and uploads (the SDK's clients are
    thread-safe and keep their connections open): a new client per task meant a new connection per file."""
    from azure.storage.blob import ContainerClient

    parsed = urlparse(url)
    if parsed.query:  # a SAS URL authenticates itself
        return ContainerClient.from_container_url(url)
    # Path-style (Azurite) or host-style (*.blob.core.windows.net) without SAS: the identity reference case.
    parts = [p for p in parsed.path.split("/") if p]
    local = parsed.hostname in ("127.0.0.1", "localhost")
    container = parts[1] if local and len(parts) > 1 else parts[0]
    endpoint = f"{parsed.scheme}://{parsed.netloc}/{DEV_ACCOUNT}" if local else blob_endpoint
    if not endpoint:
        raise RuntimeError(f"no local blob endpoint to map {url} to")
    return ContainerClient(endpoint, container, credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY})


def _safe_target(wd: Path, rel: str) -> Path:
    target = (wd / rel).resolve()
    if not target.is_relative_to(wd.resolve()):
        raise RuntimeError(f"{rel} is outside the task working directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _chmod(path: Path, mode: str | None) -> None:
    path.chmod(int(mode or "0770", 8))


def _http_download(url: str, target: Path) -> None:
    # requests speaks http(s) only, redirects included (urllib would follow one to ftp:// and open file://).
    # Submission refuses other schemes already; this keeps a task stored before that rule from reading disk.
    import requests

    if urlparse(url).scheme.lower() not in ("http", "https"):
        raise RuntimeError(f"resource file URL scheme not allowed: {urlparse(url).scheme}")
    with requests.get(url, stream=True, timeout=60) as resp, open(target, "wb") as f:
        resp.raise_for_status()
        shutil.copyfileobj(resp.raw, f)


def download_resource_files(files: list[dict[str, Any]], wd: Path, blob_endpoint: str | None) -> None:
    for rf in files:
        dest_dir = rf.get("filePath") or ""
        if rf.get("httpUrl"):
            target = _safe_target(wd, dest_dir)
            url = rf["httpUrl"]
            parsed = urlparse(url)
            parts = [p for p in parsed.path.split("/") if p]
            if parsed.hostname in ("127.0.0.1", "localhost") and not parsed.query and parts[:1] == [DEV_ACCOUNT]:
                client = _container_client(f"{parsed.scheme}://{parsed.netloc}/{DEV_ACCOUNT}/{parts[1]}", None)
                with open(target, "wb") as f:
                    # The URL's path is percent-encoded (`a%23b.csv`); the SDK encodes the name again.
                    client.download_blob(unquote("/".join(parts[2:]))).readinto(f)
            else:
                _http_download(url, target)
            _chmod(target, rf.get("fileMode"))
            continue
        if rf.get("autoStorageContainerName"):
            if not blob_endpoint:
                raise RuntimeError("autoStorageContainerName needs the emulator's --blob-endpoint")
            client = _container_client(f"{blob_endpoint.rstrip('/')}/{rf['autoStorageContainerName']}", blob_endpoint)
        else:
            client = _container_client(rf["storageContainerUrl"], blob_endpoint)
        # With a container source, filePath is a folder and each blob keeps its full name below it ("any directory
        # structure already associated with the input data will be retained in full"): the SDK's ResourceFile,
        # https://learn.microsoft.com/rest/api/batchservice/task/add#resourcefile
        for blob in client.list_blobs(name_starts_with=rf.get("blobPrefix") or None):
            target = _safe_target(wd, os.path.join(dest_dir, blob.name))
            with open(target, "wb") as f:
                client.download_blob(blob.name).readinto(f)
            _chmod(target, rf.get("fileMode"))


_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}|%(\w+)%")


def _expand(pattern: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = next(g for g in m.groups() if g)
        return env.get(name, m.group(0))
    return _VAR.sub(sub, pattern)


def upload_output_files(files: list[dict[str, Any]], wd: Path, env: dict[str, str], exit_code: int | None,
                        within: Path | None = None) -> None:
    """`within`: the folder a task user owns; a match resolving outside it (a link to a file only the
    emulator may read) is refused, since the upload reads with the emulator's rights."""
    from azure.storage.blob import ContentSettings

    succeeded = exit_code == 0
    for of in files:
        condition = ((of.get("uploadOptions") or {}).get("uploadCondition") or "taskcompletion").lower()
        on_success, on_failure = _CONDITIONS.get(condition, (True, True))
        if not (on_success if succeeded else on_failure):
            continue
        dest = of["destination"]["container"]
        pattern = _expand(of["filePattern"], env)
        wildcard = any(ch in pattern for ch in "*?[")
        # glob() skips dot-files unless the pattern names them, which is Batch's rule too.
        matches = [Path(p) for p in glob.glob(str(wd / pattern), recursive=True) if Path(p).is_file()]
        headers = {h["name"].lower(): h["value"] for h in dest.get("uploadHeaders") or []}
        settings = ContentSettings(content_type=headers.get("content-type"),
                                   content_encoding=headers.get("content-encoding"))
        client = _container_client(dest["containerUrl"], None)
        prefix = (dest.get("path") or "").strip("/")
        fixed = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        base = wd / os.path.dirname(fixed)
        for match in matches:
            if within is not None and not match.resolve().is_relative_to(within.resolve()):
                raise RuntimeError(f"{match} leads outside the task folder")
            if wildcard:
                rel = os.path.relpath(match, base).replace(os.sep, "/")
                name = f"{prefix}/{rel}" if prefix else rel
            else:
                name = prefix or match.name
            with open(match, "rb") as f:
                client.upload_blob(name, f, overwrite=True, content_settings=settings)


def upload_files(container_url: str, prefix: str, paths: list[Path]) -> None:
    """Each file as `<prefix>/<name>` in the container (a SAS URL, or one of Azurite's by identity)."""
    client = _container_client(container_url, None)
    for path in paths:
        with open(path, "rb") as f:
            client.upload_blob(f"{prefix}/{path.name}", f, overwrite=True)
