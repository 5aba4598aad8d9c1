"""The asyncio server: accepts TCP (or TLS) connections, answers the opening
handshake, runs a handler per connection, and shuts down gracefully."""

from __future__ import annotations

import asyncio
import logging
from types import ModuleType
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence, Set, Tuple, Union

from ..codes import CloseCode
from ..protocol import DEFAULT_MAX_MESSAGE_SIZE, AcceptConnection, PerMessageDeflate, RejectConnection, Request, ServerConnection
from ._connection import ConnectionClosed, Handler, Message, WebSocket, broadcast

__all__ = ["HttpResponse", "Server", "serve"]

logger = logging.getLogger("fastws.aio")

#: What ``http_handler`` returns for a plain HTTP request: status, headers, body.
HttpResponse = Tuple[int, Sequence[Tuple[str, str]], bytes]
_REASONS = {200: "OK", 204: "No Content", 301: "Moved Permanently", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 426: "Upgrade Required"}
_MAX_HEAD = 16384


class _ServerSocket(WebSocket):
    """A server-side connection: a plain HTTP request (no ``Upgrade: websocket``)
    goes to the server's ``http_handler``, if any, before the WebSocket protocol
    sees a byte."""

    def __init__(self, server: Server, connection: ServerConnection, **options: Any) -> None:
        super().__init__(connection, **options)
        self._server = server
        self._head: Optional[bytearray] = bytearray() if server.http_handler is not None else None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._server._accepting.add(self)

    def buffer_updated(self, nbytes: int) -> None:
        head = self._head
        if head is None:
            return super().buffer_updated(nbytes)
        head += self._view[:nbytes]
        end = head.find(b"\r\n\r\n")
        if end < 0 and len(head) < _MAX_HEAD:
            return
        self._head = None
        lines = bytes(head[: max(end, 0)]).split(b"\r\n")
        upgrade = any(line.lower().startswith(b"upgrade:") and b"websocket" in line.lower() for line in lines[1:])
        parts = lines[0].split(b" ")
        if end < 0 or upgrade or len(parts) != 3:
            self._proto.receive_data(bytes(head))
            self._after_input()
            return
        self._serve_http(parts[0].decode("latin-1"), parts[1].decode("latin-1"), lines[1:])

    def _serve_http(self, method: str, target: str, lines: Any) -> None:
        headers = tuple((name.strip().decode("latin-1"), value.strip().decode("latin-1")) for name, _, value in (line.partition(b":") for line in lines))
        try:
            status, response_headers, body = self._server.http_handler(method, target, headers)  # type: ignore[misc]
        except Exception:
            logger.exception("http_handler failed")
            status, response_headers, body = 500, (), b""
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
        head += [f"{name}: {value}" for name, value in response_headers]
        head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        self.transport.write("\r\n".join(head).encode("latin-1") + (body if method != "HEAD" else b""))
        self.transport.close()

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        super().connection_lost(exc)
        self._server._accepting.discard(self)
        self._server.connections.discard(self)


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
        handler: Handler,
        host: Optional[str] = None,
        port: int = 0,
        *,
        ssl: Any = None,
        subprotocols: Sequence[str] = (),
        compression: Optional[str] = "deflate",
        compression_level: int = 1,
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_queue: int = 16,
        ping_interval: Optional[float] = 20.0,
        ping_timeout: Optional[float] = 20.0,
        close_timeout: float = 10.0,
        open_timeout: Optional[float] = 10.0,
        http_handler: Optional[Callable[[str, str, Tuple[Tuple[str, str], ...]], HttpResponse]] = None,
        select_subprotocol: Optional[Callable[[WebSocket, Sequence[str]], Optional[str]]] = None,
        backlog: int = 1024,
        sock: Any = None,
        _core: Optional[ModuleType] = None,
    ) -> None:
        if compression not in (None, "deflate"):
            raise ValueError(f"compression must be 'deflate' or None, not {compression!r}")
        self.handler = handler
        self.host, self.port = host, port
        self.ssl = ssl
        self.subprotocols = tuple(subprotocols)
        self.compression = compression
        self.compression_level = compression_level
        self.max_message_size = max_message_size
        self.max_queue = max_queue
        self.ping_interval, self.ping_timeout, self.close_timeout = ping_interval, ping_timeout, close_timeout
        self.open_timeout = open_timeout
        self.http_handler = http_handler
        self.select_subprotocol = select_subprotocol
        self.backlog = backlog
        self.sock = sock
        self._core = _core
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
            self._server = await loop.create_server(self._new_connection, self.host, self.port, ssl=self.ssl, backlog=self.backlog, reuse_address=True)
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
                ws.transport.close()
        for ws in list(self.connections):
            ws._start_close(code, reason)

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
                    if not ws._lost:
                        ws.transport.abort()
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
        options = {} if self._core is None else {"_core": self._core}
        proto = ServerConnection(max_message_size=self.max_message_size, **options)
        ws = _ServerSocket(
            self,
            proto,
            max_queue=self.max_queue,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
        )
        ws._on_request = self._accept
        ws._on_open = self._run
        if self.open_timeout:
            timer = asyncio.get_running_loop().call_later(self.open_timeout, self._open_timed_out, ws)
            ws._closed.add_done_callback(lambda _: timer.cancel())
            ws._opened.add_done_callback(lambda _: timer.cancel())
        return ws

    def _open_timed_out(self, ws: WebSocket) -> None:
        if not ws._opened.done() and not ws._lost:
            ws.transport.abort()

    def _accept(self, ws: WebSocket, request: Request) -> None:
        if self._closing:
            ws._write_now(ws._proto.send(RejectConnection(503, (("Content-Type", "text/plain"),), b"shutting down\n")))
            return
        if self.select_subprotocol is not None:
            subprotocol = self.select_subprotocol(ws, request.subprotocols)
        else:
            subprotocol = next((name for name in self.subprotocols if name in request.subprotocols), None)
        extensions = (PerMessageDeflate(compression_level=self.compression_level),) if self.compression == "deflate" else ()
        ws._write_now(ws._proto.send(AcceptConnection(subprotocol=subprotocol, extensions=extensions)))
        ws._opened_now()

    def _run(self, ws: WebSocket) -> None:
        self._accepting.discard(ws)
        self.connections.add(ws)
        task = asyncio.get_running_loop().create_task(self._handle(ws))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, ws: WebSocket) -> None:
        try:
            await self.handler(ws)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            if not ws._lost:
                ws.transport.abort()
            raise
        except Exception:
            logger.exception("connection handler failed")
            ws._start_close(CloseCode.INTERNAL_ERROR, "internal error")
        else:
            ws._start_close(CloseCode.NORMAL_CLOSURE, "")
        try:
            await ws.wait_closed()
        finally:
            self.connections.discard(ws)


def serve(handler: Handler, host: Optional[str] = None, port: int = 0, **options: Any) -> Server:
    """A WebSocket server running ``await handler(ws)`` for every connection.

    Use it as ``async with serve(handler, "127.0.0.1", 8765) as server:`` or
    ``server = await serve(...)``. Options: ``ssl`` (an ``ssl.SSLContext``),
    ``subprotocols`` (in order of preference), ``compression`` ("deflate" or None), ``compression_level`` (zlib's, default 1:
    several times faster than 6 for about the same ratio on typical messages),
    ``max_message_size`` (bytes, None for no limit), ``max_queue`` (received
    messages held before reading pauses), ``ping_interval``/``ping_timeout``
    (keepalive, None to disable), ``close_timeout``, ``open_timeout``,
    ``http_handler(method, target, headers) -> (status, headers, body)`` for plain
    HTTP requests on the same port.
    """
    return Server(handler, host, port, **options)
