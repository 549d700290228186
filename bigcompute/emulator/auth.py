"""Batch SharedKey verification, byte for byte the algorithm of `BatchSharedKeyAuthPolicy` (§A2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs

from bigcompute.emulator.errors import BatchError

_SIGNED = (
    "content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
    "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range",
)


def string_to_sign(method: str, raw_path: str, query: str, headers: Mapping[str, str], account: str) -> str:
    h = {k.lower(): v for k, v in headers.items() if v}
    if method not in ("GET", "HEAD") and "content-length" not in h:
        h["content-length"] = "0"
    out = method + "\n" + "\n".join(h.get(x, "") for x in _SIGNED) + "\n"
    ocp = sorted((k, v) for k, v in h.items() if "ocp-" in k)
    out += "".join(f"{k}:{v}\n" for k, v in ocp)
    out += f"/{account}{raw_path}"
    parsed = parse_qs(query)
    for name in sorted(parsed):
        value = parsed[name][0]
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


def verify(method: str, raw_path: str, query: str, headers: Mapping[str, str], account: str, key_b64: str) -> None:
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


def verify_request(method: str, raw_path: str, query: str, headers: Mapping[str, str], account: str,
                   key_b64: str, tokens: TokenVerifier | None) -> None:
    """SharedKey always; a bearer token only where the emulator trusts a token-signing key."""
    if headers.get("authorization", "").startswith("Bearer "):
        if tokens is None:
            raise _failed("Bearer tokens are not accepted here: this emulator trusts no token-signing key.")
        tokens.verify(headers["authorization"][len("Bearer "):])
        return
    verify(method, raw_path, query, headers, account, key_b64)
