"""Redis backends for the hub, over redis-py's asyncio client (the ``redis`` extra).

Theory of operation
-------------------
``RedisBackend`` uses plain Pub/Sub on one Redis: channel ``prefix + topic``,
``PUBLISH`` to send, one ``SUBSCRIBE`` per topic per instance. ``RedisClusterBackend``
uses sharded Pub/Sub (Redis 7, ``SPUBLISH``/``SSUBSCRIBE``) on a Redis Cluster: a
channel lives on the node that owns its hash slot, so a message crosses one shard,
not the whole cluster bus.

A ``_Link`` is one subscribing connection to one node: it owns a redis-py
``PubSub`` and a task that reads it. When the connection fails the task logs it,
waits (exponential backoff from ``backoff[0]`` to ``backoff[1]`` seconds), connects
again, subscribes again to every topic it holds and logs that too; meanwhile the
hub keeps serving its local subscribers. A subscription that fails (a shard still
joining its cluster) counts as a failure, so the backoff keeps growing until the
link has stayed up for a few seconds. Publishing goes through a bounded queue
drained by one task per node into pipelines (one round trip for a burst, and the
order of ``publish`` calls kept); while the node is unreachable ``publish`` refuses
at once (the hub counts it in ``stats.unpublished``).

Delivery is at most once: what is published while an instance's link is down does
not reach that instance, and nothing is replayed after a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Set, Tuple

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from ._hub import Deliver

__all__ = ["RedisBackend", "RedisClusterBackend"]

logger = logging.getLogger("fastws.hub")

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
_DATA = ("message", "smessage")
_STABLE = 5.0  # seconds up after which a failure restarts the backoff from its first delay


class _Link:
    """One node: a subscribing connection, a publishing queue, and their tasks."""

    def __init__(
        self, client: Any, name: str, sharded: bool, deliver: Deliver, prefix: str, backoff: Tuple[float, float], max_queue: int
    ) -> None:
        self.client, self.name, self.sharded = client, name, sharded
        self.deliver, self.prefix, self.backoff, self.max_queue = deliver, prefix, backoff, max_queue
        self.channels: Set[str] = set()
        self.connected = False
        self.reconnects = 0
        self._pubsub: Any = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._queue: Deque[Tuple[str, bytes]] = deque()
        self._queued = asyncio.Event()
        #: Set after the first attempt to connect, successful or not.
        self.ready = asyncio.Event()
        self._tasks = [asyncio.get_running_loop().create_task(self._read()), asyncio.get_running_loop().create_task(self._write())]

    async def _command(self, pubsub: Any, verb: str, channels: List[str]) -> None:
        if not self.sharded:
            await getattr(pubsub, verb)(*channels)
            return
        # SSUBSCRIBE takes channels of one hash slot only: one command per channel.
        for channel in channels:
            await getattr(pubsub, "s" + verb)(channel)

    async def subscribe(self, channel: str) -> None:
        async with self._lock:
            self.channels.add(channel)
            await self._send("subscribe", channel)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self.channels.discard(channel)
            await self._send("unsubscribe", channel)

    async def _send(self, verb: str, channel: str) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return  # the reading task subscribes to every channel when it connects
        try:
            await self._command(pubsub, verb, [channel])
        except _FAILURES as error:
            self._broken(error)
        self._wake.set()

    def _broken(self, error: BaseException) -> None:
        if self._pubsub is not None:
            logger.debug("Redis %s: %r", self.name, error)
        self._pubsub = None
        self.connected = False
        self._wake.set()

    async def _read(self) -> None:
        delay = self.backoff[0]
        failures = 0
        loop = asyncio.get_running_loop()
        up_since = loop.time()
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await self.client.ping()
                async with self._lock:
                    if self.channels:
                        await self._command(pubsub, "subscribe", sorted(self.channels))
                    self._pubsub = pubsub
                    self.connected = True
                self.ready.set()
                if failures:
                    self.reconnects += 1
                    logger.warning("Redis %s: reconnected, subscribed again to %d channels", self.name, len(self.channels))
                up_since = loop.time()
                await self._listen(pubsub)
            except asyncio.CancelledError:
                await _quietly(pubsub.aclose())
                raise
            except Exception as error:  # the reading task must outlive any failure
                if not isinstance(error, _FAILURES):
                    logger.error("Redis %s: unexpected %r; reconnecting", self.name, error)
                lost = self.connected or failures == 0  # a new outage, not another failed attempt
                self.connected = False
                self._pubsub = None
                self.ready.set()
                if loop.time() - up_since > _STABLE:
                    failures, delay = 0, self.backoff[0]  # it had worked for a while: start over
                failures += 1
                level = logging.WARNING if lost or failures % 20 == 0 else logging.DEBUG
                logger.log(
                    level,
                    "Redis %s: unreachable (%s); local delivery goes on; retrying in %.1f s (attempt %d)",
                    self.name,
                    error or type(error).__name__,
                    delay,
                    failures,
                )
                await _quietly(pubsub.aclose())
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _listen(self, pubsub: Any) -> None:
        deliver, prefix = self.deliver, len(self.prefix.encode())
        while True:
            if self._pubsub is not pubsub:
                raise ConnectionError("the connection failed")
            if not pubsub.subscribed:
                # Nothing to read until a subscription: wait for one (or a failure
                # seen by the publishing task), checking the node now and then.
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), 5.0)
                except asyncio.TimeoutError:
                    await self.client.ping()
                continue
            message = await pubsub.get_message(timeout=None)
            if message is not None and message["type"] in _DATA:
                deliver(message["channel"][prefix:].decode(), message["data"])

    # -- publishing -----------------------------------------------------------------

    def publish(self, channel: str, envelope: bytes) -> bool:
        if not self.connected or len(self._queue) >= self.max_queue:
            return False
        self._queue.append((channel, envelope))
        self._queued.set()
        return True

    async def _write(self) -> None:
        queue, verb = self._queue, "spublish" if self.sharded else "publish"
        while True:
            await self._queued.wait()
            self._queued.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), 1000))]
                pipe = self.client.pipeline(transaction=False)
                for channel, envelope in batch:
                    getattr(pipe, verb)(channel, envelope)
                try:
                    await pipe.execute()
                except _FAILURES as error:
                    logger.warning(
                        "Redis %s: %d messages not published (%s)", self.name, len(batch) + len(queue), error or type(error).__name__
                    )
                    queue.clear()
                    self._broken(error)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await _quietly(self.client.aclose())


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        pass


class _Backend:
    def __init__(self, url: str, *, prefix: str, backoff: Tuple[float, float], max_queue: int, **options: Any) -> None:
        self.url, self.prefix, self.backoff, self.max_queue, self.options = url, prefix, backoff, max_queue, options
        self._deliver: Optional[Deliver] = None

    def _link(self, client: Any, name: str, sharded: bool) -> _Link:
        assert self._deliver is not None, "start the backend first"
        return _Link(client, name, sharded, self._deliver, self.prefix, self.backoff, self.max_queue)


class RedisBackend(_Backend):
    """Plain Pub/Sub on one Redis (``PUBLISH``/``SUBSCRIBE``). ``url`` as redis-py
    takes it (``redis://host:port/db``); channels are ``prefix + topic``.
    ``backoff``: the first and the longest wait between reconnection attempts, in
    seconds; ``max_queue``: messages waiting to be published, past which ``publish``
    refuses. Other options go to ``redis.asyncio.Redis.from_url``."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "fastws:",
        backoff: Tuple[float, float] = (0.1, 5.0),
        max_queue: int = 10000,
        **options: Any,
    ) -> None:
        super().__init__(url, prefix=prefix, backoff=backoff, max_queue=max_queue, **options)
        self.link: Optional[_Link] = None

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.connected

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.link = self._link(aioredis.Redis.from_url(self.url, **self.options), self.url, sharded=False)
        await self.link.ready.wait()

    async def subscribe(self, topic: str) -> None:
        assert self.link is not None, "start the backend first"
        await self.link.subscribe(self.prefix + topic)

    async def unsubscribe(self, topic: str) -> None:
        if self.link is not None:
            await self.link.unsubscribe(self.prefix + topic)

    def publish(self, topic: str, envelope: bytes) -> bool:
        return self.link is not None and self.link.publish(self.prefix + topic, envelope)

    async def aclose(self) -> None:
        if self.link is not None:
            await self.link.aclose()
            self.link = None


class RedisClusterBackend(_Backend):
    """Sharded Pub/Sub on a Redis Cluster (Redis 7+: ``SPUBLISH``/``SSUBSCRIBE``):
    each topic is published to and subscribed on the primary that owns its hash
    slot, one connection per primary that this instance needs. ``url`` names any
    node of the cluster; the options are ``RedisBackend``'s."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:7000/0",
        *,
        prefix: str = "fastws:",
        backoff: Tuple[float, float] = (0.1, 5.0),
        max_queue: int = 10000,
        **options: Any,
    ) -> None:
        super().__init__(url, prefix=prefix, backoff=backoff, max_queue=max_queue, **options)
        self.cluster: Optional[RedisCluster] = None
        self.links: Dict[str, _Link] = {}

    @property
    def connected(self) -> bool:
        return bool(self.links) and all(link.connected for link in self.links.values())

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.cluster = RedisCluster.from_url(self.url, **self.options)
        await self.cluster.initialize()
        links = [self._node_link(node) for node in self.cluster.get_primaries()]
        await asyncio.gather(*(link.ready.wait() for link in links))

    def _channel_link(self, channel: str) -> _Link:
        assert self.cluster is not None, "start the backend first"
        return self._node_link(self.cluster.get_node_from_key(channel))

    def _node_link(self, node: Any) -> _Link:
        link = self.links.get(node.name)
        if link is None:
            client = aioredis.Redis(host=node.host, port=node.port, **self.options)
            link = self.links[node.name] = self._link(client, node.name, sharded=True)
        return link

    async def subscribe(self, topic: str) -> None:
        channel = self.prefix + topic
        await self._channel_link(channel).subscribe(channel)

    async def unsubscribe(self, topic: str) -> None:
        channel = self.prefix + topic
        await self._channel_link(channel).unsubscribe(channel)

    def publish(self, topic: str, envelope: bytes) -> bool:
        channel = self.prefix + topic
        return self._channel_link(channel).publish(channel, envelope)

    async def aclose(self) -> None:
        for link in self.links.values():
            await link.aclose()
        self.links.clear()
        if self.cluster is not None:
            await self.cluster.aclose()
            self.cluster = None
