"""fastws.aio: a WebSocket server and client for asyncio, over ``fastws.protocol``.

import fastws.aio

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async with fastws.aio.serve(echo, "127.0.0.1", 8765) as server:
    async with fastws.aio.connect("ws://127.0.0.1:8765") as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
"""

from ._client import connect
from ._connection import DEFAULT_MAX_QUEUE_BYTES, ConnectionClosed, InvalidHandshake, Listener, WebSocket, broadcast
from ._server import HttpResponse, Server, serve, serve_callbacks
from ._workers import run_workers

__all__ = [
    "DEFAULT_MAX_QUEUE_BYTES",
    "ConnectionClosed",
    "HttpResponse",
    "InvalidHandshake",
    "Listener",
    "Server",
    "WebSocket",
    "broadcast",
    "connect",
    "run_workers",
    "serve",
    "serve_callbacks",
]
