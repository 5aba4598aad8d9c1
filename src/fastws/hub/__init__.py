"""fastws.hub: named topics over ``fastws.aio`` connections, and backends that carry
a ``publish`` to every instance (process or host) that has subscribers.

    hub = Hub(RedisBackend("redis://127.0.0.1:6379/0"))   # or Hub() for one process
    async with hub:
        async def handler(ws):
            await hub.subscribe(ws, "news")
            try:
                async for message in ws:
                    hub.publish("news", message)
            finally:
                await hub.unsubscribe_all(ws)

Inside an instance a message is framed once and the same bytes go to every
subscriber (``fastws.aio.broadcast``); a subscriber with more than ``max_buffer``
unsent bytes is skipped, and counted. Delivery is at most once.
"""

from typing import TYPE_CHECKING

from ._hub import Backend, Hub, HubStats, MemoryBackend, MemoryBroker

if TYPE_CHECKING:
    from ._redis import RedisBackend, RedisClusterBackend

__all__ = ["Backend", "Hub", "HubStats", "MemoryBackend", "MemoryBroker", "RedisBackend", "RedisClusterBackend"]


def __getattr__(name: str) -> object:
    # The Redis backends need redis-py (the ``redis`` extra): imported on first use.
    if name in ("RedisBackend", "RedisClusterBackend"):
        from . import _redis

        return getattr(_redis, name)
    raise AttributeError(f"module 'fastws.hub' has no attribute {name!r}")
