"""A node's VM extensions (`/pools/{pool}/nodes/{node}/extensions...`): each extension its pool declares, shown
not provisioned because a local node is no VM (compute/node_setup.extension_views)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.compute import node_setup
from bigcompute.emulator.service import BatchState
from bigcompute.emulator.state.common import find_node
from bigcompute.emulator.state.models import NodeDoc, PoolDoc
from bigcompute.emulator.wire.httpio import ListQuery, json_response
from bigcompute.emulator.wire.odata import parse_select, project


def _pool_node(req: Request) -> tuple[PoolDoc, NodeDoc]:
    state: BatchState = req.app.state.batch
    pool = state.pools.get(req.path_params["pool_id"])
    return pool, find_node(pool["_nodes"], req.path_params["node_id"])


async def list_node_extensions(req: Request) -> Response:
    return ListQuery(req, "extensions").page_of(node_setup.extension_views(*_pool_node(req)))


async def get_node_extension(req: Request) -> Response:
    view = node_setup.extension_view(*_pool_node(req), req.path_params["extension"])
    return json_response(project(view, parse_select(req.query_params.get("$select"))))
