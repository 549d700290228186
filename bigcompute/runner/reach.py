"""Whether the target's services answer, and one sentence when they do not: a stopped Azurite or emulator,
or an Azure account the network cannot reach, is the user's to fix, not a traceback."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def listening(url: str, timeout: float = 1.0) -> bool:
    """Whether something accepts connections at the URL's host and port."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((parts.hostname or "127.0.0.1", port)) == 0


def not_reachable(service: str, url: str) -> str:
    parts = urlparse(url)
    where = f"{parts.scheme}://{parts.netloc}" if parts.netloc else url
    if (parts.hostname or "") in LOCAL_HOSTS:
        return f"{service} at {where} is not reachable: run `bigcompute local up`"
    return (f"{service} at {where} is not reachable: check the network (DNS, firewall, the account's "
            "network rules) and that the stack is deployed")


def connection_failure(error: BaseException, endpoints: dict[str, str] | None = None) -> str:
    """The sentence for an SDK's connection error (azure-core ServiceRequestError): which service, where."""
    conn = getattr(getattr(error, "inner_exception", None), "conn", None)  # urllib3's NewConnectionError
    if conn is None or not getattr(conn, "host", None):
        return f"a service of the target is not reachable ({error}); on the local target run `bigcompute local up`"
    scheme = "https" if type(conn).__name__.startswith("HTTPS") else "http"
    netloc = f"{conn.host}:{conn.port}" if conn.port else conn.host
    return not_reachable(_service(netloc, endpoints or {}), f"{scheme}://{netloc}")


def _service(netloc: str, endpoints: dict[str, str]) -> str:
    for name, url in endpoints.items():
        if urlparse(url).netloc == netloc:
            return name
    host = netloc.split(":")[0]
    if ".blob." in host:
        return "storage"
    return "Batch" if ".batch." in host else "the service"
