"""fastws for uvicorn: FastAPI and Starlette WebSockets on fastws' protocol layer.

    uvicorn app:app --ws fastws.uvicorn:WebSocketProtocol

or ``uvicorn.Config(app, ws="fastws.uvicorn:WebSocketProtocol")``. The class speaks
uvicorn's side of the contract (built as ``(config, server_state, app_state)``, handed
the upgrade request's bytes by uvicorn's HTTP protocol, registered in
``server_state.connections``/``tasks``, ``shutdown()``) and the ASGI WebSocket
specification, with the denial-response extension (``websocket.http.response``).

uvicorn's settings:

- ``ws_max_size``: the largest message, after decompression (1009 past it).
- ``ws_ping_interval``/``ws_ping_timeout``: a ping every interval; no pong within the
  timeout closes the connection with 1011.
- ``ws_per_message_deflate``: permessage-deflate (RFC 7692) with a fixed memory
  budget, ``DEFLATE`` below: 12-bit windows both ways and zlib memLevel 5, so a
  connection holds about 32 KiB for its compressor and 11 KiB for its
  decompressor, each allocated when its direction first carries a message (zlib's
  defaults would take about 300 KiB).
- ``ws_max_queue``: not needed here: reading pauses as soon as a read leaves a
  message the application is not about to take, and resumes once it has taken
  them all, so the queue never holds more than what one read carried.

Behaviour: an application's ``send`` waits while the transport's buffer is over its
high-water mark (``pause_writing``); an answer goes out at once when no received
message waits, and answers to a burst go out in one write at the end of the loop's
turn; a close the application starts waits for the peer's close frame before the
transport closes (or ``close_timeout``, 10 s), so no data in flight is cut off by a
reset; messages that came before a protocol error are read, and may be answered,
before the error's close frame goes out (RFC 6455 §7.1.7); a server shutdown closes
with 1012; uvicorn's access-log lines are the built-ins'.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from typing import Any, Deque, Dict, List, Optional, Tuple
from urllib.parse import unquote

from uvicorn.config import Config
from uvicorn.logging import TRACE_LOG_LEVEL
from uvicorn.protocols.utils import (
    ClientDisconnected,
    get_client_addr,
    get_local_addr,
    get_path_with_query_string,
    get_remote_addr,
    is_ssl,
)
from uvicorn.server import ServerState

from .protocol import (
    DEFAULT_MAX_FRAGMENTS,
    AcceptConnection,
    BinaryMessage,
    CloseConnection,
    ConnectionFailed,
    ConnectionState,
    HandshakeFailed,
    InvalidState,
    PerMessageDeflate,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
    load_implementation,
)

__all__ = ["DEFLATE", "WebSocketProtocol"]

#: The permessage-deflate settings a server accepts (RFC 7692 §7.1): the same
#: window and memLevel as uvicorn's websockets-sansio protocol, so that the two
#: compress alike. A client that does not offer ``client_max_window_bits`` cannot
#: promise the 12-bit window, and gets no compression.
DEFLATE = PerMessageDeflate(server_max_window_bits=12, client_max_window_bits=12, mem_level=5)

Message = Dict[str, Any]
#: Fragment size that sets the limit on fragments per message: a ws_max_size message may
#: arrive in fragments this small (RFC 6455 sets no floor; Autobahn's 9.3/9.4 use 64 bytes).
_SMALLEST_FRAGMENT = 64
_INTERNAL_ERROR = RejectConnection(500, (("Content-Type", "text/plain; charset=utf-8"),), b"Internal Server Error")


def _latin1(headers: Any) -> Tuple[Tuple[str, str], ...]:
    return tuple((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in headers)


class WebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection of a uvicorn server, from the upgrade request on."""

    #: The implementation: "cython", "python" or a core module from
    #: ``fastws.load_implementation`` (tests set it to run both); None: the one in use.
    implementation: Any = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: Dict[str, Any],
        _loop: Optional[asyncio.AbstractEventLoop] = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers
        # hold_failure: messages that came before a protocol error can still be answered.
        # uvicorn has no setting for fragments: allow a ws_max_size message in small ones.
        self.conn = load_implementation(self.implementation).ServerConnection(
            max_message_size=config.ws_max_size,
            max_fragments=max(DEFAULT_MAX_FRAGMENTS, config.ws_max_size // _SMALLEST_FRAGMENT),
            hold_failure=True,
        )

        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: Optional[Tuple[str, Optional[int]]] = None
        self.client: Optional[Tuple[str, int]] = None
        self.scheme = "ws"
        self.scope: Dict[str, Any] = {}

        # What the application receives: a queue with at most one waiting reader.
        self._inbox: Deque[Message] = collections.deque()
        self._reader: Optional[asyncio.Future[None]] = None
        self._disconnect_queued = False
        self._read_paused = False
        # What the application sends: it waits while the transport is paused.
        self._writable = True
        self._writers: List[asyncio.Future[None]] = []
        # Answers to messages still queued wait here until the end of the loop's
        # turn: one system call for a burst of answers, not one each.
        self._pending: List[bytes] = []
        self._pending_size = 0

        self.handshake_complete = False  # accepted or refused: no handshake message from here on
        self.close_sent = False  # the application (or the server) sent a close frame
        self.disconnected = False  # the transport is gone
        self._response: Optional[Tuple[int, Tuple[Tuple[str, str], ...], bytearray]] = None  # a denial response
        # A protocol failure that waits until the application has read (and could
        # answer) the messages that came before it: its close frame, its disconnect.
        self._failure: Optional[Message] = None  # the disconnect of a held failure
        #: Seconds to wait for the peer's close frame after ours (RFC 6455 §7.1.1).
        self.close_timeout = 10.0
        self.close_timer: Optional[asyncio.TimerHandle] = None

        # Keepalive (RFC 6455 §5.5.2): a ping every ping_interval, a pong within ping_timeout.
        self.ping_interval = config.ws_ping_interval
        self.ping_timeout = config.ws_ping_timeout
        self.ping_timer: Optional[asyncio.TimerHandle] = None
        self.pong_timer: Optional[asyncio.TimerHandle] = None
        self.ping_sent_at = 0.0
        self._ping_payload: Optional[bytes] = None

    # -- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)  # type: ignore[arg-type]
        self.server = get_local_addr(self.transport)
        self.client = get_remote_addr(self.transport)
        self.scheme = "wss" if is_ssl(self.transport) else "ws"
        self._trace("WebSocket connection made")

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.disconnected = True
        self._pending, self._pending_size = [], 0
        if self._failure is not None:
            self._disconnect(self._failure)
            self._failure = None
        self.handshake_complete = True
        self._stop_keepalive()
        self._cancel_close_timer()
        self._disconnect({"type": "websocket.disconnect", "code": 1006})
        self.connections.discard(self)
        self._wake_writers()  # a lost transport never resumes writing
        self._trace("WebSocket connection lost")
        if exc is None:
            self.transport.close()

    def eof_received(self) -> None:
        self.conn.receive_eof()  # the transport closes itself: connection_lost follows

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        self._wake_writers()

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        for event in conn.events():
            kind = type(event)
            if kind is TextMessage:
                if not self.close_sent:  # past its close, the application reads nothing
                    self._put({"type": "websocket.receive", "text": event.data})  # type: ignore[attr-defined]
            elif kind is BinaryMessage:
                if not self.close_sent:
                    self._put({"type": "websocket.receive", "bytes": event.data})  # type: ignore[attr-defined]
            elif kind is Request:
                self._connect(event)  # type: ignore[arg-type]
            elif kind is Pong:
                self._pong(event.payload)  # type: ignore[attr-defined]
            elif kind is CloseConnection and not self.close_sent:
                self._disconnect({"type": "websocket.disconnect", "code": event.code, "reason": event.reason})  # type: ignore[attr-defined]
            elif kind is ConnectionFailed:
                disconnect = {"type": "websocket.disconnect", "code": event.code, "reason": event.reason}  # type: ignore[attr-defined]
                self._stop_keepalive()
                if self._inbox and self.handshake_complete and not self.close_sent:
                    # Let the application read (and answer) what came before the bad
                    # frame; the failing close frame follows (or close_timeout).
                    self._failure = disconnect
                    self.close_timer = self.loop.call_later(self.close_timeout, self._fail_now)
                else:
                    self._disconnect(disconnect)
                    self._write(conn.fail())
            elif kind is HandshakeFailed:
                self.handshake_complete = True
        out = conn.data_to_send()  # pongs, the echo of a close frame, a refusal
        if out:
            self._write(out)
        if conn.should_close_transport and self._failure is None:
            self._close_transport()
        elif len(self._inbox) > (self._reader is not None) and not self._read_paused and self.handshake_complete and not self.close_sent:
            # The application is behind (more waits than the reader it has woken
            # takes): let TCP hold the rest until it has taken everything.
            self._read_paused = True
            self.transport.pause_reading()

    # -- uvicorn --------------------------------------------------------------------

    def shutdown(self) -> None:
        """The server is stopping: close with 1012 (Service Restart)."""
        self._stop_keepalive()
        if self._failure is not None:
            self._fail_now()
        elif self.close_sent:
            self._close_transport()
        elif self.conn.state is ConnectionState.OPEN and not self.disconnected:
            self._disconnect({"type": "websocket.disconnect", "code": 1012})
            self._send_close(1012, "")
        else:
            self._send_500()
            self._close_transport()

    # -- ASGI -----------------------------------------------------------------------

    async def run_asgi(self) -> None:
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self._send_500()
        else:
            if not self.handshake_complete and self._response is None:
                self.logger.error("ASGI callable returned without completing handshake.")
                self._send_500()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self._response is not None:  # a denial response the application left unfinished
            self._finish_response()
        if self._failure is not None:  # the application is done answering
            self._fail_now()
        if self.close_timer is None:
            self._close_transport()

    async def receive(self) -> Message:
        inbox = self._inbox
        if not inbox and self._failure is not None:
            self._fail_now()  # the application has read all that came before the failure
        if not inbox:
            reader = self._reader = self.loop.create_future()
            try:
                await reader
            finally:
                self._reader = None
        message = inbox.popleft()
        if self._read_paused and not inbox:
            self._read_paused = False
            self.transport.resume_reading()
        return message

    async def send(self, message: Message) -> None:
        if not self._writable:
            await self._wait_writable()
        if self.disconnected:
            raise ClientDisconnected()
        kind = message["type"]
        if self.handshake_complete and not self.close_sent:
            try:
                if kind == "websocket.send":
                    data = message.get("bytes")
                    if data is not None:
                        self._send_frame(self.conn.send_binary(data))
                    elif message.get("text") is not None:
                        self._send_frame(self.conn.send_text(message["text"]))
                    else:
                        raise RuntimeError("'websocket.send' needs 'bytes' or 'text'.")
                elif kind == "websocket.close" and self._failure is not None:
                    self._fail_now()  # the failure's close frame is the one to send
                elif kind == "websocket.close":
                    self._disconnect(
                        {"type": "websocket.disconnect", "code": message.get("code") or 1000, "reason": message.get("reason") or ""}
                    )
                    self._send_close(message.get("code") or 1000, message.get("reason") or "")
                else:
                    raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'.")
            except InvalidState:
                raise ClientDisconnected() from None
        elif self._response is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")
            self._response[2].extend(message.get("body", b""))
            if not message.get("more_body", False):
                self._finish_response()
        elif not self.handshake_complete:
            self._handshake_message(kind, message)
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")

    def _handshake_message(self, kind: str, message: Message) -> None:
        client, path = get_client_addr(self.scope), get_path_with_query_string(self.scope)  # type: ignore[arg-type]
        if kind == "websocket.accept":
            self.logger.info('%s - "WebSocket %s" [accepted]', client, path)
            accept = AcceptConnection(
                subprotocol=message.get("subprotocol"),
                extensions=(DEFLATE,) if self.config.ws_per_message_deflate else (),
                extra_headers=_latin1(self.default_headers) + _latin1(message.get("headers", ())),
            )
            if not self.transport.is_closing():
                self._write(self.conn.send(accept))
                self.handshake_complete = True
                self._start_keepalive()
        elif kind == "websocket.close":
            self.logger.info('%s - "WebSocket %s" 403', client, path)
            self._disconnect({"type": "websocket.disconnect", "code": 1006})
            self._refuse(RejectConnection(403, _latin1(self.default_headers)))
        elif kind == "websocket.http.response.start":
            status = message["status"]
            if not 200 <= status < 600:
                raise RuntimeError("Invalid HTTP status code '%d' in response." % status)
            self.logger.info('%s - "WebSocket %s" %d', client, path, status)
            self._response = (status, _latin1(self.default_headers) + _latin1(message.get("headers", ())), bytearray())
        else:
            raise RuntimeError(
                f"Expected ASGI message 'websocket.accept', 'websocket.close' or 'websocket.http.response.start' but got '{kind}'."
            )

    # -- the connection's life ------------------------------------------------------

    def _connect(self, request: Request) -> None:
        root_path = self.config.root_path
        raw_path, _, query = request.target.partition("?")
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.config.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": root_path,
            "path": root_path + unquote(raw_path),
            "raw_path": root_path.encode("ascii") + raw_path.encode("ascii"),
            "query_string": query.encode("ascii"),
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers],
            "subprotocols": list(request.subprotocols),
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        self._put({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _put(self, message: Message) -> None:
        self._inbox.append(message)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    def _disconnect(self, message: Message) -> None:
        """Queues the one ``websocket.disconnect`` the application receives."""
        if not self._disconnect_queued:
            self._disconnect_queued = True
            self._put(message)

    def _send_close(self, code: int, reason: str) -> None:
        """Starts the closing handshake; the transport closes on the peer's answer."""
        if self.transport.is_closing():
            return
        self._write(self.conn.close(code, reason))
        self.close_sent = True
        if self._read_paused:  # the peer's close frame must get through
            self._read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self._close_transport)

    def _close_transport(self) -> None:
        self._cancel_close_timer()
        self._flush()
        self.transport.close()

    def _cancel_close_timer(self) -> None:
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None

    def _refuse(self, response: RejectConnection) -> None:
        self.handshake_complete = self.close_sent = True
        self._write(self.conn.send(response))
        self._close_transport()

    def _finish_response(self) -> None:
        status, headers, body = self._response  # type: ignore[misc]
        self._response = None
        self._disconnect({"type": "websocket.disconnect", "code": 1006})
        self._refuse(RejectConnection(status, headers, bytes(body)))

    def _send_500(self) -> None:
        if not self.handshake_complete and self._response is None and not self.disconnected:
            self.handshake_complete = True
            self._write(self.conn.send(_INTERNAL_ERROR))

    def _fail_now(self) -> None:
        """Sends the close frame of a failure that waited for the application."""
        if self._failure is None:
            return
        disconnect = self._failure
        self._failure = None
        self._cancel_close_timer()
        self._disconnect(disconnect)
        out = self.conn.fail()
        if not self.disconnected:
            self._write(out)
            self._close_transport()

    def _send_frame(self, frame: bytes) -> None:
        """An application's message: out at once when nothing else waits to be
        answered (a round trip waits for nothing), else with the turn's others."""
        if not self._inbox and not self._pending:
            self.transport.write(frame)
            return
        self._pending.append(frame)
        self._pending_size += len(frame)
        if self._pending_size >= 65536:
            self._flush()
        elif len(self._pending) == 1:
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending, self._pending_size = [], 0
            if not self.disconnected:
                self.transport.write(data)

    def _write(self, data: bytes) -> None:
        """Any other write: after the pending answers, to keep the order."""
        if self._pending:
            self._flush()
        self.transport.write(data)

    async def _wait_writable(self) -> None:
        while not self._writable and not self.disconnected:
            writer = self.loop.create_future()
            self._writers.append(writer)
            await writer

    def _wake_writers(self) -> None:
        writers, self._writers = self._writers, []
        for writer in writers:
            if not writer.done():
                writer.set_result(None)

    # -- keepalive ------------------------------------------------------------------

    def _start_keepalive(self) -> None:
        if self.ping_interval is not None and self.ping_interval > 0:
            self.ping_timer = self.loop.call_later(self.ping_interval, self._ping)

    def _stop_keepalive(self) -> None:
        for timer in (self.ping_timer, self.pong_timer):
            if timer is not None:
                timer.cancel()
        self.ping_timer = self.pong_timer = None
        self._ping_payload = None

    def _ping(self) -> None:
        self.ping_timer = None
        if self.conn.state is not ConnectionState.OPEN or self.close_sent or self.transport.is_closing():
            return
        self._ping_payload = os.urandom(4)  # a stale or unsolicited pong does not match
        self.ping_sent_at = self.loop.time()
        self._write(self.conn.send_ping(self._ping_payload))
        if self.ping_timeout is not None:
            self.pong_timer = self.loop.call_later(self.ping_timeout, self._ping_timed_out)
        else:
            self._start_keepalive()

    def _pong(self, payload: bytes) -> None:
        if self._ping_payload is None or payload != self._ping_payload:
            return
        self._ping_payload = None
        if self.pong_timer is not None:
            self.pong_timer.cancel()
            self.pong_timer = None
            self._start_keepalive()

    def _ping_timed_out(self) -> None:
        self.pong_timer = None
        self._ping_payload = None
        if self.close_sent or self.transport.is_closing():
            return
        self._trace("WebSocket keepalive ping timeout")
        self._disconnect({"type": "websocket.disconnect", "code": 1011, "reason": "keepalive ping timeout"})
        self._write(self.conn.close(1011, "keepalive ping timeout"))
        self.close_sent = True
        self._close_transport()  # an unresponsive peer gets no time to answer

    def _trace(self, text: str) -> None:
        if self.logger.level <= TRACE_LOG_LEVEL:
            prefix = "%s:%d - " % self.client if self.client else ""
            self.logger.log(TRACE_LOG_LEVEL, "%s%s", prefix, text)
