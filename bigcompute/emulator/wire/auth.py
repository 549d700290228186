"""Batch SharedKey verification, byte for byte the algorithm of `BatchSharedKeyAuthPolicy` (§A2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import parse_qs, parse_qsl, unquote

from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.core.formats import parse_rfc1123
from bigcompute.emulator.core.identities import ManagedIdentities, action
from bigcompute.emulator.core.tokens import JobTokens

# "The Batch service must receive a request within 15 minutes of when it is created" (guards against replay):
# https://learn.microsoft.com/rest/api/batchservice/authenticate-requests-to-the-azure-batch-service
MAX_SKEW_SECONDS = 15 * 60
_SIGNED = (
    "content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
    "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range",
)


def parse_query(query: str) -> dict[str, str]:
    """The query as the handlers read it (Starlette's `parse_qsl(keep_blank_values=True)`). A repeated name is
    refused: the client signs only its first value (§A2) while a multidict hands the handler the last one."""
    out: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in out:
            raise BatchError(400, "InvalidQueryParameterValue",
                             "Value for one of the query parameters specified in the request URI is invalid.",
                             {"QueryParameterName": name, "Reason": "The query parameter is given more than once."})
        out[name] = value
    return out


def refuse_repeated_headers(raw: list[tuple[bytes, bytes]]) -> None:
    """A signed header sent twice would be signed with one value and read by the handler with another."""
    seen: set[bytes] = set()
    for name, _ in raw:
        name = name.lower()
        if name in seen and (name.decode("latin-1") in _SIGNED or b"ocp-" in name or name == b"authorization"):
            raise BatchError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct "
                             "format: the header is given more than once.", {"HeaderName": name.decode("latin-1")})
        seen.add(name)


def string_to_sign(method: str, raw_path: str, query: str | Mapping[str, str], headers: Mapping[str, str],
                   account: str) -> str:
    """`query` is what `parse_query` made of the request's query, or a raw query string signed as the SDK signs it
    (the first value of each name, `parse_qs`); blank values are not signed."""
    h = {k.lower(): v for k, v in headers.items() if v}
    if method not in ("GET", "HEAD") and "content-length" not in h:
        h["content-length"] = "0"
    out = method + "\n" + "\n".join(h.get(x, "") for x in _SIGNED) + "\n"
    ocp = sorted((k, v) for k, v in h.items() if "ocp-" in k)
    out += "".join(f"{k}:{v}\n" for k, v in ocp)
    out += f"/{account}{raw_path}"
    parsed = {k: v[0] for k, v in parse_qs(query).items()} if isinstance(query, str) else query
    for name in sorted(parsed):
        value = parsed[name]
        if value:
            out += f"\n{name}:{value}"
    return out


def sign(key_b64: str, text: str) -> str:
    digest = hmac.new(base64.b64decode(key_b64), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _failed(detail: str) -> BatchError:
    # Never echo the expected signature or the key: only what was wrong.
    return BatchError(
        403, "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
        "correctly including the signature.",
        {"AuthenticationErrorDetail": detail},
    )


def _check_date(headers: Mapping[str, str], now: float) -> None:
    # ocp-date wins over Date when both are sent (same page as MAX_SKEW_SECONDS).
    h = {k.lower(): v for k, v in headers.items() if v}
    text = h.get("ocp-date") or h.get("date")
    if not text:
        raise _failed("The request has neither an ocp-date nor a Date header.")
    sent = parse_rfc1123(text)
    if sent is None:
        raise _failed(f"The request date {text!r} is not an RFC 1123 date.")
    if abs(now - sent) > MAX_SKEW_SECONDS:
        raise _failed(f"The request date {text!r} is more than 15 minutes away from the server time.")


def verify(method: str, raw_path: str, query: str | Mapping[str, str], headers: Mapping[str, str], account: str,
           key_b64: str, now: float | None = None) -> None:
    auth = headers.get("authorization", "")
    if not auth:
        raise _failed("The Authorization header is missing.")
    scheme, _, rest = auth.partition(" ")
    name, _, sig = rest.partition(":")
    if scheme != "SharedKey" or not sig:
        raise _failed("The Authorization header is not a SharedKey signature.")
    if name != account:
        raise _failed(f"The account name {name!r} in the Authorization header is not this account.")
    expected = sign(key_b64, string_to_sign(method, raw_path, query, headers, account))
    if not hmac.compare_digest(expected, sig):
        raise _failed("The MAC signature found in the HTTP request is not the same as any computed signature.")
    _check_date(headers, time.time() if now is None else now)


class TokenVerifier:
    """Entra ID bearer tokens, for tests of the azure target's credential path: RS256 JWTs signed by a
    key the emulator was told to trust, for Batch's audience, not expired."""

    AUDIENCE = "https://batch.core.windows.net/"

    def __init__(self, public_key_pem: bytes) -> None:
        self.public_key = public_key_pem

    def verify(self, token: str) -> dict:
        import jwt

        try:
            return jwt.decode(token, self.public_key, algorithms=["RS256"], audience=self.AUDIENCE,
                              options={"require": ["exp", "aud", "iss"]})
        except jwt.PyJWTError as e:
            raise BatchError(401, "AuthenticationFailed", "Server failed to authenticate the request.",
                             {"AuthenticationErrorDetail": f"The bearer token was refused: {e}"}) from None


def verify_job_token(job_tokens: JobTokens, token: str, raw_path: str) -> None:
    """A task's job-scoped token: valid only for `/jobs/<its job>` and what lies under it."""
    job = job_tokens.job_of(token)
    if job is None:
        raise _failed("The task authentication token is not valid for this account.")
    parts = unquote(raw_path).split("/")
    if len(parts) < 3 or parts[1] != "jobs" or parts[2].lower() != job.lower():
        raise _failed(f"The task authentication token grants access to the operations of job {job} only.")


def verify_identity_token(identities: ManagedIdentities, token: str, method: str, raw_path: str) -> None:
    """A token a node's IMDS issued for one of its pool's identities: what that identity's roles allow."""
    identity = identities.identity_of(token)
    if identity is None:
        raise BatchError(401, "AuthenticationFailed", "Server failed to authenticate the request.",
                         {"AuthenticationErrorDetail": "The managed identity token is not valid for this account."})
    if not identities.allowed(identity, method, raw_path):
        # Batch's answer to a principal without the data action (Azure RBAC on the account)
        raise BatchError(403, "AuthorizationFailure", "This request is not authorized to perform this operation.",
                         {"AuthorizationFailureDetail": f"managed identity {identity.rsplit('/', 1)[-1]} has no role on this account "
                          f"that allows {action(method, raw_path) or method + ' ' + raw_path}"})


def verify_request(method: str, raw_path: str, query: str | Mapping[str, str], headers: Mapping[str, str], account: str,
                   key_b64: str, tokens: TokenVerifier | None, job_tokens: JobTokens | None = None,
                   identities: ManagedIdentities | None = None) -> None:
    """SharedKey always; a task's job-scoped token for its own job; a pool identity's token from a node's IMDS,
    with its roles' rights; an Entra ID bearer token only where the emulator trusts a token-signing key."""
    if headers.get("authorization", "").startswith("Bearer "):
        bearer = headers["authorization"][len("Bearer "):]
        if job_tokens is not None and JobTokens.looks_like(bearer):
            verify_job_token(job_tokens, bearer, raw_path)
            return
        if identities is not None and ManagedIdentities.is_ours(bearer):
            verify_identity_token(identities, bearer, method, raw_path)
            return
        if tokens is None:
            raise _failed("Bearer tokens are not accepted here: this emulator trusts no token-signing key.")
        tokens.verify(headers["authorization"][len("Bearer "):])
        return
    verify(method, raw_path, query, headers, account, key_b64)
