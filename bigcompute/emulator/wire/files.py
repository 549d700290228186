"""Node and task files on the wire: the listing entries and the headers Batch sends for one file."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.compute.files import FileInfo
from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.core.formats import iso, rfc1123


def wire_file(info: FileInfo, base_url: str) -> dict[str, Any]:
    props: dict[str, Any] = {"creationTime": iso(info.created), "lastModified": iso(info.modified),
                             "contentLength": str(info.size), "fileMode": info.mode}
    if not info.is_dir:
        props["contentType"] = "application/octet-stream"
    return {"name": info.name, "url": f"{base_url}/files/{info.name}", "isDirectory": info.is_dir,
            "properties": props}


def byte_range(header: str | None, size: int) -> tuple[int, int]:
    """`ocp-range: bytes=a-b` -> (start, end_exclusive); Batch still answers 200 for a range."""
    if not header or not header.startswith("bytes="):
        return 0, size
    first, _, last = header[6:].partition("-")
    try:
        start = int(first) if first else max(0, size - int(last))
        end = min(size, int(last) + 1) if first and last else size
    except ValueError as exc:
        raise BatchError(400, "InvalidHeaderValue", "The ocp-range header is not a valid byte range.",
                         {"HeaderName": "ocp-range"}) from exc
    return start, max(start, end)


def file_response(req: Request, info: FileInfo, url: str) -> Response:
    """GET or HEAD of one file: Batch's file properties as headers, and the bytes `ocp-range` asks for."""
    headers = {
        "Last-Modified": rfc1123(info.modified), "ocp-creation-time": rfc1123(info.created),
        "ocp-batch-file-isdirectory": str(info.is_dir).lower(), "ocp-batch-file-mode": info.mode,
        "ocp-batch-file-url": url,
    }
    if info.is_dir:
        return Response(b"", 200, headers)
    start, end = byte_range(req.headers.get("ocp-range"), info.size)
    if req.method == "HEAD":
        headers["Content-Length"] = str(info.size)
        return Response(None, 200, headers, media_type="application/octet-stream")
    with open(info.path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    return Response(data, 200, headers, media_type="application/octet-stream")
