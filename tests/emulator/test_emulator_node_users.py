"""Node user accounts through the real BatchClient (Nodes - Add/Replace/Delete User): the account kept on the
node, never its password; Batch's errors for a name added twice, an unknown user or node, a missing name, and
a node that is not idle or running."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchNodeDeallocateOptions
from azure.core.exceptions import HttpResponseError

from bigcompute.emulator.core.formats import parse_iso
from bigcompute.local.testing import make_pool, signed, wait_for

SECRET = "n0t-Echoed-Anywhere!"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host"


def _node(batch, pool_id: str) -> str:
    return wait_for(lambda: next((n.id for n in batch.list_nodes(pool_id) if n.state == "idle"), None))


def _error(call) -> tuple[int, str]:
    with pytest.raises(HttpResponseError) as info:
        call()
    return info.value.status_code, info.value.error.code


def test_add_replace_delete_keep_the_account_but_never_its_password(emulator, batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    node_id = _node(batch, pool_id)
    expiry = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
    batch.create_node_user(pool_id, node_id, m.BatchNodeUserCreateOptions(
        name="alice", is_admin=True, expiry_time=expiry, password=SECRET, ssh_public_key=KEY))
    users = emulator.state.stores.users
    assert users.accounts(pool_id, node_id) == {"alice": {"name": "alice", "isAdmin": True, "sshPublicKey": KEY,
                                                          "expiryTime": "2031-05-04T03:02:01.000000Z"}}
    # Replace resets what it leaves out: no SSH key, an expiry a day from now; isAdmin stays as added.
    batch.replace_node_user(pool_id, node_id, "alice", m.BatchNodeUserReplaceOptions(password=SECRET + "2"))
    account = users.accounts(pool_id, node_id)["alice"]
    assert "sshPublicKey" not in account and account["isAdmin"] is True
    in_a_day = parse_iso(account["expiryTime"]) - emulator.state.ctx.clock()
    assert 24 * 3600 - 60 < in_a_day <= 24 * 3600
    # Nowhere: not in what the node shows, not in the emulator's database (WAL included).
    node = signed(emulator, "GET", f"/pools/{pool_id}/nodes/{node_id}", "api-version=2025-06-01")
    assert node.status_code == 200 and SECRET not in node.text and "alice" not in node.text
    stored = b"".join(p.read_bytes() for p in emulator.state.data_dir.glob("state.db*"))
    assert b"alice" in stored and SECRET.encode() not in stored
    batch.delete_node_user(pool_id, node_id, "alice")
    assert users.accounts(pool_id, node_id) == {}


def test_batchs_errors_for_names_users_and_nodes(emulator, batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    node_id = _node(batch, pool_id)
    batch.create_node_user(pool_id, node_id, m.BatchNodeUserCreateOptions(name="bob", password=SECRET))
    again = m.BatchNodeUserCreateOptions(name="bob", ssh_public_key=KEY)
    assert _error(lambda: batch.create_node_user(pool_id, node_id, again)) == (409, "NodeUserExists")
    assert _error(lambda: batch.replace_node_user(pool_id, node_id, "carol", m.BatchNodeUserReplaceOptions(
        password=SECRET))) == (404, "NodeUserNotFound")
    assert _error(lambda: batch.delete_node_user(pool_id, node_id, "carol")) == (404, "NodeUserNotFound")
    assert _error(lambda: batch.delete_node_user(pool_id, "tvm-nope", "bob")) == (404, "NodeNotFound")
    assert _error(lambda: batch.delete_node_user("no-such-pool", node_id, "bob")) == (404, "PoolNotFound")
    path = f"/pools/{pool_id}/nodes/{node_id}/users"
    for body, code in (({"isAdmin": True}, "MissingRequiredProperty"),
                       ({"name": "dan", "expiryTime": "next week"}, "InvalidPropertyValue")):
        resp = signed(emulator, "POST", path, "api-version=2025-06-01", json.dumps(body).encode())
        assert (resp.status_code, resp.json()["code"]) == (400, code)
    assert set(emulator.state.stores.users.accounts(pool_id, node_id)) == {"bob"}  # nothing half-added


def test_only_an_idle_or_running_node_takes_account_changes(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    node_id = _node(batch, pool_id)
    batch.create_node_user(pool_id, node_id, m.BatchNodeUserCreateOptions(name="erin", password=SECRET))
    batch.begin_deallocate_node(pool_id, node_id, BatchNodeDeallocateOptions(node_deallocate_option="requeue"),
                                polling_interval=0).result()
    wait_for(lambda: batch.get_node(pool_id, node_id).state == "deallocated")
    later = datetime.now(UTC) + timedelta(days=3)
    for call in (lambda: batch.create_node_user(pool_id, node_id, m.BatchNodeUserCreateOptions(name="frank")),
                 lambda: batch.replace_node_user(pool_id, node_id, "erin",
                                                 m.BatchNodeUserReplaceOptions(expiry_time=later)),
                 lambda: batch.delete_node_user(pool_id, node_id, "erin")):
        assert _error(call) == (409, "OperationNotValidOnNode")


def test_a_windows_node_needs_a_password_and_takes_no_ssh_key(batch) -> None:
    windows = m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="microsoftwindowsserver", offer="windowsserver",
                                                sku="2022-datacenter"), node_agent_sku_id="batch.node.windows amd64")
    pool_id = make_pool(batch, nodes=1, virtual_machine_configuration=windows)
    node_id = _node(batch, pool_id)
    no_password = m.BatchNodeUserCreateOptions(name="gina")
    assert _error(lambda: batch.create_node_user(pool_id, node_id, no_password)) == (400, "MissingRequiredProperty")
    with_key = m.BatchNodeUserCreateOptions(name="gina", password=SECRET, ssh_public_key=KEY)
    assert _error(lambda: batch.create_node_user(pool_id, node_id, with_key)) == (400, "InvalidPropertyValue")
    batch.create_node_user(pool_id, node_id, m.BatchNodeUserCreateOptions(name="gina", password=SECRET))
    assert _error(lambda: batch.replace_node_user(pool_id, node_id, "gina", m.BatchNodeUserReplaceOptions(
        expiry_time=datetime.now(UTC) + timedelta(days=2)))) == (400, "MissingRequiredProperty")
