"""fastws.protocol: the WebSocket protocol (RFC 6455, RFC 7692), sans-IO.

No sockets, no event loop: a ``ClientConnection`` or ``ServerConnection`` takes the
bytes your I/O layer received and returns events, and turns what you send into the
bytes to write. See docs/protocol.md.

``ClientConnection`` and ``ServerConnection`` are the implementation in use: compiled
with the Cython core, pure Python with the pure core. ``load_implementation("python")``
(or "cython") gives either one's module, for tests and benchmarks that run both.
"""

from ._connection import DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, LARGE_MESSAGE
from ._deflate import PerMessageDeflate
from ._errors import HandshakeError, InvalidState
from ._events import (
    AcceptConnection,
    BinaryMessage,
    CloseConnection,
    ConnectionFailed,
    Event,
    HandshakeFailed,
    HttpRequest,
    Message,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from ._prepared import PreparedMessage
from ._select import ClientConnection, Connection, ServerConnection, load_implementation
from ._state import ConnectionState

__all__ = [
    "AcceptConnection",
    "BinaryMessage",
    "ClientConnection",
    "CloseConnection",
    "Connection",
    "ConnectionFailed",
    "ConnectionState",
    "DEFAULT_MAX_FRAGMENTS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Event",
    "HandshakeError",
    "HandshakeFailed",
    "HttpRequest",
    "InvalidState",
    "LARGE_MESSAGE",
    "Message",
    "PerMessageDeflate",
    "Ping",
    "Pong",
    "PreparedMessage",
    "RejectConnection",
    "Request",
    "ServerConnection",
    "TextMessage",
    "load_implementation",
]
