"""Servers whose connections subscribe to the topic named by their path and
publish every message they send to it, shared by the hub tests."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, List

from fastws import aio
from fastws.hub import Hub


def topic_handler(hub: Hub) -> Callable[[aio.WebSocket], Awaitable[None]]:
    async def handler(ws: aio.WebSocket) -> None:
        assert ws.request is not None
        topic = ws.request.target.lstrip("/")
        await hub.subscribe(ws, topic)
        try:
            async for message in ws:
                hub.publish(topic, message)
        finally:
            await hub.unsubscribe_all(ws)

    return handler


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "a condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def receive(ws: aio.WebSocket, count: int, timeout: float = 10.0) -> List[Any]:
    return [await asyncio.wait_for(ws.recv(), timeout) for _ in range(count)]


async def nothing_more(ws: aio.WebSocket, wait: float = 0.2) -> bool:
    """True when ``ws`` receives nothing within ``wait`` seconds."""
    try:
        await asyncio.wait_for(ws.recv(), wait)
    except asyncio.TimeoutError:
        return True
    return False
