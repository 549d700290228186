"""One apply per workload at a time: a blob lease in the inputs container, renewed while the apply runs.

Works the same on Azure and Azurite. The lock blob's metadata names the holder; a lease whose holder
was a process on this machine that no longer exists (a killed apply) is broken and taken over.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobClient, BlobLeaseClient, ContainerClient

from bigcompute.runner.errors import LeaseHeld, LeaseLost

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
RENEW_EVERY = 20


def holder() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"


@dataclass
class HeldLease:
    """The lease an apply holds; `check` before each side effect stops the apply once renewal failed."""

    workload: str
    client: BlobLeaseClient
    lost: str | None = None  # why renewal failed, set by the renewer thread

    def check(self, before: str) -> None:
        if self.lost:
            raise LeaseLost(f"the lease on workload {self.workload} was lost ({self.lost}), so another apply may "
                            f"hold it now; stopped before {before}. Apply again once no other apply runs")


@contextmanager
def workload_lease(container: ContainerClient, workload: str) -> Iterator[HeldLease]:
    blob = container.get_blob_client(f".locks/{workload}")
    with suppress(ResourceExistsError):
        blob.upload_blob(b"", overwrite=False)
    held = HeldLease(workload, _acquire(blob, workload))
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(held, stop), daemon=True)
    renewer.start()
    try:
        yield held
    finally:
        stop.set()
        renewer.join(timeout=5)
        with suppress(HttpResponseError):  # expired or broken meanwhile: nothing to give back
            held.client.release()


def _acquire(blob: BlobClient, workload: str) -> BlobLeaseClient:
    me = {"holder": holder(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "claim": uuid.uuid4().hex}
    # Named before the lease is taken, so an apply killed between taking it and naming itself is still known
    # (and found dead). A leased blob refuses this write (412 LeaseIdMissing): its holder's name stays.
    with suppress(HttpResponseError):
        blob.set_blob_metadata(me)
    lease = BlobLeaseClient(blob)
    try:
        lease.acquire(lease_duration=LEASE_SECONDS)
    except ResourceExistsError:
        props = blob.get_blob_properties()
        who = props.metadata.get("holder", "another apply")
        if props.metadata.get("claim") == me["claim"]:  # lost a race after naming ourselves: the winner is unnamed
            who = "another apply"
        if not _dead_local_holder(who):
            since = props.metadata.get("since", "")
            raise LeaseHeld(f"workload {workload} is being applied by {who}{' since ' + since if since else ''}; "
                            "wait for it to finish (the lease lapses 60 s after its holder stops)") from None
        lease.break_lease(lease_break_period=0)
        lease.acquire(lease_duration=LEASE_SECONDS)
    blob.set_blob_metadata(me, lease=lease)
    return lease


def _dead_local_holder(who: str) -> bool:
    host_pid = who.rsplit("@", 1)[-1]
    host, _, pid = host_pid.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _renew(held: HeldLease, stop: threading.Event) -> None:
    """Renew until stopped. A refused renewal (the lease was broken or taken over) is lost at once; a
    failing connection only once the lease may have lapsed. Either way the apply learns it through
    `held.lost` instead of the thread ending silently."""
    renewed = time.monotonic()
    while not stop.wait(RENEW_EVERY):
        try:
            held.client.renew()
            renewed = time.monotonic()
        except AzureError as e:
            refused = isinstance(e, HttpResponseError) and e.status_code in (409, 412)
            if refused or time.monotonic() - renewed + RENEW_EVERY >= LEASE_SECONDS:
                held.lost = _why(e)
                log.warning("workload %s: %s", held.workload, held.lost)
                return


def _why(error: AzureError) -> str:
    if isinstance(error, HttpResponseError):
        code = getattr(error.error_code, "value", error.error_code) or error.reason
        return f"renewal refused: HTTP {error.status_code} {code}"
    return f"renewal failed: {type(error).__name__}"
