"""The one error type of the emulator and the one place that turns it into Batch's error body (§A1)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

ERROR_CONTENT_TYPE = "application/json;odata=minimalmetadata"


class BatchError(Exception):
    """Raised by the state layer; `status` and `code` are exactly what Batch would send."""

    def __init__(self, status: int, code: str, message: str, values: dict[str, str] | None = None) -> None:
        super().__init__(f"({code}) {message}")
        self.status = status
        self.code = code
        self.message = message
        self.values = values or {}


def error_body(err: BatchError, request_id: str, base_url: str = "") -> bytes:
    # Batch's top-level shape: no "odata.error" wrapper, or the SDK cannot read `code` (and create_tasks
    # relies on `RequestBodyTooLarge` to split chunks).
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    body: dict[str, object] = {
        "odata.metadata": f"{base_url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
        "code": err.code,
        "message": {"lang": "en-US", "value": f"{err.message}\nRequestId:{request_id}\nTime:{stamp}"},
    }
    if err.values:
        body["values"] = [{"key": k, "value": v} for k, v in err.values.items()]
    return json.dumps(body).encode()


def new_request_id() -> str:
    return str(uuid.uuid4())


# Constructors for the errors raised from more than one place, so their wording stays identical.
def not_found(kind: str) -> BatchError:
    return BatchError(404, f"{kind}NotFound", f"The specified {kind.lower()} does not exist.")


def exists(kind: str) -> BatchError:
    return BatchError(409, f"{kind}Exists", f"The specified {kind.lower()} already exists.")


def invalid_property(name: str, message: str, value: object = None) -> BatchError:
    values = {"PropertyName": name}
    if value is not None:
        values["PropertyValue"] = str(value)
    return BatchError(400, "InvalidPropertyValue", message, values)


def missing_property(name: str) -> BatchError:
    return BatchError(
        400, "MissingRequiredProperty", f"A required property was not specified in the request body: {name}.",
        {"PropertyName": name},
    )


def unsupported_locally(name: str, why: str) -> BatchError:
    # Batch's own code for a property the service will not honour; the message says why it cannot run here.
    return BatchError(
        400, "UnsupportedProperty",
        f"The property {name} is not supported by the local target (the local Batch emulator): {why}",
        {"PropertyName": name},
    )


def invalid_query(name: str, value: str, why: str = "") -> BatchError:
    msg = f"The value provided for one of the query parameters in the request URI is invalid. {why}".strip()
    return BatchError(400, "InvalidQueryParameterValue", msg, {"QueryParameterName": name, "QueryParameterValue": value})
