"""Services the benchmarks run against, each in its own process so its RSS and CPU are its own."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ACCOUNT = "benchacct"
REPO = Path(__file__).resolve().parents[1]


class Service:
    """The emulator as `local up` runs it: its own process, so its RSS and CPU are its own."""

    def __init__(self, executor: str, faults: str = "") -> None:
        from bigcompute.local import azurite as az

        self.tmp = tempfile.TemporaryDirectory(prefix="bench-emu-")
        self.key = base64.b64encode(os.urandom(32)).decode()
        self.port = az.free_port()
        env = {**os.environ, "BIGCOMPUTE_EMULATOR_KEY": self.key}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bigcompute.emulator", "--data-dir", self.tmp.name, "--port", str(self.port),
             "--account", ACCOUNT, "--executor", executor, "--transitions", "instant",  # throughput, not waits
             *(["--faults", faults, "--fault-seed", "7"] if faults else [])],
            env=env, start_new_session=True)
        az.wait_port(self.port, proc=self.proc)

    def client(self):  # noqa: ANN201
        from azure.batch import BatchClient
        from azure.core.credentials import AzureNamedKeyCredential

        return BatchClient(f"http://127.0.0.1:{self.port}", AzureNamedKeyCredential(ACCOUNT, self.key))

    def faults_served(self) -> dict[str, int]:
        """The faults the service injected so far, by kind (its signed `GET /_emulator/faults`)."""
        from azure.core.rest import HttpRequest

        response = self.client().send_request(HttpRequest("GET", f"http://127.0.0.1:{self.port}/_emulator/faults?api-version=2025-06-01"))
        response.raise_for_status()
        return response.json()

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def rss(self) -> int:
        """The service's resident memory now (VmRSS), where `peak_rss` is its high-water mark."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the service has used so far, from /proc/PID/stat."""
        return process_cpu_seconds(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.tmp.cleanup()


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


class Azurite:
    def __init__(self) -> None:
        from bigcompute.local import azurite as az

        self.tmp = tempfile.TemporaryDirectory(prefix="bench-azurite-")
        self.port = az.free_port()
        self.proc = subprocess.Popen(az.command(Path(self.tmp.name), self.port, REPO / az.AZURITE_BIN),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        az.wait_port(self.port, proc=self.proc)
        self.blob_endpoint = az.blob_endpoint(self.port)

    def service(self):  # noqa: ANN201
        from azure.storage.blob import BlobServiceClient

        from bigcompute.local import azurite as az

        return BlobServiceClient.from_connection_string(az.connection_string(self.port))

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.tmp.cleanup()
