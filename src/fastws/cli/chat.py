"""``python -m fastws chat``: a chat room. One HTML page at / and a WebSocket
endpoint at /ws; every message a client sends goes to every client, through a
``fastws.hub`` topic: the clients of one process, or, with ``--redis URL``, of every
worker and every host sharing that Redis.

    python -m fastws chat --port 8000
    python -m fastws chat --port 8000 --workers 2 --redis redis://127.0.0.1:6379/0

then open http://127.0.0.1:8000/ in two tabs.
"""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Optional, Tuple

from ..aio import Server, WebSocket, serve
from ..hub import Hub

MAX_MESSAGE = 4096
TOPIC = "chat"


def page() -> bytes:
    """The chat page, installed with the package."""
    return Path(__file__).with_name("chat.html").read_bytes()


def http_handler(method: str, target: str, headers: Tuple[Tuple[str, str], ...]) -> Tuple[int, Tuple[Tuple[str, str], ...], bytes]:
    if target.split("?")[0] in ("/", "/index.html"):
        return 200, (("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")), page()
    return 404, (("Content-Type", "text/plain"),), b"not found\n"


def hub_backend(redis: Optional[str], cluster: bool = False) -> Any:
    """None (this process only), or a Redis (Cluster) backend for ``redis``, a URL."""
    if redis is None:
        return None
    from ..hub import RedisBackend, RedisClusterBackend

    return RedisClusterBackend(redis) if cluster else RedisBackend(redis)


@asynccontextmanager
async def chat_server(
    host: Optional[str] = "127.0.0.1", port: int = 8000, *, redis: Optional[str] = None, redis_cluster: bool = False, **options: Any
) -> AsyncIterator[Server]:
    """``async with chat_server(...) as server:`` the chat, running. ``redis``: a
    Redis URL shared by every process of the room; ``options`` go to ``serve``
    (``sock=`` for a worker's socket)."""
    async with Hub(hub_backend(redis, redis_cluster)) as hub:

        async def chat(ws: WebSocket) -> None:
            if ws.request is None or ws.request.target != "/ws":
                await ws.close(1008, "no such endpoint")
                return
            name = f"guest-{ws.remote_address[1]}"
            await ws.send(json.dumps({"system": f"you are {name}, on worker {os.getpid()}", "worker": os.getpid()}))
            await hub.subscribe(ws, TOPIC)
            try:
                hub.publish(TOPIC, json.dumps({"system": f"{name} joined"}))
                async for message in ws:
                    if isinstance(message, str) and len(message) <= MAX_MESSAGE:
                        # Framed once, the same bytes to every client; a slow one is skipped.
                        hub.publish(TOPIC, json.dumps({"from": name, "text": message}))
            finally:
                await hub.unsubscribe_all(ws)
                hub.publish(TOPIC, json.dumps({"system": f"{name} left"}))

        async with serve(chat, host, port, http_handler=http_handler, max_message_size=MAX_MESSAGE * 4, **options) as server:
            yield server
