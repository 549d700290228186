"""Node user accounts (`/pools/{pool}/nodes/{node}/users...`): parse, call the node user store, answer with
Batch's status codes: add 201, replace 200, delete 200 (Nodes - Add/Replace/Delete User)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.state.node_users import NodeUserStore
from bigcompute.emulator.wire.httpio import body, empty


def _users(req: Request) -> NodeUserStore:
    return req.app.state.batch.stores.users


def _node(req: Request) -> tuple[str, str]:
    return req.path_params["pool_id"], req.path_params["node_id"]


async def create_node_user(req: Request) -> Response:
    _users(req).add(*_node(req), await body(req))
    return empty(201)


async def replace_node_user(req: Request) -> Response:
    _users(req).replace(*_node(req), req.path_params["user"], await body(req))
    return empty(200)


async def delete_node_user(req: Request) -> Response:
    _users(req).delete(*_node(req), req.path_params["user"])
    return empty(200)
