"""Task authentication tokens (`authenticationTokenSettings: {access: ["job"]}`): what a task finds in
AZ_BATCH_AUTHENTICATION_TOKEN and sends back as `Authorization: Bearer <token>`. "Currently the only supported
value for the access property is 'job', which grants access to all operations related to the Job which contains
the Task" (AuthenticationTokenSettings, Batch REST API 2024-07-01.20.0).

A token names the account and the job and is signed with a key that lives only in the emulator's memory, so no
task can make one for another job, and a restarted emulator (whose requeued tasks get new ones) forgets the old.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

JOB_SCOPE = "job"
_SEPARATOR = "~"  # not in base64url, and unlike "." never taken for a JWT's


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JobTokens:
    def __init__(self, account: str, secret: bytes | None = None) -> None:
        self.account = account
        self._secret = secret or os.urandom(32)

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, job_id: str) -> str:
        payload = _b64(json.dumps({"account": self.account, "job": job_id}, separators=(",", ":")).encode())
        return f"{payload}{_SEPARATOR}{self._mac(payload)}"

    @staticmethod
    def looks_like(token: str) -> bool:
        return token.count(_SEPARATOR) == 1

    def job_of(self, token: str) -> str | None:
        """The job a valid token grants access to; None for anything this emulator did not sign."""
        payload, _, mac = token.partition(_SEPARATOR)
        if not hmac.compare_digest(self._mac(payload), mac):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        return claims.get("job") if claims.get("account") == self.account else None
