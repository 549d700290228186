"""One apply per workload at a time: a blob lease in the inputs container, renewed while the apply runs.

Works the same on Azure and Azurite. The lock blob's metadata names the holder; a lease whose holder
was a process on this machine that no longer exists (a killed apply) is broken and taken over.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
from contextlib import contextmanager, suppress

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobClient, BlobLeaseClient, ContainerClient

from bigcompute.runner.errors import LeaseHeld

LEASE_SECONDS = 60
RENEW_EVERY = 20


def holder() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"


@contextmanager
def workload_lease(container: ContainerClient, workload: str):
    blob = container.get_blob_client(f".locks/{workload}")
    with suppress(ResourceExistsError):
        blob.upload_blob(b"", overwrite=False)
    lease = _acquire(blob, workload)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lease, stop), daemon=True)
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join(timeout=5)
        with suppress(HttpResponseError):  # expired or broken meanwhile: nothing to give back
            lease.release()


def _acquire(blob: BlobClient, workload: str) -> BlobLeaseClient:
    lease = BlobLeaseClient(blob)
    try:
        lease.acquire(lease_duration=LEASE_SECONDS)
    except ResourceExistsError:
        props = blob.get_blob_properties()
        who = props.metadata.get("holder", "another apply")
        if not _dead_local_holder(who):
            since = props.metadata.get("since", "")
            raise LeaseHeld(f"workload {workload} is being applied by {who}{' since ' + since if since else ''}; "
                            "wait for it to finish (the lease lapses 60 s after its holder stops)") from None
        lease.break_lease(lease_break_period=0)
        lease.acquire(lease_duration=LEASE_SECONDS)
    blob.set_blob_metadata({"holder": holder(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                           lease=lease)
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


def _renew(lease: BlobLeaseClient, stop: threading.Event) -> None:
    while not stop.wait(RENEW_EVERY):
        try:
            lease.renew()
        except HttpResponseError:
            return
