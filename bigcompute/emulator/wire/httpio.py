"""Request parsing and response building shared by the handlers (no rules here)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.core.errors import BatchError, invalid_property, invalid_query
from bigcompute.emulator.core.formats import rfc1123
from bigcompute.emulator.state.common import public
from bigcompute.emulator.wire.odata import FILTERABLE, parse_filter, parse_select, project

JSON_TYPE = "application/json;odata=minimalmetadata"
MAX_RESULTS = 1000
# Integer properties of request bodies. Batch's JSON reader takes a numeric string for them too, and the
# current azure-cli (on azure-batch 15.0.0b1) sends CLI numbers as strings: `"targetDedicatedNodes": "1"`.
INT_KEYS = frozenset({
    "targetDedicatedNodes", "targetLowPriorityNodes", "taskSlotsPerNode", "priority", "maxParallelTasks",
    "maxTaskRetryCount", "requiredSlots", "code", "start", "end", "numberOfInstances",
})
_INT_TEXT = re.compile(r"-?\d+")


# Batch documents one request-body limit: a task collection's "total serialized size ... must be less than 1MB",
# else `RequestBodyTooLarge` (BatchTaskGroup.value,
# https://learn.microsoft.com/javascript/api/@azure-rest/batch/batchtaskgroup). No other Batch request body comes
# near it, so the emulator holds every body to the same cap.
MAX_BODY = 1024 * 1024
# Past the cap the rest is read and discarded up to this much, so a client still sending gets to read the 413
# (the SDK's create_tasks splits its chunk on it); a larger declared or streamed body just gets the 413 and a close.
_DRAIN = 16 * MAX_BODY
# NUL cannot reach a process (argv and environ are C strings); lone surrogates cannot be encoded as UTF-8.
_BAD_TEXT = re.compile(r"[\x00\ud800-\udfff]")
# What `_clean` acts on reaches a body only as a \u escape, a surrogate's UTF-8 bytes (json.loads decodes with
# surrogatepass), a NUL byte (any UTF-16/32 body) or an integer property sent as a string: a body with none of
# them skips the walk, as every task collection of ordinary tasks does.
_MAY_NEED_CLEANING = re.compile(
    rb'\\u|\xed[\xa0-\xbf]|\x00|"(?:' + "|".join(sorted(INT_KEYS)).encode() + rb')"\s*:\s*"')


def _too_large() -> BatchError:
    return BatchError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum "
                      f"permissible limit of {MAX_BODY} bytes.")


async def read_body(req: Request, limit: int = MAX_BODY) -> bytes:
    """The body, counted while it streams in (a chunked body has no Content-Length): never more than `limit`
    bytes in memory."""
    declared = req.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in req.stream():
        size += len(chunk)
        if size > _DRAIN:
            break
        if size < limit:
            chunks.append(chunk)
    if size >= limit:
        raise _too_large()
    return b"".join(chunks)


async def body(req: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    raw = await read_body(req, limit)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BatchError(400, "InvalidRequestBody", "The specified request body is not syntactically valid.") from exc
    if not isinstance(data, dict):
        raise BatchError(400, "InvalidRequestBody", "The request body must be a JSON object.")
    if _MAY_NEED_CLEANING.search(raw):
        _clean(data, "")
    return data


def _clean(node: Any, path: str) -> None:
    """Refuse text no process can take (naming the property) and coerce numeric strings of INT_KEYS."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        prop = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip(".")
        if isinstance(key, str) and _BAD_TEXT.search(key):
            raise BatchError(400, "InvalidRequestBody", "The request body holds a property name with a NUL byte or "
                             "an unpaired surrogate.")
        if isinstance(value, str):
            if _BAD_TEXT.search(value):
                raise invalid_property(prop, f"The value of {prop} holds a NUL byte or an unpaired surrogate, "
                                       "which no command line or environment can carry.")
            if key in INT_KEYS and _INT_TEXT.fullmatch(value):
                node[key] = int(value)
        elif isinstance(value, (dict, list)):
            _clean(value, prop)


def resource_headers(doc: Mapping[str, Any] | None) -> dict[str, str]:
    if not doc:
        return {}
    from bigcompute.emulator.core.formats import parse_iso

    headers = {"ETag": doc["eTag"], "Last-Modified": rfc1123(parse_iso(doc["lastModified"]))}
    if doc.get("url"):
        headers["DataServiceId"] = doc["url"]
    return headers


def json_response(data: Any, status: int = 200, doc: Mapping[str, Any] | None = None) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status, resource_headers(doc), media_type=JSON_TYPE)


def empty(status: int, doc: Mapping[str, Any] | None = None) -> Response:
    return Response(b"", status, resource_headers(doc))


# The properties the 2025-06-01 spec marks `x-ms-secret` (passwords, storage keys, SAS tokens, SSH private keys):
# Batch takes them and never answers them back, at any depth of a pool, job, task or schedule.
SECRET_PROPERTIES = frozenset({"password", "accountKey", "sasKey", "sshPrivateKey"})


def without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if k not in SECRET_PROPERTIES}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def wire_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a GET answers of a stored resource: no bookkeeping, no secret."""
    return cast(dict[str, Any], without_secrets(public(doc)))


def one(req: Request, doc: Mapping[str, Any]) -> Response:
    view = project(wire_view(doc), parse_select(req.query_params.get("$select")))
    return json_response(view, 200, doc)


class ListQuery:
    def __init__(self, req: Request, listing: str) -> None:
        """`listing` names the list (a key of odata.FILTERABLE): what its $filter may name."""
        q = req.query_params
        self.filter_text = q.get("$filter")
        self.select_text = q.get("$select")
        self.pred = parse_filter(self.filter_text, FILTERABLE[listing])
        self.select = parse_select(self.select_text)
        self.token = q.get("$skiptoken")
        self.recursive = q.get("recursive")
        raw = q.get("maxresults") or str(MAX_RESULTS)
        try:
            self.limit = int(raw)
        except ValueError as exc:
            raise invalid_query("maxresults", raw) from exc
        if not 1 <= self.limit <= MAX_RESULTS:
            raise BatchError(400, "OutOfRangeQueryParameterValue", "maxresults must be between 1 and 1000.",
                             {"QueryParameterName": "maxresults", "QueryParameterValue": raw})
        self.base = str(req.base_url).rstrip("/") + req.url.path
        # Batch's nextLinks carry the api-version: the msrest-based 14.x SDK and az send the link as it is.
        self.api_version: str | None = req.scope.get("state", {}).get("api_version")

    def page_of(self, items: Sequence[Mapping[str, Any]]) -> Response:
        """A page of a list built whole (nodes, files): `maxresults` items after the offset in $skiptoken."""
        try:
            start = int(self.token or 0)
        except ValueError as exc:
            raise invalid_query("$skiptoken", self.token or "", "The $skiptoken is not valid.") from exc
        end = start + self.limit
        return self.page(items[start:end], str(end) if end < len(items) else None)

    def page(self, docs: Sequence[Mapping[str, Any]], next_token: str | None) -> Response:
        out: dict[str, Any] = {"value": [project(wire_view(d), self.select) for d in docs]}
        if next_token is not None:
            params: dict[str, Any] = {"api-version": self.api_version} if self.api_version else {}
            params.update({"$skiptoken": next_token, "maxresults": self.limit})
            if self.recursive is not None:  # a file list's next page lists the same way
                params["recursive"] = self.recursive
            if self.filter_text:
                params["$filter"] = self.filter_text
            if self.select_text:
                params["$select"] = self.select_text
            out["odata.nextLink"] = f"{self.base}?{urlencode(params, quote_via=quote)}"
        return json_response(out)
