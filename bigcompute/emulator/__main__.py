"""`python -m bigcompute.emulator --data-dir D --port N`: the service process started by `bigcompute local up`.

The account key comes from --key-file (0600) or the environment variable BIGCOMPUTE_EMULATOR_KEY (never argv,
which any user can read in `ps`); it is removed from this process's environment before any task can start.
--task-user decides who non-elevated tasks run as (see isolation.py); emulator.json records it for `local up`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from bigcompute.emulator.compute import node_python
from bigcompute.emulator.compute.executor import InstantExecutor, SubprocessExecutor
from bigcompute.emulator.compute.isolation import resolve
from bigcompute.emulator.compute.node_python import DEFAULT_PACKAGES, NodePython
from bigcompute.emulator.compute.nodes import task_path
from bigcompute.emulator.compute.transitions import Durations
from bigcompute.emulator.service import BatchState
from bigcompute.emulator.wire.faults import FaultPlan
from bigcompute.emulator.wire.server import EmulatorServer

KEY_ENV = "BIGCOMPUTE_EMULATOR_KEY"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bigcompute.emulator")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--account", default="localbatch")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="emulated seconds per real second: divides autoscale intervals and transition durations")
    p.add_argument("--transitions", default="azure", metavar="PROFILE[,NAME=SECONDS...]",
                   help="how long pools, nodes and jobs stay resizing, creating, starting, deleting...: 'azure' "
                        "(typical Azure times), 'instant', and/or overrides such as job-deleting=5 (see "
                        "compute/transitions.py)")
    p.add_argument("--faults", default="")
    p.add_argument("--fault-seed", type=int, default=None)
    p.add_argument("--blob-endpoint", default=None, help="Azurite blob endpoint for auto-storage containers")
    p.add_argument("--executor", choices=("subprocess", "instant"), default="subprocess")
    p.add_argument("--key-file", type=Path, help="0600 JSON file with batchAccountKey (kept out of /proc/*/environ)")
    p.add_argument("--node-packages", default=",".join(DEFAULT_PACKAGES), metavar="DIST,DIST",
                   help="Python distributions tasks may import, as the pool's start task would install them "
                        "(linked from this environment; nothing else of it is importable from a task)")
    p.add_argument("--task-user", default="auto", metavar="USER|none|auto",
                   help="who non-elevated tasks run as when the emulator runs as root (auto: nobody, when it can "
                        "run sh and python3 from the task PATH)")
    p.add_argument("--role-assignment", action="append", default=[], metavar="IDENTITY_RESOURCE_ID=ROLE_ID",
                   help="grant a built-in Batch role (its definition id) on the account to a pool identity, whose "
                        "tokens from a node's IMDS then carry that role's rights (repeatable)")
    args = p.parse_args(argv)
    key = _key_from_file(args.key_file) if args.key_file else os.environ.pop(KEY_ENV, None)
    if not key:
        print(f"error: pass --key-file or set {KEY_ENV} to the account key (base64)", file=sys.stderr)
        return 2
    try:
        transitions = Durations.parse(args.transitions)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    data_dir = args.data_dir.resolve()
    packages = [p.strip() for p in args.node_packages.split(",") if p.strip()]
    path = NodePython(node_python.root(data_dir), packages).ensure().path() if args.executor == "subprocess" \
        else task_path()
    try:
        isolation = resolve(args.task_user if args.executor == "subprocess" else "none", data_dir, path)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if isolation.warning:
        logging.getLogger("bigcompute.emulator").warning("task user: %s", isolation.warning)
    executor = SubprocessExecutor(args.blob_endpoint, isolation.user, packages) if args.executor == "subprocess" \
        else InstantExecutor()
    state = BatchState(account=args.account, data_dir=data_dir, executor=executor, time_scale=args.time_scale,
                       transitions=transitions)
    try:
        for grant in args.role_assignment:
            identity, _, role = grant.rpartition("=")
            state.identities.assign(identity, role)
    except ValueError as e:
        print(f"error: --role-assignment: {e}", file=sys.stderr)
        return 2
    server = EmulatorServer(state, key, args.port, FaultPlan(args.faults, args.fault_seed))
    # The port file tells `local up` (and tests) where the service listens when --port 0 was asked, and
    # whom tasks run as (`local up` and `local status` repeat the warning when they are not isolated).
    info = data_dir / "emulator.json.tmp"
    info.write_text(json.dumps({"url": server.url, "pid": os.getpid(), "taskUserWarning": isolation.warning,
                                "taskUser": isolation.user.name if isolation.user else None}))
    info.replace(data_dir / "emulator.json")  # whole or absent for whoever polls it
    server.run_forever()
    return 0


def _key_from_file(path: Path) -> str | None:
    # A file readable only by its owner: unlike an environment variable, it does not stay readable in
    # /proc/<pid>/environ for the life of the service.
    return json.loads(path.read_text()).get("batchAccountKey")


if __name__ == "__main__":
    sys.exit(main())
