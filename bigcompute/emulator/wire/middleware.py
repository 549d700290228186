"""ASGI middleware around every request: request-id, fault injection, the api-version check, SharedKey
auth, and the one place a BatchError becomes a response."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bigcompute.emulator.core.errors import ERROR_CONTENT_TYPE, BatchError, error_body, new_request_id
from bigcompute.emulator.core.identities import IMDS_PATH, ManagedIdentities
from bigcompute.emulator.core.tokens import JobTokens
from bigcompute.emulator.wire import auth, versions
from bigcompute.emulator.wire.faults import FaultPlan, as_error

log = logging.getLogger("bigcompute.emulator")
UNAUTHENTICATED = ("/_emulator/health",)
NOT_BATCH = IMDS_PATH + "/"  # a node's IMDS (wire/imds.py): neither Batch's auth nor its api-version
UNFAULTED = "/_emulator/"


async def send_error(send: Send, err: BatchError, request_id: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    payload = error_body(err, request_id)
    headers = [(b"content-type", ERROR_CONTENT_TYPE.encode()), (b"content-length", str(len(payload)).encode()),
               (b"request-id", request_id.encode()), *extra]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BatchMiddleware:
    def __init__(self, app: ASGIApp, account: str, key: str, faults: FaultPlan | None = None,
                 tokens: auth.TokenVerifier | None = None, job_tokens: JobTokens | None = None,
                 identities: ManagedIdentities | None = None) -> None:
        self.app = app
        self.account = account
        self._key = key
        self.faults = faults or FaultPlan()
        self.tokens = tokens
        self.job_tokens = job_tokens
        self.identities = identities

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        fault = None
        if scope["path"] not in UNAUTHENTICATED and not scope["path"].startswith(NOT_BATCH):
            # The emulator's own routes are never faulted: a test must read the counts it asserts and set up
            # the conditions it asks for.
            fault = None if scope["path"].startswith(UNFAULTED) else self.faults.draw()
            if fault == "reset":
                self.faults.note(fault)
                await self._reset(send)
                return
            if fault and fault != "drop":
                self.faults.note(fault)
                await send_error(send, as_error(fault), request_id, [(b"retry-after", b"1")] if fault == "429" else [])
                return
            raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
            try:
                auth.refuse_repeated_headers(scope["headers"])  # `headers` above keeps one value per name
                query = auth.parse_query(scope["query_string"].decode("latin-1"))
                # The handlers read exactly what was signed: the parsed, non-blank parameters, re-encoded.
                canonical = urlencode([(k, v) for k, v in query.items() if v], quote_via=quote)
                scope["query_string"] = canonical.encode("latin-1")
                scope["state"]["api_version"] = versions.check(canonical)
                auth.verify_request(scope["method"], raw_path, query, headers, self.account, self._key, self.tokens,
                                    self.job_tokens, self.identities)
            except BatchError as err:
                await send_error(send, err, request_id)
                return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"request-id", request_id.encode())]
                if "client-request-id" in headers:
                    message["headers"].append((b"client-request-id", headers["client-request-id"].encode()))
            await send(message)

        if fault == "drop":
            await self._handle_then_drop(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send_with_id)
        except BatchError as err:
            await send_error(send, err, request_id)
        except Exception:
            log.exception("internal error on %s %s", scope["method"], scope["path"])
            await send_error(send, BatchError(500, "InternalError", "The server encountered an internal error."),
                             request_id)

    async def _handle_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def discard(message: Message) -> None:
            pass

        with contextlib.suppress(Exception):  # the response is lost either way
            await self.app(scope, receive, discard)
        self.faults.note("drop")
        await self._reset(send)

    @staticmethod
    async def _reset(send: Send) -> None:
        # Promise a body and close before sending it: the client sees the connection drop mid-response.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        raise ConnectionResetError("injected fault: connection reset")


def describe(scope: dict[str, Any]) -> str:
    return f"{scope.get('method')} {scope.get('path')}"
