"""One WebSocket connection over asyncio: the transport's protocol and the
application's handle in one object.

Theory of operation
-------------------
Receiving: the object is an ``asyncio.BufferedProtocol``. The event loop reads
straight into one preallocated 1 MiB buffer (``get_buffer``), shared by every
connection of the thread; ``buffer_updated`` hands the
new bytes to the sans-IO connection (``fastws.protocol``), turns its events into
queued messages, pong results and closing state, and writes what the connection
queued (pongs, the echo of a close frame). No copy and no task switch between the
socket and the parser. The queue of received messages is bounded: past
``max_queue`` messages reading pauses, and resumes once the application has taken
them down to a quarter of it, so a slow reader makes the peer wait, not our memory
grow.

Sending: ``send`` encodes the frame at once. The first write of a turn of the
loop goes out at once when no received message waits to be answered (a round trip
waits for nothing); the others are appended to a list of pending writes, flushed in
one ``transport.write`` at the end of the turn (or at once past 64 KiB): a handler
that answers a burst of messages costs one system call, not one per message. When the transport's buffer passes its high-water mark, the loop
calls ``pause_writing`` and every ``send`` waits until ``resume_writing``.

Closing: a close frame sent starts a timer (``close_timeout``) after which the
transport is aborted. A protocol failure (RFC 6455 §7.1.7) that follows messages
the application has not read yet waits, bounded by the same timer, until the
application has read them: it may still answer them (an echo server echoes every
message that came before the bad frame), and only then does the failing close frame
go out. Those late answers are sent uncompressed (RFC 7692 allows it) since the
protocol layer has dropped its state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import time
from collections import deque
from types import ModuleType
from typing import Any, Awaitable, Callable, Deque, Dict, Iterable, List, Optional, Tuple, Union

from .. import _impl
from ..codes import CloseCode, Opcode
from ..protocol import (
    AcceptConnection,
    BinaryMessage,
    CloseConnection,
    ConnectionFailed,
    ConnectionState,
    HandshakeFailed,
    InvalidState,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)

__all__ = ["ConnectionClosed", "InvalidHandshake", "WebSocket", "broadcast"]

logger = logging.getLogger("fastws.aio")

_OPEN = ConnectionState.OPEN
_CLOSED = ConnectionState.CLOSED
_READ_SIZE = 1 << 20  # the receive buffer: one per thread, shared by its connections
_local = threading.local()
_SHORT, _LONG = struct.Struct("!BBH"), struct.Struct("!BBQ")


def _read_buffer() -> memoryview:
    """This thread's receive buffer. Every connection of an event loop can share
    it: the loop calls ``get_buffer``, reads, and calls ``buffer_updated`` with no
    other connection's turn in between, and the parser copies what it keeps."""
    view: Optional[memoryview] = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(_READ_SIZE))
    return view
_FLUSH_AT = 64 * 1024  # pending writes past this size go out at once
_SPLIT_AT = 256 * 1024  # payloads from this size are written behind their header, not copied
_TEXT_TYPE, _BINARY_TYPE = TextMessage, BinaryMessage
_TEXT_OPCODE, _BINARY_OPCODE = Opcode.TEXT, Opcode.BINARY

Message = Union[str, bytes]


class ConnectionClosed(Exception):
    """The connection is closed: ``code`` and ``reason`` are the peer's close frame
    (1006 when the connection ended without one)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class InvalidHandshake(Exception):
    """The opening handshake failed: the server refused it (``status_code``,
    ``headers``, ``body``) or broke RFC 6455 (``status_code`` None)."""

    def __init__(self, message: str, status_code: Optional[int] = None, headers: Tuple[Tuple[str, str], ...] = (), body: bytes = b"") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers
        self.body = body


class WebSocket(asyncio.BufferedProtocol):
    """An open WebSocket connection (server or client side).

    ``await send(message)``, ``await recv()``, ``async for message in ws``,
    ``await ping()``, ``await close(code, reason)``; ``subprotocol``, ``request``
    (the opening handshake's ``Request``: ``target``, ``headers``),
    ``remote_address``, ``close_code``/``close_reason`` once closed.
    """

    def __init__(
        self,
        connection: Any,
        *,
        max_queue: int = 16,
        ping_interval: Optional[float] = 20.0,
        ping_timeout: Optional[float] = 20.0,
        close_timeout: float = 10.0,
    ) -> None:
        self._proto = connection
        self._core: Any = connection._core if getattr(connection, "_core", None) is not None else _impl
        self._client = bool(getattr(connection, "_client", False))
        self._encode = self._core.encode_frame
        self._plain = False  # a server without compression: send() encodes frames itself
        self.max_queue = max(1, max_queue)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self._loop = asyncio.get_running_loop()
        self._view = _read_buffer()
        self.transport: Any = None
        self.remote_address: Any = None
        #: The opening handshake: the client's ``Request`` (on a server, with every
        #: header field in ``request.headers``) and, on a client, the server's answer.
        self.request: Optional[Request] = None
        self.response: Optional[AcceptConnection] = None
        self._queue: Deque[Message] = deque()
        self._recv_waiter: Optional[asyncio.Future[None]] = None
        self._reading_paused = False
        self._pending: List[bytes] = []
        self._pending_size = 0
        self._flush_scheduled = False
        self._write_paused = False
        self._drain_waiters: List[asyncio.Future[None]] = []
        self._pings: Dict[bytes, Tuple[asyncio.Future[float], float]] = {}
        self._keepalive: Optional[asyncio.Task[None]] = None
        self._close_timer: Optional[asyncio.TimerHandle] = None
        self._deferred: Optional[bytes] = None  # a failure's close frame, held back (see above)
        self._failed: Optional[Tuple[int, str]] = None
        self._close_sent = False  # this side started the closing handshake
        self._opened: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._lost = False
        #: Called once with this connection when the handshake succeeded (the server's hook).
        self._on_open: Optional[Callable[[WebSocket], None]] = None
        self._on_request: Optional[Callable[[WebSocket, Request], None]] = None

    # -- public API -----------------------------------------------------------------

    @property
    def subprotocol(self) -> Optional[str]:
        """The subprotocol the handshake agreed on, or None."""
        return self._proto.subprotocol  # type: ignore[no-any-return]

    @property
    def extensions(self) -> Tuple[Any, ...]:
        return self._proto.extensions  # type: ignore[no-any-return]

    @property
    def state(self) -> ConnectionState:
        """CONNECTING, OPEN, CLOSING or CLOSED (RFC 6455)."""
        return self._proto.state  # type: ignore[no-any-return]

    @property
    def open(self) -> bool:
        return self._proto.state is _OPEN and self._failed is None and not self._lost

    @property
    def closed(self) -> bool:
        return self._closed.done()

    @property
    def close_code(self) -> Optional[int]:
        """The code of the peer's close frame, 1006 when the connection ended
        without one, None before either."""
        code = self._proto.close_code
        if code is None and self._closed.done():
            return CloseCode.ABNORMAL_CLOSURE
        return code  # type: ignore[no-any-return]

    @property
    def close_reason(self) -> Optional[str]:
        if self._proto.close_code is None and not self._closed.done():
            return None
        return self._proto.close_reason or ""

    @property
    def failure(self) -> Optional[Tuple[int, str]]:
        """``(code sent, why)`` when this side failed the connection, else None."""
        return self._failed

    async def recv(self) -> Message:
        """The next message: ``str`` for text, ``bytes`` for binary. Raises
        ``ConnectionClosed`` once the connection is closed and every message that
        arrived before has been read."""
        queue = self._queue
        while not queue:
            if self._deferred is not None:
                self._fail_now()
            if self._lost or self._proto.state is _CLOSED or self._failed is not None:
                raise self._closed_error()
            if self._recv_waiter is not None:
                raise RuntimeError("another task is already waiting in recv()")
            waiter = self._recv_waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._recv_waiter = None
        message = queue.popleft()
        if self._reading_paused and len(queue) <= self.max_queue >> 2:
            self._reading_paused = False
            if not self._lost:
                self.transport.resume_reading()
        return message

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def send(self, message: Union[Message, bytearray, memoryview]) -> None:
        """Sends a text (``str``) or binary (bytes-like) message; waits while the
        transport's buffer is over its high-water mark."""
        if self._write_paused:
            await self._drain()
        proto = self._proto
        if self._plain and proto.state is _OPEN and proto._sending is None:
            # The common case, a server without compression: the frame is the
            # payload behind a header (RFC 6455 §5.2), nothing for the protocol
            # layer to track. (Its send_* would do the same, with more calls.)
            payload: bytes
            if type(message) is str:
                opcode, payload = _TEXT_OPCODE, message.encode()
            else:
                opcode, payload = _BINARY_OPCODE, message if type(message) is bytes else bytes(message)  # type: ignore[arg-type]
            if len(payload) < _SPLIT_AT:
                self._write(self._encode(opcode, payload))
            else:
                # A large payload is written as it is, behind its header: copying
                # it into one frame costs more than a second system call.
                self._write_now(_header(opcode, len(payload)))
                if not self._lost:
                    self.transport.write(payload)
            return
        try:
            if type(message) is str:
                data = proto.send_text(message)
            else:
                data = proto.send_binary(message)
        except InvalidState:
            if self._deferred is not None and not self._lost:
                # Answering a message that came before a protocol failure: the
                # protocol layer is closed, so encode the frame here (uncompressed).
                opcode = Opcode.TEXT if type(message) is str else Opcode.BINARY
                payload = message.encode() if isinstance(message, str) else bytes(message)
                mask = os.urandom(4) if self._client else None
                self._write(self._core.encode_frame(opcode, payload, mask=mask))
                return
            raise self._closed_error() from None
        self._write(data)

    async def ping(self, data: Optional[bytes] = None) -> float:
        """Sends a ping and waits for its pong (RFC 6455 §5.5.2); returns the round
        trip in seconds. A pong also answers every earlier ping."""
        if data is None:
            data = os.urandom(4)
            while data in self._pings:
                data = os.urandom(4)
        elif data in self._pings:
            raise ValueError("a ping with this payload is already waiting")
        waiter = self._send_ping(bytes(data))
        return await waiter

    async def pong(self, data: bytes = b"") -> None:
        """An unsolicited pong: a heartbeat (RFC 6455 §5.5.3)."""
        try:
            self._write(self._proto.send_pong(data))
        except InvalidState:
            raise self._closed_error() from None

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Starts the closing handshake and waits until the connection is closed,
        at most ``close_timeout`` before dropping the transport."""
        self._start_close(code, reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Waits until the transport is closed."""
        await asyncio.shield(self._closed)

    # -- sending --------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if not self._flush_scheduled and not self._queue:
            # The first write of this turn of the loop, with no received message
            # left to answer: out at once (a round trip waits for nothing). Later
            # writes in the same turn gather, and go out together at its end.
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
            if not self._lost:
                self.transport.write(data)
            return
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _FLUSH_AT:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self._pending = []
        self._pending_size = 0
        if not self._lost:
            self.transport.write(data)

    def _write_now(self, data: bytes) -> None:
        """Writes ``data`` after whatever is pending, in this turn of the loop."""
        if data:
            self._pending.append(data)
            self._pending_size += len(data)
        self._flush()

    async def _drain(self) -> None:
        while self._write_paused:
            if self._lost:
                raise self._closed_error()
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drainers()

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _send_ping(self, data: bytes) -> asyncio.Future[float]:
        try:
            wire = self._proto.send_ping(data)
        except InvalidState:
            raise self._closed_error() from None
        waiter = self._loop.create_future()
        self._pings[data] = (waiter, time.monotonic())
        self._write(wire)
        return waiter

    def _start_close(self, code: int, reason: str) -> None:
        proto = self._proto
        if self._deferred is not None:
            self._fail_now()
        elif proto.state is _OPEN and not self._lost:
            self._write_now(proto.close(code, reason))
            self._close_sent = True
            self._arm_close_timer()
            if self._reading_paused:  # the peer's close frame must be read
                self._reading_paused = False
                self.transport.resume_reading()
        elif proto.state is ConnectionState.CONNECTING and not self._lost:
            self.transport.close()

    def _arm_close_timer(self) -> None:
        if self._close_timer is None and not self._lost:
            self._close_timer = self._loop.call_later(self.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._close_timer = None
        if self._deferred is not None:
            self._fail_now()
            self._close_timer = self._loop.call_later(self.close_timeout, self._close_timed_out)
        elif not self._lost:
            self.transport.abort()

    # -- receiving ------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.remote_address = transport.get_extra_info("peername")

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        self._proto.receive_data(self._view[:nbytes])
        self._after_input()

    def _after_input(self) -> None:
        """Acts on what the protocol made of the input: events, bytes to write."""
        proto = self._proto
        events = proto.events()
        if events:
            self._handle_events(events)
        out = proto.data_to_send()
        if out and self._deferred is None:
            self._write_now(out)
        if proto.should_close_transport and self._deferred is None:
            self._close_transport()

    def _handle_events(self, events: List[Any]) -> None:
        queue = self._queue
        for event in events:
            kind = type(event)
            if kind is _TEXT_TYPE or kind is _BINARY_TYPE:
                if len(queue) < self.max_queue or not self._close_sent:
                    queue.append(event.data)
                # else: closing, past max_queue: dropped, so that the close frame can be read
            elif kind is Pong:
                self._pong(event.payload)
            elif kind is CloseConnection:
                if self._proto.state is _CLOSED:
                    self._cancel_keepalive()
            elif kind is ConnectionFailed:
                self._failed = (event.code, event.reason)
                logger.debug("failing the connection: %s %s", event.code, event.reason)
                self._cancel_keepalive()
                if queue and not self._lost:
                    # Let the application read (and answer) what came before.
                    self._deferred = self._proto.data_to_send()
                    self._arm_close_timer()
            elif kind is Request:
                self.request = event
                if self._on_request is not None:
                    self._on_request(self, event)
            elif kind is AcceptConnection:
                self.response = event
                self._opened_now()
            elif kind is RejectConnection:
                self._fail_open(InvalidHandshake(f"the server refused the handshake: {event.status_code}", event.status_code, event.headers, event.body))
            elif kind is HandshakeFailed:
                self._fail_open(InvalidHandshake(event.reason, event.status_code))
        waiter = self._recv_waiter
        if waiter is not None and (queue or self._proto.state is _CLOSED) and not waiter.done():
            waiter.set_result(None)
        if len(queue) >= self.max_queue and not self._reading_paused and not self._lost and not self._close_sent:
            self._reading_paused = True
            self.transport.pause_reading()

    def _fail_now(self) -> None:
        """Sends the close frame of a failure that waited for the application."""
        data, self._deferred = self._deferred, None
        if not self._lost:
            self._write_now(data or b"")
            self._close_transport()

    def _close_transport(self) -> None:
        if not self._lost:
            self._flush()
            self.transport.close()
            self._arm_close_timer()  # a TLS shutdown that never ends

    def eof_received(self) -> Optional[bool]:
        proto = self._proto
        proto.receive_eof()
        events = proto.events()
        if events:
            self._handle_events(events)
        self._flush()
        return None  # let the transport close

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._lost = True
        proto = self._proto
        if proto.state is not _CLOSED:
            proto.receive_eof()
            proto.events()
        self._pending = []
        self._deferred = None
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._cancel_keepalive()
        error = self._closed_error()
        for waiter, _ in self._pings.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._pings.clear()
        self._wake_drainers()
        if self._recv_waiter is not None and not self._recv_waiter.done():
            self._recv_waiter.set_result(None)
        if not self._opened.done():
            self._opened.set_exception(InvalidHandshake(f"the connection ended during the opening handshake: {exc or 'EOF'}"))
            self._opened.exception()  # nobody may be waiting: no "never retrieved" warning
        if not self._closed.done():
            self._closed.set_result(None)

    def _closed_error(self) -> ConnectionClosed:
        code = self._proto.close_code
        if self._failed is not None and (code is None or code == CloseCode.ABNORMAL_CLOSURE):
            return ConnectionClosed(*self._failed)  # this side failed it: our code, our reason
        if code is None:
            return ConnectionClosed(CloseCode.ABNORMAL_CLOSURE)
        return ConnectionClosed(code, self._proto.close_reason or "")

    def _pong(self, payload: bytes) -> None:
        pings = self._pings
        if payload not in pings:
            return
        now = time.monotonic()
        # Pings are answered in order: this pong answers the earlier ones too.
        for key in list(pings):
            waiter, sent = pings.pop(key)
            if not waiter.done():
                waiter.set_result(now - sent)
            if key == payload:
                break

    # -- opening and keepalive --------------------------------------------------------

    def _opened_now(self) -> None:
        self._plain = not self._client and not self._proto.extensions
        if not self._opened.done():
            self._opened.set_result(None)
        if self.ping_interval:
            self._keepalive = self._loop.create_task(self._keep_alive())
        if self._on_open is not None:
            self._on_open(self)

    def _fail_open(self, error: Exception) -> None:
        if not self._opened.done():
            self._opened.set_exception(error)
            self._opened.exception()

    async def _keep_alive(self) -> None:
        interval, timeout = self.ping_interval, self.ping_timeout
        assert interval
        while True:
            await asyncio.sleep(interval)
            if not self.open:
                return
            waiter = self._send_ping(os.urandom(4))
            if not timeout:
                continue
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
            except asyncio.TimeoutError:
                self._keepalive = None
                self._ping_timed_out()
                return
            except ConnectionClosed:
                return

    def _ping_timed_out(self) -> None:
        """No pong within ``ping_timeout``: the peer or the path is dead. Tell it
        (1011) in case it can still read, and drop the transport: locally the
        connection ends without a close frame (1006)."""
        logger.debug("keepalive ping timeout")
        self._failed = (CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        if self._proto.state is _OPEN and not self._lost:
            self._write_now(self._proto.close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout"))
        if not self._lost:
            self.transport.abort() if self._write_paused else self.transport.close()
            self._arm_close_timer()

    def _cancel_keepalive(self) -> None:
        task = self._keepalive
        if task is not None:
            self._keepalive = None
            if task is not asyncio.current_task():
                task.cancel()


def _header(opcode: int, length: int) -> bytes:
    """The header of an unmasked, final frame (RFC 6455 §5.2)."""
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 65536:
        return _SHORT.pack(0x80 | opcode, 126, length)
    return _LONG.pack(0x80 | opcode, 127, length)


def broadcast(
    connections: Iterable[WebSocket], message: Union[Message, bytearray, memoryview], *, max_buffer: int = 256 * 1024, skipped: Optional[List[WebSocket]] = None
) -> int:
    """Sends one message to every open connection without waiting: the frame is
    encoded once and the same bytes are written to each. A connection whose
    transport is paused or holds more than ``max_buffer`` unsent bytes is skipped
    (a slow client must not hold the others back or grow our memory), and so is
    one in the middle of a fragmented message. Compressed connections get the
    message uncompressed (RFC 7692 §6). Client connections mask each frame.
    Returns how many connections it was written to; ``skipped``, a list, receives
    the open connections it was not written to."""
    opcode = Opcode.TEXT if type(message) is str else Opcode.BINARY
    payload = message.encode() if isinstance(message, str) else bytes(message)
    frames: Dict[int, bytes] = {}
    sent = 0
    for ws in connections:
        if not ws.open:
            continue
        if ws._write_paused or ws._proto._sending is not None or ws._pending_size + ws.transport.get_write_buffer_size() > max_buffer:
            if skipped is not None:
                skipped.append(ws)
            continue
        if ws._client:
            ws._write(ws._core.encode_frame(opcode, payload, mask=os.urandom(4)))
        else:
            key = id(ws._core)
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = ws._core.encode_frame(opcode, payload)
            ws._write(frame)
        sent += 1
    return sent


Handler = Callable[[WebSocket], Awaitable[Any]]
