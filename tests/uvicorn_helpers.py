"""What the fastws.uvicorn tests share: a Starlette and a FastAPI app with the same
WebSocket endpoints, and a uvicorn server on loopback in this process.

uvicorn, Starlette and FastAPI come with the ``uvicorn`` extra. Without them these
tests skip, saying so, unless FASTWS_REQUIRE_UVICORN=1 (CI sets it where it installs
the extra), where they fail.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' parameter
# types at run time, and WebSocket is imported inside make_app.
import asyncio
import contextlib
import importlib.util
import os
import socket
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import pytest

REQUIRED = os.environ.get("FASTWS_REQUIRE_UVICORN", "") not in ("", "0")
MISSING = [name for name in ("uvicorn", "starlette", "fastapi") if importlib.util.find_spec(name) is None]


def require_uvicorn() -> None:
    """Skips the calling test module when the extra is missing, unless required."""
    if MISSING and not REQUIRED:
        pytest.skip(f"{', '.join(MISSING)} not installed (pip install '.[uvicorn]'); CI requires them", allow_module_level=True)


APPS = ["starlette", "fastapi"]


class Record:
    """What the endpoints saw, for the tests to check."""

    def __init__(self) -> None:
        self.disconnects: List[Tuple[Optional[int], Optional[str]]] = []
        self.scopes: List[Dict[str, Any]] = []
        self.sent = 0
        self.release = asyncio.Event()
        self.errors: List[BaseException] = []


def make_app(kind: str, record: Record) -> Any:
    """The endpoints, as a Starlette or a FastAPI app.

    /echo echoes text and bytes; /proto accepts the last subprotocol offered;
    /deny refuses with a 401 denial response; /close closes with 4001 after the
    first message; /idle waits for the disconnect; /flood sends ``?n=`` messages of
    ``?size=`` bytes once the test releases it; /hold reads nothing until released,
    then counts what arrived.
    """
    from starlette.responses import PlainTextResponse
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(websocket: WebSocket) -> None:
        record.scopes.append(dict(websocket.scope))
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                record.disconnects.append((message.get("code"), message.get("reason")))
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    async def proto(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol=websocket.scope["subprotocols"][-1])
        await websocket.send_text(websocket.scope["subprotocols"][-1])
        await websocket.close()

    async def deny(websocket: WebSocket) -> None:
        await websocket.send_denial_response(PlainTextResponse("no entry", status_code=401, headers={"x-why": "token"}))

    async def close(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        await websocket.close(4001, "bye")

    async def idle(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as disconnect:
            record.disconnects.append((disconnect.code, disconnect.reason))

    async def flood(websocket: WebSocket) -> None:
        count, size = int(websocket.query_params["n"]), int(websocket.query_params["size"])
        await websocket.accept()
        await record.release.wait()
        payload = b"x" * size
        try:
            for _ in range(count):
                await websocket.send_bytes(payload)
                record.sent += 1
            await websocket.close()
        except Exception as error:  # noqa: BLE001 (the test reads it)
            record.errors.append(error)

    async def hold(websocket: WebSocket) -> None:
        await websocket.accept()
        await record.release.wait()
        count = 0
        try:
            while True:
                await websocket.receive_bytes()
                count += 1
        except WebSocketDisconnect:
            record.sent = count

    endpoints = {"/echo": echo, "/proto": proto, "/deny": deny, "/close": close, "/idle": idle, "/flood": flood, "/hold": hold}
    if kind == "starlette":
        from starlette.applications import Starlette
        from starlette.routing import WebSocketRoute

        return Starlette(routes=[WebSocketRoute(path, endpoint) for path, endpoint in endpoints.items()])
    from fastapi import FastAPI

    app = FastAPI()
    for path, endpoint in endpoints.items():
        app.add_api_websocket_route(path, endpoint)
    return app


def protocol_class(impl: Any) -> Any:
    """fastws.uvicorn's protocol on the framing core ``impl``."""
    from fastws.uvicorn import WebSocketProtocol

    return type(f"WebSocketProtocol_{impl.__name__.rsplit('.', 1)[-1]}", (WebSocketProtocol,), {"implementation": impl})


@contextlib.asynccontextmanager
async def serve(app: Any, ws: Any, **options: Any) -> AsyncIterator[Tuple[Any, int]]:
    """A uvicorn server for ``app`` on a free loopback port: ``(server, port)``."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    options.setdefault("lifespan", "off")
    options.setdefault("log_level", "warning")
    config = uvicorn.Config(app, ws=ws, http="httptools", **options)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield server, sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


def connection_of(server: Any) -> Any:
    """The one WebSocket connection the server holds."""
    (protocol,) = [connection for connection in server.server_state.connections if hasattr(connection, "conn")]
    return protocol
