"""Node user accounts (Nodes - Add/Replace/Delete User): the accounts Batch creates on a compute node for
remote login, kept on the node's document (`_users`, by name).

Batch has no operation that reads an account back, so what a caller sees are the rules: the node must be idle
or running, a name is added once (409 `NodeUserExists`), an unknown one is 404 `NodeUserNotFound`, a replace
resets what it leaves out. No account is created on this machine, nobody can log in with one (a local node has
no SSH server: docs/emulator.md), and the password is never kept: Batch never returns it either.
"""

from __future__ import annotations

from typing import Any

from bigcompute.emulator.core.errors import BatchError, invalid_property, missing_property
from bigcompute.emulator.core.formats import iso, parse_iso
from bigcompute.emulator.state.common import Ctx, find_node
from bigcompute.emulator.state.models import NodeDoc, NodeState, PoolDoc, PoolState
from bigcompute.emulator.state.pools import PoolStore

# BatchNodeUserCreateOptions.expiryTime: "If omitted, the default is 1 day from the current time."
DEFAULT_EXPIRY = 24 * 3600.0
# "You can add a user Account to a Compute Node only when it is in the idle or running state" (Nodes - Add
# User; the same for Replace and Delete). `running` is an idle node with tasks on it (service.nodes_view).
_READY = frozenset({NodeState.IDLE, NodeState.RUNNING})
# Batch's published 409 for a node in the middle of something; any other state gets OperationNotValidOnNode.
_NOT_READY_CODES: dict[str, str] = {NodeState.CREATING: "NodeBeingCreated", NodeState.STARTING: "NodeBeingStarted",
                    NodeState.REBOOTING: "NodeBeingRebooted", NodeState.REIMAGING: "NodeBeingReimaged",
                    NodeState.UNUSABLE: "NodeStateUnusable"}


class NodeUserStore:
    def __init__(self, ctx: Ctx, pools: PoolStore) -> None:
        self.ctx = ctx
        self.pools = pools

    def add(self, pool_id: str, node_id: str, spec: dict[str, Any]) -> None:
        name = spec.get("name")
        if not name:
            raise missing_property("name")
        if not isinstance(name, str):
            raise invalid_property("name", "name must be a string.", name)
        with self.ctx.db.tx():
            pool, node = self._ready_node(pool_id, node_id)
            account = self._account(name, spec, _windows(pool))
            users = node.setdefault("_users", {})
            if name in users:
                raise BatchError(409, "NodeUserExists", "The specified node user already exists.")
            users[name] = account
            self.pools.save(pool, touched=False)

    def replace(self, pool_id: str, node_id: str, name: str, spec: dict[str, Any]) -> None:
        """Every updatable property is replaced: one left out goes back to its default (expiry in a day, no
        SSH key), as Nodes - Replace User says; name and isAdmin stay as they were added."""
        with self.ctx.db.tx():
            pool, node = self._ready_node(pool_id, node_id)
            users = node.get("_users") or {}
            if name not in users:
                raise _no_such_user()
            users[name] = self._account(name, {**spec, "isAdmin": users[name]["isAdmin"]}, _windows(pool))
            self.pools.save(pool, touched=False)

    def delete(self, pool_id: str, node_id: str, name: str) -> None:
        with self.ctx.db.tx():
            pool, node = self._ready_node(pool_id, node_id)
            if name not in (node.get("_users") or {}):
                raise _no_such_user()
            del node["_users"][name]
            self.pools.save(pool, touched=False)

    def accounts(self, pool_id: str, node_id: str) -> dict[str, dict[str, Any]]:
        """The node's accounts by name, as kept (Batch has no operation that reads them: for tests)."""
        with self.ctx.db.lock:
            node = find_node(self.pools.load(pool_id)["_nodes"], node_id)
            return dict(node.get("_users") or {})

    def _account(self, name: str, spec: dict[str, Any], windows: bool) -> dict[str, Any]:
        """What the node keeps of an account: never its password (Batch returns it from no operation)."""
        # BatchNodeUserCreateOptions / ...UpdateOptions: "The password is required for Windows Compute Nodes";
        # sshPublicKey "can be specified only for Linux Compute Nodes ... 400 (Bad Request)" on Windows.
        if windows and not spec.get("password"):
            raise missing_property("password")
        if windows and spec.get("sshPublicKey"):
            raise invalid_property("sshPublicKey", "sshPublicKey can be specified only for Linux compute nodes.")
        expiry = spec.get("expiryTime")
        if expiry is None:
            at = self.ctx.clock() + DEFAULT_EXPIRY
        else:
            try:
                at = parse_iso(str(expiry))
            except ValueError as exc:
                raise invalid_property("expiryTime", "The value for expiryTime is not a valid date-time.",
                                       expiry) from exc
        is_admin = spec.get("isAdmin", False)
        if not isinstance(is_admin, bool):
            raise invalid_property("isAdmin", "isAdmin must be true or false.", is_admin)
        account: dict[str, Any] = {"name": name, "isAdmin": is_admin, "expiryTime": iso(at)}
        if spec.get("sshPublicKey"):
            account["sshPublicKey"] = spec["sshPublicKey"]
        return account

    def _ready_node(self, pool_id: str, node_id: str) -> tuple[PoolDoc, NodeDoc]:
        pool = self.pools.load(pool_id)
        if pool["state"] == PoolState.DELETING:
            raise BatchError(409, "PoolBeingDeleted", "The specified pool has been marked for deletion.")
        node = find_node(pool["_nodes"], node_id)
        state = node["state"]
        if state not in _READY:
            raise BatchError(409, _NOT_READY_CODES.get(state, "OperationNotValidOnNode"),
                             f"The node is {state}: user accounts can be changed only on an idle or running node.")
        return pool, node


def _windows(pool: PoolDoc) -> bool:
    """A pool of Windows nodes, by its node agent (batch.node.windows amd64)."""
    vm = pool.get("virtualMachineConfiguration") or {}
    return str(vm.get("nodeAgentSKUId", "")).lower().startswith("batch.node.windows")


def _no_such_user() -> BatchError:
    return BatchError(404, "NodeUserNotFound", "The specified node user does not exist.")
