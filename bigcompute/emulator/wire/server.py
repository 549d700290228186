"""The HTTP service: Starlette app + uvicorn, bound to 127.0.0.1 only; runs in a thread for tests."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.service import BatchState
from bigcompute.emulator.wire import imds
from bigcompute.emulator.wire.auth import TokenVerifier
from bigcompute.emulator.wire.faults import FaultPlan
from bigcompute.emulator.wire.middleware import BatchMiddleware
from bigcompute.emulator.wire.routes import starlette_routes

HOST = "127.0.0.1"


async def _health(req: Request) -> Response:
    return JSONResponse({"status": "ok", "account": req.app.state.batch.account})


async def _no_route(req: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status == 405:
        raise BatchError(400, "UnsupportedHttpVerb", f"The resource doesn't support the HTTP verb {req.method}.")
    raise BatchError(404, "ResourceNotFound", "The requested URI does not represent any resource on the server.")


async def _faults_served(req: Request) -> Response:
    """The faults injected so far, by kind: tests of a process emulator prove the faults they advertise."""
    return JSONResponse(req.app.state.faults.served())


def build_app(state: BatchState, key: str, faults: FaultPlan | None = None,
              tokens: TokenVerifier | None = None) -> Starlette:
    routes = [Route("/_emulator/health", _health, methods=["GET"]),
              Route("/_emulator/faults", _faults_served, methods=["GET"]), *imds.ROUTES, *starlette_routes()]
    faults = faults or FaultPlan()
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BatchMiddleware, account=state.account, key=key, faults=faults, tokens=tokens,
                               job_tokens=state.job_tokens, identities=state.identities)],
        exception_handlers={HTTPException: _no_route},
    )
    app.state.batch = state
    app.state.faults = faults
    return app


def bind(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    return sock


class EmulatorServer:
    """`with EmulatorServer(state, key) as emu: BatchClient(emu.url, ...)`; port 0 picks a free port."""

    def __init__(self, state: BatchState, key: str, port: int = 0, faults: FaultPlan | None = None,
                 tls: tuple[str, str] | None = None, tokens: TokenVerifier | None = None) -> None:
        """`tls` is (certfile, keyfile) to serve HTTPS, which bearer-token clients require."""
        self.state = state
        self.sock = bind(port)
        self.port = self.sock.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://{HOST}:{self.port}"
        state.set_base_url(self.url)
        config = uvicorn.Config(build_app(state, key, faults, tokens), log_level="warning", access_log=False,
                                lifespan="off", timeout_keep_alive=30, ssl_certfile=tls[0] if tls else None,
                                ssl_keyfile=tls[1] if tls else None)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        """Serve on the calling thread (the `python -m bigcompute.emulator` process)."""
        self.state.start()
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.state.stop()

    def start(self) -> EmulatorServer:
        self.state.start()
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name="emulator-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("emulator did not start within 10 s")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread:
            self._thread.join(timeout=10)
        self.state.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
