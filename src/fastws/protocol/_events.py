"""Events: what a connection reports to the application, and what the application
sends through ``Connection.send``. Frozen dataclasses, in the wsproto vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

from ._deflate import PerMessageDeflate

__all__ = [
    "AcceptConnection",
    "BinaryMessage",
    "CloseConnection",
    "ConnectionFailed",
    "Event",
    "HandshakeFailed",
    "Headers",
    "HttpRequest",
    "Message",
    "Ping",
    "Pong",
    "RejectConnection",
    "Request",
    "TextMessage",
]

#: HTTP header fields in order, names as received (compare them case-insensitively).
Headers = Tuple[Tuple[str, str], ...]


class Event:
    """Base class of every event."""

    __slots__ = ()


# -- opening handshake (RFC 6455 §4) ------------------------------------------------


@dataclass(frozen=True)
class Request(Event):
    """The client's opening handshake.

    A client sends it (``extensions`` holds the ``PerMessageDeflate`` to offer); a
    server receives it (``extensions`` holds the raw offers, one string each, and
    ``headers`` every header field of the request).
    """

    host: str
    target: str = "/"
    subprotocols: Tuple[str, ...] = ()
    extensions: Tuple[Union[PerMessageDeflate, str], ...] = ()
    origin: Optional[str] = None
    extra_headers: Headers = ()
    headers: Headers = ()


@dataclass(frozen=True)
class HttpRequest(Event):
    """A plain HTTP request (no ``Upgrade: websocket``) to a server that accepts them
    (``ServerConnection(plain_http=True)``): answer it with ``send(RejectConnection(
    status, headers, body))``, any status from 200, and the connection closes."""

    method: str
    target: str
    headers: Headers = ()


@dataclass(frozen=True)
class AcceptConnection(Event):
    """The server accepted the handshake (101 Switching Protocols).

    A server sends it: ``subprotocol`` must be one the client offered, and a
    ``PerMessageDeflate`` in ``extensions`` is negotiated against the client's offers.
    A client receives it, with the subprotocol and extensions agreed and the
    response's header fields.
    """

    subprotocol: Optional[str] = None
    extensions: Tuple[PerMessageDeflate, ...] = ()
    extra_headers: Headers = ()
    headers: Headers = ()


@dataclass(frozen=True)
class RejectConnection(Event):
    """The server refused the handshake with an HTTP response other than 101."""

    status_code: int = 400
    headers: Headers = ()
    body: bytes = b""


@dataclass(frozen=True)
class HandshakeFailed(Event):
    """The opening handshake broke RFC 6455: a server answered it with
    ``status_code`` (already in ``data_to_send()``); a client gives up (None)."""

    reason: str
    status_code: Optional[int] = None


# -- data and control frames (RFC 6455 §5.6, §5.5) ---------------------------------


@dataclass(frozen=True)
class Message(Event):
    """A data message, or with ``stream_messages=True`` a piece of one
    (``message_finished`` is False on every piece but the last)."""

    data: Union[str, bytes]
    message_finished: bool = True


@dataclass(frozen=True)
class TextMessage(Message):
    data: str


@dataclass(frozen=True)
class BinaryMessage(Message):
    data: bytes


@dataclass(frozen=True)
class Ping(Event):
    payload: bytes = b""


@dataclass(frozen=True)
class Pong(Event):
    payload: bytes = b""


# -- closing (RFC 6455 §7) ---------------------------------------------------------


@dataclass(frozen=True)
class CloseConnection(Event):
    """A close frame: received from the peer, or sent by the application.

    Received, ``code`` is 1005 for a close frame without a status and 1006 when the
    transport ended without any close frame.
    """

    code: int = 1000
    reason: str = ""


@dataclass(frozen=True)
class ConnectionFailed(Event):
    """This side failed the connection (RFC 6455 §7.1.7) and sent a close frame
    with ``code``; ``reason`` says why, with details that are not sent to the peer."""

    code: int
    reason: str
