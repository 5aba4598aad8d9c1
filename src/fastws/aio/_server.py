"""The asyncio server: accepts TCP (or TLS) connections, answers the opening
handshake, runs a handler per connection (or a ``Listener``'s callbacks), and
shuts down gracefully."""

from __future__ import annotations

import asyncio
import logging
from types import ModuleType
from typing import Any, Callable, Optional, Sequence, Set, Tuple, Union

from ..codes import CloseCode
from ..protocol import (
    DEFAULT_MAX_FRAGMENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
    AcceptConnection,
    HttpRequest,
    PerMessageDeflate,
    RejectConnection,
    Request,
    load_implementation,
)
from ._connection import DEFAULT_MAX_QUEUE_BYTES, ConnectionClosed, Handler, Listener, Message, WebSocket, broadcast

__all__ = ["HttpResponse", "Server", "serve", "serve_callbacks"]

logger = logging.getLogger("fastws.aio")

#: What ``http_handler`` returns for a plain HTTP request: status, headers, body.
HttpResponse = Tuple[int, Sequence[Tuple[str, str]], bytes]


class Server:
    """A WebSocket server. ``async with serve(handler, host, port) as server:``, or
    ``server = await serve(...)`` then ``await server.aclose()``.

    ``connections`` holds every open connection; ``broadcast(message)`` sends to all
    of them. ``close(code=1001)`` stops listening and starts the closing handshake
    with every client; ``wait_closed()`` waits for them, at most ``close_timeout``,
    then drops the rest and cancels their handlers.
    """

    def __init__(
        self,
        handler: Optional[Handler],
        host: Optional[str] = None,
        port: int = 0,
        *,
        listener: Optional[Callable[[], Listener]] = None,
        ssl: Any = None,
        subprotocols: Sequence[str] = (),
        compression: Optional[str] = "deflate",
        compression_level: int = 1,
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_fragments: Optional[int] = DEFAULT_MAX_FRAGMENTS,
        max_queue: int = 16,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        ping_interval: Optional[float] = 20.0,
        ping_timeout: Optional[float] = 20.0,
        close_timeout: float = 10.0,
        open_timeout: Optional[float] = 10.0,
        http_handler: Optional[Callable[[str, str, Tuple[Tuple[str, str], ...]], HttpResponse]] = None,
        select_subprotocol: Optional[Callable[[WebSocket, Sequence[str]], Optional[str]]] = None,
        backlog: int = 1024,
        sock: Any = None,
        reuse_port: bool = False,
        implementation: Union[str, ModuleType, None] = None,
    ) -> None:
        if compression not in (None, "deflate"):
            raise ValueError(f"compression must be 'deflate' or None, not {compression!r}")
        if (handler is None) is (listener is None):
            raise ValueError("give a handler or a listener factory, not both")
        self.handler = handler
        self.listener = listener
        self.host, self.port = host, port
        self.ssl = ssl
        self.subprotocols = tuple(subprotocols)
        self.compression = compression
        self.compression_level = compression_level
        self.max_message_size = max_message_size
        self.max_fragments = max_fragments
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.ping_interval, self.ping_timeout, self.close_timeout = ping_interval, ping_timeout, close_timeout
        self.open_timeout = open_timeout
        self.http_handler = http_handler
        self.select_subprotocol = select_subprotocol
        self.backlog = backlog
        self.sock = sock
        self.reuse_port = reuse_port
        self.implementation = implementation
        self._protocol = load_implementation(implementation)
        #: Every open connection (after the handshake).
        self.connections: Set[WebSocket] = set()
        self._accepting: Set[WebSocket] = set()
        self._handlers: Set[asyncio.Task[None]] = set()
        self._server: Optional[asyncio.Server] = None
        self._closing = False

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> Server:
        loop = asyncio.get_running_loop()
        if self.sock is not None:
            self._server = await loop.create_server(self._new_connection, sock=self.sock, ssl=self.ssl, backlog=self.backlog)
        else:
            self._server = await loop.create_server(
                self._new_connection,
                self.host,
                self.port,
                ssl=self.ssl,
                backlog=self.backlog,
                reuse_address=True,
                reuse_port=self.reuse_port or None,
            )
        return self

    def __await__(self) -> Any:
        return self.start().__await__()

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    @property
    def sockets(self) -> Tuple[Any, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def bound_port(self) -> int:
        """The port the server listens on (useful with ``port=0``)."""
        return int(self.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        assert self._server is not None, "start the server first"
        try:
            await self._server.serve_forever()
        except asyncio.CancelledError:
            pass

    def close(self, code: int = CloseCode.GOING_AWAY, reason: str = "server shutdown") -> None:
        """Stops accepting connections and starts the closing handshake (1001 by
        default) with every client."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for ws in list(self._accepting):
            if ws not in self.connections:
                ws.abort()
        for ws in list(self.connections):
            ws.start_close(code, reason)

    async def wait_closed(self, timeout: Optional[float] = None) -> None:
        """Waits for every connection to close and every handler to return, at
        most ``timeout`` (default ``close_timeout``); then aborts the stragglers and
        cancels their handlers."""
        timeout = self.close_timeout if timeout is None else timeout
        waiting = [ws._closed for ws in self.connections | self._accepting] + list(self._handlers)
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=timeout)
            if late:
                for ws in list(self.connections | self._accepting):
                    ws.abort()
                for task in list(self._handlers):
                    task.cancel()
                await asyncio.wait([ws._closed for ws in self.connections | self._accepting] + list(self._handlers), timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def aclose(self, code: int = CloseCode.GOING_AWAY, reason: str = "server shutdown") -> None:
        self.close(code, reason)
        await self.wait_closed()

    def broadcast(self, message: Union[Message, bytearray, memoryview], **options: Any) -> int:
        """``broadcast(self.connections, message)``."""
        return broadcast(self.connections, message, **options)

    # -- one connection ---------------------------------------------------------------

    def _new_connection(self) -> WebSocket:
        proto = self._protocol.ServerConnection(
            max_message_size=self.max_message_size,
            max_fragments=self.max_fragments,
            hold_failure=True,
            report_pings=False,  # the connection answers them itself
            stream_messages=self.listener is None,  # a listener gets whole messages
            plain_http=self.http_handler is not None,
        )
        ws = WebSocket(
            proto,
            max_queue=self.max_queue,
            max_queue_bytes=self.max_queue_bytes,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            listener=self.listener() if self.listener is not None else None,
        )
        ws._on_request = self._answer
        ws._on_open = self._run
        ws._on_made = self._accepting.add
        ws._closed.add_done_callback(lambda _: self._forget(ws))
        if self.open_timeout:
            timer = asyncio.get_running_loop().call_later(self.open_timeout, self._open_timed_out, ws)
            ws._closed.add_done_callback(lambda _: timer.cancel())
            ws._opened.add_done_callback(lambda _: timer.cancel())
        return ws

    def _forget(self, ws: WebSocket) -> None:
        self._accepting.discard(ws)
        self.connections.discard(ws)

    def _open_timed_out(self, ws: WebSocket) -> None:
        if not ws._opened.done():
            ws.abort()

    def _answer(self, ws: WebSocket, request: Any) -> None:
        proto = ws._proto
        if type(request) is HttpRequest:
            status, headers, body = self._serve_http(request)
            ws._write_now(proto.send(RejectConnection(status, tuple(headers), body)))
        elif self._closing:
            ws._write_now(proto.send(RejectConnection(503, (("Content-Type", "text/plain"),), b"shutting down\n")))
        else:
            ws._write_now(proto.send(AcceptConnection(subprotocol=self._subprotocol(ws, request), extensions=self._extensions())))
            ws._opened_now()
            return
        if proto.should_close_transport:
            ws._close_transport()

    def _subprotocol(self, ws: WebSocket, request: Request) -> Optional[str]:
        if self.select_subprotocol is not None:
            return self.select_subprotocol(ws, request.subprotocols)
        return next((name for name in self.subprotocols if name in request.subprotocols), None)

    def _extensions(self) -> Tuple[PerMessageDeflate, ...]:
        return (PerMessageDeflate(compression_level=self.compression_level),) if self.compression == "deflate" else ()

    def _serve_http(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.http_handler(request.method, request.target, request.headers)  # type: ignore[misc]
        except Exception:
            logger.exception("http_handler failed")
            return 500, (), b""

    def _run(self, ws: WebSocket) -> None:
        self._accepting.discard(ws)
        self.connections.add(ws)
        if self.handler is None:
            return  # a listener's connection: its callbacks run from the transport
        task = asyncio.get_running_loop().create_task(self._handle(ws))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, ws: WebSocket) -> None:
        try:
            await self.handler(ws)  # type: ignore[misc]
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            ws.abort()
            raise
        except Exception:
            logger.exception("connection handler failed")
            ws.start_close(CloseCode.INTERNAL_ERROR, "internal error")
        else:
            ws.start_close(CloseCode.NORMAL_CLOSURE, "")
        try:
            await ws.wait_closed()
        finally:
            self.connections.discard(ws)


def serve(handler: Handler, host: Optional[str] = None, port: int = 0, **options: Any) -> Server:
    """A WebSocket server running ``await handler(ws)`` for every connection.

    Use it as ``async with serve(handler, "127.0.0.1", 8765) as server:`` or
    ``server = await serve(...)``. Options: ``ssl`` (an ``ssl.SSLContext``),
    ``subprotocols`` (in order of preference), ``compression`` ("deflate" or None),
    ``compression_level`` (zlib's, default 1: several times faster than 6 for about
    the same ratio on typical messages), ``max_message_size`` (bytes, None for no
    limit), ``max_fragments`` (per message, 1009 past it; None for no limit),
    ``max_queue`` and ``max_queue_bytes`` (received messages held before reading
    pauses), ``ping_interval``/``ping_timeout`` (keepalive, default 20 s; None to
    disable), ``close_timeout``, ``open_timeout``, ``reuse_port``,
    ``http_handler(method, target, headers) -> (status, headers, body)`` for plain
    HTTP requests on the same port, ``implementation`` ("cython" or "python").
    """
    return Server(handler, host, port, **options)


def serve_callbacks(listener: Callable[[], Listener], host: Optional[str] = None, port: int = 0, **options: Any) -> Server:
    """A WebSocket server on the callback API: ``listener()`` makes a ``Listener``
    for each connection, whose ``on_message`` is called straight from the
    transport's read callback (no task switch per message). Same options as
    ``serve``."""
    return Server(None, host, port, listener=listener, **options)
