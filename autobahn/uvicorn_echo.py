"""The echo endpoint Autobahn tests fastws.uvicorn through: a plain ASGI app on
uvicorn with ``--ws fastws.uvicorn:WebSocketProtocol`` (autobahn/run.sh -r uvicorn)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict

Message = Dict[str, Any]


async def app(scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        await send({"type": "websocket.send", "bytes": message.get("bytes"), "text": message.get("text")})
