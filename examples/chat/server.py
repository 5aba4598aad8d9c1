"""The chat example: one HTML page at / and a WebSocket endpoint at /ws; every
message a client sends goes to every connected client.

    python examples/chat/server.py --port 8000      (or: python -m fastws chat --port 8000)

then open http://127.0.0.1:8000/ in two tabs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any, Tuple

from fastws.aio import Server, WebSocket, serve

PAGE = (Path(__file__).parent / "index.html").read_bytes()
MAX_MESSAGE = 4096


def http_handler(method: str, target: str, headers: Tuple[Tuple[str, str], ...]) -> Tuple[int, Tuple[Tuple[str, str], ...], bytes]:
    if target.split("?")[0] in ("/", "/index.html"):
        return 200, (("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")), PAGE
    return 404, (("Content-Type", "text/plain"),), b"not found\n"


def make_server(host: str = "127.0.0.1", port: int = 8000, **options: Any) -> Server:
    """The chat server (not started: ``async with make_server(...) as server``)."""
    server: Server

    async def chat(ws: WebSocket) -> None:
        if ws.request is None or ws.request.target != "/ws":
            await ws.close(1008, "no such endpoint")
            return
        name = f"guest-{ws.remote_address[1]}"
        server.broadcast(json.dumps({"system": f"{name} joined", "clients": len(server.connections)}))
        async for message in ws:
            if isinstance(message, str) and len(message) <= MAX_MESSAGE:
                # Encoded once, the same bytes to every client; a slow one is skipped.
                server.broadcast(json.dumps({"from": name, "text": message}))
        server.broadcast(json.dumps({"system": f"{name} left", "clients": len(server.connections) - 1}))

    server = serve(chat, host, port, http_handler=http_handler, max_message_size=MAX_MESSAGE * 4, **options)
    return server


async def main() -> None:
    parser = argparse.ArgumentParser(description="fastws chat example")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args()
    async with make_server(arguments.host, arguments.port) as server:
        print(f"chat on http://{arguments.host}:{server.bound_port}/", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
