"""`python -m bigcompute.emulator --data-dir D --port N`: the service process started by `bigcompute local up`.

The account key comes from the environment variable BIGCOMPUTE_EMULATOR_KEY (never argv, which any user
can read in `ps`); it is removed from this process's environment before any task can start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from bigcompute.emulator.executor import InstantExecutor, SubprocessExecutor
from bigcompute.emulator.faults import FaultPlan
from bigcompute.emulator.server import EmulatorServer
from bigcompute.emulator.state import BatchState

KEY_ENV = "BIGCOMPUTE_EMULATOR_KEY"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bigcompute.emulator")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--account", default="localbatch")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--faults", default="")
    p.add_argument("--fault-seed", type=int, default=None)
    p.add_argument("--blob-endpoint", default=None, help="Azurite blob endpoint for auto-storage containers")
    p.add_argument("--executor", choices=("subprocess", "instant"), default="subprocess")
    p.add_argument("--key-file", type=Path, help="0600 JSON file with batchAccountKey (kept out of /proc/*/environ)")
    args = p.parse_args(argv)
    key = _key_from_file(args.key_file) if args.key_file else os.environ.pop(KEY_ENV, None)
    if not key:
        print(f"error: pass --key-file or set {KEY_ENV} to the account key (base64)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    executor = SubprocessExecutor(args.blob_endpoint) if args.executor == "subprocess" else InstantExecutor()
    state = BatchState(account=args.account, data_dir=args.data_dir, executor=executor, time_scale=args.time_scale)
    server = EmulatorServer(state, key, args.port, FaultPlan(args.faults, args.fault_seed))
    # The port file tells `local up` (and tests) where the service listens when --port 0 was asked.
    (args.data_dir / "emulator.json").write_text(json.dumps({"url": server.url, "pid": os.getpid()}))
    server.run_forever()
    return 0


def _key_from_file(path: Path) -> str | None:
    # A file readable only by its owner: unlike an environment variable, it does not stay readable in
    # /proc/<pid>/environ for the life of the service.
    return json.loads(path.read_text()).get("batchAccountKey")


if __name__ == "__main__":
    sys.exit(main())
