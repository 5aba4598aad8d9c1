"""The hub: which local connections subscribe to which topic, and delivery.

Theory of operation
-------------------
``publish(topic, message)`` delivers to this instance's subscribers at once, then
hands the message to the backend, which carries it to the other instances. On the
wire between instances a message is an envelope: one byte, the WebSocket opcode
(1 text, 2 binary: RFC 6455 §5.2), eight bytes naming the publishing hub, then the
payload. A hub ignores its own envelopes (it has delivered them already), so a
message reaches each subscriber once, and local subscribers still get messages
while the backend is away.

A topic costs the backend one subscription per instance, taken when its first
local subscriber arrives and dropped when its last one leaves, never one per
connection. Delivery is ``fastws.aio.broadcast``: the frame is built once and the
same bytes are written to every subscriber; one holding more than ``max_buffer``
unsent bytes is skipped and counted, both per connection (``dropped(ws)``) and in
``stats``. Nothing queues for a slow client, so its memory stays bounded and it
never holds the others back. Connections that have closed are forgotten the next
time their topic delivers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Union

from ..aio import WebSocket, broadcast
from ..codes import Opcode

__all__ = ["Backend", "Hub", "HubStats", "MemoryBackend", "MemoryBroker"]

logger = logging.getLogger("fastws.hub")

Message = Union[str, bytes]
#: ``deliver(topic, envelope)``: how a backend hands a message from another instance to its hub.
Deliver = Callable[[str, bytes], None]
_TEXT, _BINARY = bytes((Opcode.TEXT,)), bytes((Opcode.BINARY,))
_ORIGIN_END = 9  # opcode byte + 8 bytes of origin


class Backend(Protocol):
    """What a hub needs from a backend. ``publish`` must not wait: it queues the
    envelope, or returns False when it cannot (the message then stays local)."""

    async def start(self, deliver: Deliver) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    def publish(self, topic: str, envelope: bytes) -> bool: ...

    async def aclose(self) -> None: ...


@dataclass
class HubStats:
    """Counters since the hub was made."""

    published: int = 0  #: messages given to ``publish``
    received: int = 0  #: messages that came from other instances
    delivered: int = 0  #: frames written to connections
    dropped: int = 0  #: frames not written to a connection over its budget (or in the middle of its own fragmented message)
    unpublished: int = 0  #: messages the backend could not take (down, or its queue full): they reached this instance only
    malformed: int = 0  #: envelopes from the backend that were not ours (unknown opcode, text that is not UTF-8)


class Hub:
    """Topics for ``fastws.aio`` connections, shared across instances by ``backend``
    (None: this process only). ``async with Hub(backend) as hub:``."""

    def __init__(self, backend: Optional[Backend] = None, *, max_buffer: int = 256 * 1024) -> None:
        self.backend = backend
        self.max_buffer = max_buffer
        self.stats = HubStats()
        #: Eight random bytes that name this hub in its envelopes.
        self.origin = os.urandom(8)
        self._topics: Dict[str, Set[WebSocket]] = {}
        self._joined: Dict[WebSocket, Set[str]] = {}
        self._dropped: Dict[WebSocket, int] = {}
        self._tasks: Set[asyncio.Task[None]] = set()

    async def start(self) -> Hub:
        if self.backend is not None:
            await self.backend.start(self._receive)
        return self

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.backend is not None:
            await self.backend.aclose()

    async def __aenter__(self) -> Hub:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    # -- subscriptions ----------------------------------------------------------------

    async def subscribe(self, ws: WebSocket, topic: str) -> None:
        """Adds ``ws`` to ``topic``. The first local subscriber of a topic waits
        for the backend's subscription."""
        joined = self._joined.setdefault(ws, set())
        if topic in joined:
            return
        joined.add(topic)
        members = self._topics.get(topic)
        if members is not None:
            members.add(ws)
            return
        self._topics[topic] = {ws}
        if self.backend is not None:
            await self.backend.subscribe(topic)

    async def unsubscribe(self, ws: WebSocket, topic: str) -> None:
        joined = self._joined.get(ws)
        if joined is None or topic not in joined:
            return
        joined.discard(topic)
        if not joined:
            self._forget(ws)
        await self._leave(ws, topic)

    async def unsubscribe_all(self, ws: WebSocket) -> None:
        """Removes ``ws`` from every topic (call it when its handler ends)."""
        joined = self._forget(ws)
        for topic in joined:
            await self._leave(ws, topic)

    def topics(self, ws: Optional[WebSocket] = None) -> List[str]:
        """The topics with local subscribers, or those ``ws`` subscribes to."""
        return sorted(self._topics if ws is None else self._joined.get(ws, ()))

    def subscribers(self, topic: str) -> int:
        """How many local connections subscribe to ``topic``."""
        return len(self._topics.get(topic, ()))

    def dropped(self, ws: WebSocket) -> int:
        """How many messages ``ws`` missed for being over its budget of unsent bytes."""
        return self._dropped.get(ws, 0)

    def _forget(self, ws: WebSocket) -> Set[str]:
        self._dropped.pop(ws, None)
        return self._joined.pop(ws, set())

    async def _leave(self, ws: WebSocket, topic: str) -> None:
        if self._drop(ws, topic) and self.backend is not None:
            await self.backend.unsubscribe(topic)

    def _drop(self, ws: WebSocket, topic: str) -> bool:
        """Removes ``ws`` from ``topic``'s members; True when it was the last one."""
        members = self._topics.get(topic)
        if members is None:
            return False
        members.discard(ws)
        if members:
            return False
        del self._topics[topic]
        return True

    # -- messages -----------------------------------------------------------------------

    def publish(self, topic: str, message: Union[Message, bytearray, memoryview]) -> int:
        """Sends ``message`` (``str``: text, bytes-like: binary) to every subscriber
        of ``topic`` here and, through the backend, everywhere else. Does not wait;
        returns how many local connections it was written to."""
        self.stats.published += 1
        if type(message) is str:
            sent = self._deliver(topic, message)
            envelope_head, payload = _TEXT, message.encode()
        else:
            payload = message if type(message) is bytes else bytes(message)  # type: ignore[arg-type]
            sent = self._deliver(topic, payload)
            envelope_head = _BINARY
        if self.backend is not None and not self.backend.publish(topic, envelope_head + self.origin + payload):
            self.stats.unpublished += 1
        return sent

    def _receive(self, topic: str, envelope: bytes) -> None:
        if envelope[1:_ORIGIN_END] == self.origin:
            return
        kind = envelope[:1]
        message: Message
        try:
            if kind == _TEXT:
                message = envelope[_ORIGIN_END:].decode()
            elif kind == _BINARY:
                message = envelope[_ORIGIN_END:]
            else:
                raise ValueError(f"unknown opcode {kind!r}")
        except ValueError as error:
            self.stats.malformed += 1
            logger.warning("dropped a malformed message on topic %r: %s", topic, error)
            return
        self.stats.received += 1
        self._deliver(topic, message)

    def _deliver(self, topic: str, message: Message) -> int:
        members = self._topics.get(topic)
        if not members:
            return 0
        skipped: List[WebSocket] = []
        sent = broadcast(members, message, max_buffer=self.max_buffer, skipped=skipped)
        stats = self.stats
        stats.delivered += sent
        if skipped:
            stats.dropped += len(skipped)
            dropped = self._dropped
            for ws in skipped:
                dropped[ws] = dropped.get(ws, 0) + 1
        if sent + len(skipped) < len(members):
            self._sweep(members)
        return sent

    def _sweep(self, members: Set[WebSocket]) -> None:
        """Forgets the connections of ``members`` that are no longer open."""
        for ws in [ws for ws in members if not ws.open]:
            for topic in self._forget(ws):
                if self._drop(ws, topic) and self.backend is not None:
                    task = asyncio.get_running_loop().create_task(self.backend.unsubscribe(topic))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)


class MemoryBroker:
    """Connects the ``MemoryBackend`` hubs of one process (tests, or several
    servers in one event loop)."""

    def __init__(self) -> None:
        self.subscribers: Dict[str, Set[MemoryBackend]] = {}


class MemoryBackend:
    """A backend within one process: hubs sharing a ``MemoryBroker`` see each
    other's messages (on the next turn of the loop, as from a real broker)."""

    def __init__(self, broker: Optional[MemoryBroker] = None) -> None:
        self.broker = broker if broker is not None else MemoryBroker()
        self._deliver: Optional[Deliver] = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def subscribe(self, topic: str) -> None:
        self.broker.subscribers.setdefault(topic, set()).add(self)

    async def unsubscribe(self, topic: str) -> None:
        backends = self.broker.subscribers.get(topic)
        if backends is not None:
            backends.discard(self)
            if not backends:
                del self.broker.subscribers[topic]

    def publish(self, topic: str, envelope: bytes) -> bool:
        loop = asyncio.get_running_loop()
        for backend in self.broker.subscribers.get(topic, ()):
            if backend._deliver is not None:
                loop.call_soon(backend._deliver, topic, envelope)
        return True

    async def aclose(self) -> None:
        for topic in [topic for topic, backends in self.broker.subscribers.items() if self in backends]:
            await self.unsubscribe(topic)
        self._deliver = None
