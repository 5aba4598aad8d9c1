"""One WebSocket connection over asyncio: the transport's protocol and the
application's handle in one object.

Theory of operation
-------------------
Receiving: the object is an ``asyncio.BufferedProtocol``. The event loop reads
straight into a preallocated buffer (``get_buffer``) shared by every connection of
the thread; ``buffer_updated`` hands the new bytes to the sans-IO connection
(``fastws.protocol``), turns its events into queued messages (or, with a
``Listener``, calls it at once), pong results and closing state, and writes what the
connection queued (pongs, the echo of a close frame). The buffer is 256 KiB: each
read callback does a bounded amount of work, and the loop serves every connection in
turn, so one connection cannot hold the others back; a 64 KiB message still arrives
in one read. A full read that carried no message (a flood of pings or of empty
fragments) makes the next reads 16 KiB until a message comes: such chatter costs
work per byte, and small reads keep its turns short.

Flow control, so that no peer can grow our memory:
- the queue of received messages is bounded in messages (``max_queue``) and in
  bytes (``max_queue_bytes``): past either, reading pauses, and resumes once the
  application has taken the queue down to a quarter of both;
- while the transport's write buffer is over its high-water mark
  (``pause_writing``), reading pauses too: whatever the peer sends, pings included,
  nothing more is answered until it reads what we wrote; ``send`` waits.

Sending: ``send`` asks the protocol for the frame and writes it: at once when no
received message waits to be answered (a round trip waits for nothing, and costs
no extra turn of the loop); while some do, the answers gather and go out in one
write with the last one (or past 64 KiB, or at the end of the turn). A large
message goes out after its frame header without being copied into the frame
(``send_message_parts``). On a plain socket whose transport holds nothing, a write
goes straight to the socket, the transport taking only what the socket does not.

Closing: a close frame sent starts a timer (``close_timeout``) after which the
transport is aborted. A protocol failure (RFC 6455 §7.1.7) that follows messages
the application has not read yet is held by the protocol (``hold_failure``) until
the application has read them, bounded by the same timer: it may still answer
them (an echo server echoes every message that came before the bad frame), and only
then does the failing close frame go out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections import deque
from typing import Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Deque, Dict, Iterable, List, Optional, Tuple, Union

from ..codes import CloseCode
from ..protocol import (
    AcceptConnection,
    CloseConnection,
    ConnectionFailed,
    ConnectionState,
    HandshakeFailed,
    HttpRequest,
    InvalidState,
    Pong,
    PreparedMessage,
    RejectConnection,
    Request,
)

__all__ = ["ConnectionClosed", "InvalidHandshake", "Listener", "WebSocket", "broadcast"]

logger = logging.getLogger("fastws.aio")

_OPEN = ConnectionState.OPEN
_CLOSED = ConnectionState.CLOSED
_HAS_WRITEV = hasattr(os, "writev")
_STREAM_FAMILIES = {socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_UNIX", socket.AF_INET)}
_READ_SIZE = 256 * 1024  # the receive buffer: one per thread, shared by its connections
#: What a connection may read at once after a full read that carried no message:
#: a flood of control frames or empty fragments gets small reads, so its turn of the
#: loop stays short and other connections (a new client's handshake) get theirs.
_CHATTER_READ_SIZE = 16 * 1024
_local = threading.local()
_FLUSH_AT = 64 * 1024  # pending writes past this size go out at once
#: Default bound on the bytes of received messages waiting for the application.
DEFAULT_MAX_QUEUE_BYTES = 512 * 1024

Message = Union[str, bytes]


def _plain_socket_fd(transport: Any) -> int:
    """The file descriptor of the transport's socket when bytes may be written to it
    directly while the transport's buffer is empty (a plain TCP or Unix socket, on a
    system with ``os.writev``); -1 otherwise (TLS, pipes, test doubles)."""
    sock = transport.get_extra_info("socket")
    if sock is None or not _HAS_WRITEV:
        return -1
    if transport.get_extra_info("sslcontext") is not None or transport.get_extra_info("ssl_object") is not None:
        return -1
    if sock.type != socket.SOCK_STREAM or sock.family not in _STREAM_FAMILIES:
        return -1
    return sock.fileno()  # type: ignore[no-any-return]


def _send_directly(fd: int, buffers: Tuple[bytes, ...]) -> int:
    """Writes what the socket takes now of ``buffers``, in one system call; returns
    the bytes written. A full socket writes nothing, and so does an error, which is
    left for the transport to meet (and report) when it writes the rest."""
    try:
        return os.writev(fd, buffers) if len(buffers) > 1 else os.write(fd, buffers[0])
    except OSError:
        return 0


def _read_buffer() -> memoryview:
    """This thread's receive buffer. Every connection of an event loop can share
    it: the loop calls ``get_buffer``, reads, and calls ``buffer_updated`` with no
    other connection's turn in between, and the parser copies what it keeps."""
    view: Optional[memoryview] = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(_READ_SIZE))
    return view


class Listener:
    """The callback API: subclass it and give the class (or any factory) to
    ``serve_callbacks`` or ``connect(..., listener=)``. Its methods are called
    straight from the transport's read callback, with no task switch per message;
    answer with the synchronous ``ws.send_nowait``. Don't block in them."""

    def on_open(self, ws: WebSocket) -> None:
        """The handshake succeeded."""

    def on_message(self, ws: WebSocket, message: Message) -> None:
        """A message arrived: ``str`` for text, ``bytes`` for binary."""

    def on_close(self, ws: WebSocket, code: int, reason: str) -> None:
        """The connection is closed (``ws.close_code``/``close_reason``; 1006 when it
        ended without a close frame)."""


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

    def __init__(
        self, message: str, status_code: Optional[int] = None, headers: Tuple[Tuple[str, str], ...] = (), body: bytes = b""
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers
        self.body = body


class WebSocket(asyncio.BufferedProtocol):
    """An open WebSocket connection (server or client side).

    ``await send(message)``, ``await recv()``, ``async for message in ws``,
    ``await ping()``, ``await close(code, reason)``; ``subprotocol``, ``request``
    (the opening handshake's ``Request``: ``target``, ``headers``),
    ``remote_address``, ``close_code``/``close_reason`` once closed. With a
    ``Listener``, messages go to its ``on_message`` and ``send_nowait`` answers.
    """

    def __init__(
        self,
        connection: Any,
        *,
        max_queue: int = 16,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        ping_interval: Optional[float] = 20.0,
        ping_timeout: Optional[float] = 20.0,
        close_timeout: float = 10.0,
        listener: Optional[Listener] = None,
    ) -> None:
        self._proto = connection
        # Messages come straight from the protocol, not as events (one object less).
        connection.on_message = self._message_received if listener is None else self._message_to_listener
        self._client = connection.role == "client"
        self.max_queue = max(1, max_queue)
        self.max_queue_bytes = max(1, max_queue_bytes)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.listener = listener
        self._loop = asyncio.get_running_loop()
        self._view = self._full_view = _read_buffer()
        self._delivered = False  # a message (or a piece of one) came out of the last read
        self.transport: Any = None
        self.remote_address: Any = None
        #: The opening handshake: the client's ``Request`` (on a server, with every
        #: header field in ``request.headers``) and, on a client, the server's answer.
        self.request: Optional[Request] = None
        self.response: Optional[AcceptConnection] = None
        self._queue: Deque[Any] = deque()
        self._queue_bytes = 0
        self._in_pieces = False  # the queue's last item is a piece of an unfinished message
        self._assembling: Optional[List[Any]] = None  # recv()'s pieces of a fragmented message
        self._recv_waiter: Optional[asyncio.Future[None]] = None
        # Why reading is paused: the queue is full, the write buffer is.
        self._paused_for_queue = False
        self._paused_for_writes = False
        self._pending: List[bytes] = []
        self._pending_size = 0
        self._flush_scheduled = False
        self._gathering = False
        self._write_paused = False
        self._drain_waiters: List[asyncio.Future[None]] = []
        self._pings: Dict[bytes, Tuple[asyncio.Future[float], float]] = {}
        self._keepalive: Optional[asyncio.Task[None]] = None
        self._close_timer: Optional[asyncio.TimerHandle] = None
        self._failed: Optional[Tuple[int, str]] = None
        self._close_sent = False  # this side started the closing handshake
        self._opened: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._lost = False
        self._socket_fd = -1  # the socket's, when writes may go to it directly (connection_made)
        # The server's hooks: the transport is there, the request came, the handshake succeeded.
        self._on_made: Optional[Callable[[WebSocket], None]] = None
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
    def writing_paused(self) -> bool:
        """Whether the transport's write buffer is over its high-water mark: ``send``
        waits, and a ``Listener`` should hold back until it clears."""
        return self._write_paused

    @property
    def reading_paused(self) -> bool:
        """Whether reading from the peer is paused: the queue of received messages
        is full (``max_queue``, ``max_queue_bytes``) or so is the write buffer."""
        return self._paused_for_writes or (self._paused_for_queue and not self._close_sent)

    @property
    def queued(self) -> Tuple[int, int]:
        """``(messages, bytes)`` received and waiting for ``recv``."""
        return len(self._queue), self._queue_bytes

    @property
    def buffered_amount(self) -> int:
        """Bytes written but not sent yet (ours and the transport's)."""
        return self._pending_size + (0 if self._lost else self.transport.get_write_buffer_size())

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
        parts = self._assembling
        if parts is None:
            queue = self._queue
            if queue and type(queue[0]) is not tuple:
                return self._take_item()  # type: ignore[no-any-return]  # a whole message waits: no await, no coroutine below
            item = await self._next_item()
            if type(item) is not tuple:
                return item  # type: ignore[no-any-return]
            parts = self._assembling = [item[0]]
        # A fragmented message: its pieces, joined here (cancelling recv() keeps
        # what was taken for the next call).
        while True:
            data, finished = await self._next_item()
            parts.append(data)
            if finished:
                self._assembling = None
                return "".join(parts) if type(parts[0]) is str else b"".join(parts)

    async def recv_streaming(self) -> AsyncIterator[Message]:
        """The next message in pieces as they arrive, without joining them (a large
        message then needs no buffer of its size): ``async for piece in
        ws.recv_streaming():``. A message that came in one frame is one piece."""
        if self._assembling is not None:
            raise RuntimeError("recv() was cancelled inside a message: call it again to finish that message")
        item = await self._next_item()
        if type(item) is not tuple:
            yield item
            return
        data, finished = item
        while True:
            if data or finished:
                yield data
            if finished:
                return
            data, finished = await self._next_item()

    async def _next_item(self) -> Any:
        """The next message or piece of one from the queue, waiting for it."""
        queue = self._queue
        while not queue:
            if self._proto.failing:
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
        return self._take_item()

    def _take_item(self) -> Any:
        """Takes the next item of the queue (there is one), resuming reading once
        the queue has drained well below its bounds."""
        queue = self._queue
        item = queue.popleft()
        self._queue_bytes -= len(item) if type(item) is not tuple else len(item[0])
        if self._paused_for_queue and len(queue) <= self.max_queue >> 2 and self._queue_bytes <= self.max_queue_bytes >> 2:
            self._paused_for_queue = False
            self._update_reading()
        return item

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> Message:
        queue = self._queue
        if queue and self._assembling is None and type(queue[0]) is not tuple:
            return self._take_item()  # type: ignore[no-any-return]  # as recv() does, one coroutine fewer per message
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def send(self, message: Union[Message, bytearray, memoryview, Iterable[Any], AsyncIterable[Any]]) -> None:
        """Sends a text (``str``) or binary (bytes-like) message; waits while the
        transport's buffer is over its high-water mark. An iterable or async
        iterable of ``str`` (or of bytes-likes) is sent as one message in
        fragments, one per item (RFC 6455 §5.4), so a large message needs no buffer
        of its size."""
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            if self._write_paused:
                await self._drain()
            self.send_nowait(message)
        elif hasattr(message, "__aiter__"):
            await self._send_fragments(message.__aiter__(), True)
        elif hasattr(message, "__iter__"):
            await self._send_fragments(iter(message), False)
        else:
            raise TypeError(f"cannot send {type(message).__name__}: a message is str, bytes-like, or an (async) iterable of them")

    async def _send_fragments(self, fragments: Any, is_async: bool) -> None:
        proto = self._proto
        text: Optional[bool] = None
        while True:
            try:
                piece = await fragments.__anext__() if is_async else next(fragments)
            except (StopIteration, StopAsyncIteration):
                break
            kind = type(piece) is str
            if text is None:
                text = kind
            elif kind is not text:
                # Half a message is out and cannot be taken back: end the connection.
                self.start_close(CloseCode.INTERNAL_ERROR, "bad message fragments")
                raise TypeError("the fragments of one message are all str or all bytes-like")
            if self._write_paused:
                await self._drain()
            try:
                self._write(proto.send_text(piece, fin=False) if text else proto.send_binary(piece, fin=False))
            except InvalidState:
                raise self._closed_error() from None
        if text is not None:  # the last frame: empty, final
            try:
                self._write(proto.send_text("", fin=True) if text else proto.send_binary(b"", fin=True))
            except InvalidState:
                raise self._closed_error() from None

    def send_nowait(self, message: Union[Message, bytearray, memoryview]) -> None:
        """Sends a message without waiting (the callback API's send). It does not
        wait for the write buffer: check ``writing_paused`` when sending much."""
        try:
            head, body = self._proto.send_message_parts(message)
        except InvalidState:
            raise self._closed_error() from None
        if body:
            self._write_large(head, body)
        else:
            self._write(head)

    def send_prepared_nowait(self, prepared: PreparedMessage, *, max_buffer: Optional[int] = None) -> bool:
        """Sends a message framed once for many connections (``broadcast`` uses it),
        without waiting. Sends nothing and returns False when the connection is not
        open, its write buffer is over the high-water mark or holds more than
        ``max_buffer`` bytes, or a fragmented message is being sent."""
        if not self.open or self._write_paused or self._proto.sending_fragments:
            return False
        if max_buffer is not None and self.buffered_amount > max_buffer:
            return False
        self._write(self._proto.send_prepared(prepared))
        return True

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
        self.start_close(code, reason)
        await self.wait_closed()

    def start_close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Starts the closing handshake without waiting (see ``close``)."""
        proto = self._proto
        if proto.failing:
            self._fail_now()
        elif proto.state is _OPEN and not self._lost:
            self._write_now(proto.close(code, reason))
            self._close_sent = True
            self._arm_close_timer()
            self._update_reading()  # the peer's close frame must be read
        elif proto.state is ConnectionState.CONNECTING and not self._lost:
            self.transport.close()

    def abort(self) -> None:
        """Drops the transport at once, without a closing handshake."""
        if not self._lost and self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Waits until the transport is closed."""
        await asyncio.shield(self._closed)

    # -- sending --------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._queue or self._gathering:
            # More received messages wait to be answered (or a listener is being
            # called from a read): gather the answers, to go out in one write when
            # the last is answered, past 64 KiB, or at the end of this loop turn.
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size >= _FLUSH_AT:
                self._flush()
            elif not self._flush_scheduled and not self._gathering:  # a read flushes at its end
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)
        elif self._pending:
            self._write_now(data)
        elif not self._lost:
            self._put(data)  # nothing to wait for: out at once, no extra loop turn

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self._pending = []
        self._pending_size = 0
        if not self._lost:
            self._put(data)

    def _write_large(self, head: bytes, body: bytes) -> None:
        """A large message, after its frame header and whatever is pending, without
        copying it: straight to the socket in one scatter-gather write when it can go
        there, else as two writes to the transport rather than joined."""
        self._flush()
        if self._lost:
            return
        if self._may_send_directly():
            sent = _send_directly(self._socket_fd, (head, body))
            if sent >= len(head):
                if sent < len(head) + len(body):
                    self.transport.write(memoryview(body)[sent - len(head) :])
                return
            head = head[sent:]
        # Two writes, not writelines: asyncio's selector transport (3.12, 3.13) does not
        # apply its high-water mark in writelines, so a slow reader would never pause us.
        self.transport.write(head)
        self.transport.write(body)

    def _may_send_directly(self) -> bool:
        """Whether a write may go straight to the socket: a plain socket's transport
        that holds nothing (so nothing it holds can be overtaken) and is not closing."""
        return self._socket_fd >= 0 and not self.transport.get_write_buffer_size() and not self.transport.is_closing()

    def _put(self, data: bytes) -> None:
        """Hands ``data`` to the transport. When the transport is a plain socket's
        and holds nothing, the bytes go straight to the socket (one system call, none
        of the transport's Python) and the transport gets only what the socket did
        not take, so the order of the bytes stays the transport's."""
        if self._may_send_directly():
            sent = _send_directly(self._socket_fd, (data,))
            if sent == len(data):
                return
            data = data[sent:]
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
        # A server stops reading from a client that does not read what it is sent,
        # so that nothing it sends (pings above all) makes us write more. A client
        # keeps reading: a server that stops reading while it writes to us is
        # waiting for us to read, and both stopping would stall the connection.
        self._paused_for_writes = not self._client
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._paused_for_writes = False
        self._update_reading()
        self._wake_drainers()

    def _update_reading(self) -> None:
        """Pauses or resumes reading from the transport, for whichever reasons hold.
        Once this side has sent its close frame only the write buffer counts: the
        peer's close frame must get in."""
        if self._lost or self.transport is None:
            return
        if self.reading_paused:
            if self.transport.is_reading():
                self.transport.pause_reading()
        elif not self.transport.is_reading() and not self.transport.is_closing():
            self.transport.resume_reading()

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

    def _arm_close_timer(self) -> None:
        if self._close_timer is None and not self._lost:
            self._close_timer = self._loop.call_later(self.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._close_timer = None
        if self._proto.failing:
            self._fail_now()
            self._close_timer = self._loop.call_later(self.close_timeout, self._close_timed_out)
        elif not self._lost:
            self.transport.abort()

    # -- receiving ------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._socket_fd = _plain_socket_fd(transport)
        self.remote_address = transport.get_extra_info("peername")
        if self._on_made is not None:
            self._on_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        proto = self._proto
        self._gathering = True  # a listener's answers to this read go out in one write
        try:
            proto.receive_data(self._view[:nbytes])
        finally:
            self._gathering = False
        if self._delivered:
            self._delivered = False
            self._view = self._full_view
        elif nbytes == len(self._view) and nbytes > _CHATTER_READ_SIZE and proto.partial_frame_bytes < nbytes:
            # A full read of chatter (not of one large frame still arriving): read less.
            self._view = self._full_view[:_CHATTER_READ_SIZE]
        events = proto.events()
        if events:
            self._handle_events(events)
        elif self._queue:
            self._wake_reader()
        out = proto.data_to_send()
        if out:
            self._write_now(out)
        elif self._pending:
            self._flush()
        if proto.should_close_transport:
            self._close_transport()

    def _message_received(self, data: Message, finished: bool) -> None:
        # The queue holds whole messages, and pieces of fragmented ones as
        # (data, finished): recv() joins them, recv_streaming() does not.
        self._delivered = True
        queue = self._queue
        if self._close_sent and len(queue) >= self.max_queue:
            return  # closing, past max_queue: dropped, so that the close frame can be read
        if finished and not self._in_pieces:
            queue.append(data)
        else:
            queue.append((data, finished))
            self._in_pieces = not finished
        self._queue_bytes += len(data)

    def _message_to_listener(self, data: Message, finished: bool) -> None:
        self._delivered = True
        self.listener.on_message(self, data)  # type: ignore[union-attr]

    def _handle_events(self, events: List[Any]) -> None:
        queue = self._queue
        for event in events:
            kind = type(event)
            if kind is Pong:
                self._pong(event.payload)
            elif kind is CloseConnection:
                if self._proto.state is _CLOSED:
                    self._cancel_keepalive()
            elif kind is ConnectionFailed:
                self._failed = (event.code, event.reason)
                logger.debug("failing the connection: %s %s", event.code, event.reason)
                self._cancel_keepalive()
                if self._proto.failing:
                    if queue and not self._lost:
                        self._arm_close_timer()  # the application reads (and answers) what came first
                    else:
                        self._fail_now()
            elif kind is Request or kind is HttpRequest:
                self.request = event
                if self._on_request is not None:
                    self._on_request(self, event)
            elif kind is AcceptConnection:
                self.response = event
                self._opened_now()
            elif kind is RejectConnection:
                self._fail_open(
                    InvalidHandshake(f"the server refused the handshake: {event.status_code}", event.status_code, event.headers, event.body)
                )
            elif kind is HandshakeFailed:
                self._fail_open(InvalidHandshake(event.reason, event.status_code))
        self._wake_reader()

    def _wake_reader(self) -> None:
        """Wakes a ``recv`` waiting for messages or the end; pauses reading past
        the queue's bounds."""
        queue = self._queue
        waiter = self._recv_waiter
        if waiter is not None and (queue or self._proto.state is _CLOSED or self._failed is not None) and not waiter.done():
            waiter.set_result(None)
        if not self._paused_for_queue and (len(queue) >= self.max_queue or self._queue_bytes >= self.max_queue_bytes):
            self._paused_for_queue = True
            self._update_reading()

    def _fail_now(self) -> None:
        """Sends the close frame of a failure that waited for the application."""
        data = self._proto.fail()
        if not self._lost:
            self._write_now(data)
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
        self._pending_size = 0
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._cancel_keepalive()
        error = self._closed_error()
        for waiter, _ in self._pings.values():
            if not waiter.done():
                waiter.set_exception(error)
                waiter.exception()  # keepalive's may have no one waiting: no "never retrieved" warning
        self._pings.clear()
        self._wake_drainers()
        if self._recv_waiter is not None and not self._recv_waiter.done():
            self._recv_waiter.set_result(None)
        if not self._opened.done():
            self._opened.set_exception(InvalidHandshake(f"the connection ended during the opening handshake: {exc or 'EOF'}"))
            self._opened.exception()  # nobody may be waiting: no "never retrieved" warning
        elif self.listener is not None:
            try:
                self.listener.on_close(self, error.code, error.reason)
            except Exception:
                logger.exception("Listener.on_close failed")
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
        if not self._opened.done():
            self._opened.set_result(None)
        if self.ping_interval:
            self._keepalive = self._loop.create_task(self._keep_alive())
        if self._on_open is not None:
            self._on_open(self)
        if self.listener is not None:
            self.listener.on_open(self)

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


def broadcast(
    connections: Iterable[WebSocket],
    message: Union[Message, bytearray, memoryview, PreparedMessage],
    *,
    max_buffer: int = 256 * 1024,
    skipped: Optional[List[WebSocket]] = None,
) -> int:
    """Sends one message to every open connection without waiting: the message is
    framed once (``PreparedMessage``) and the same bytes are written to each, one
    compressed frame shared by the connections whose permessage-deflate settings
    allow it. A connection whose transport is paused or holds more than
    ``max_buffer`` unsent bytes is skipped (a slow client must not hold the others
    back or grow our memory), and so is one in the middle of a fragmented message.
    Returns how many connections it was written to; ``skipped``, a list, receives
    the open connections it was not written to."""
    prepared = message if isinstance(message, PreparedMessage) else PreparedMessage(message)
    sent = 0
    for ws in connections:
        if ws.send_prepared_nowait(prepared, max_buffer=max_buffer):
            sent += 1
        elif skipped is not None and ws.open:
            skipped.append(ws)
    return sent


Handler = Callable[[WebSocket], Awaitable[Any]]
