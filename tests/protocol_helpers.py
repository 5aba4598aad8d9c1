"""Helpers for the tests of fastws.protocol: connected pairs, hand-made frames."""

from __future__ import annotations

import os
from typing import Any, List, Optional, Tuple

from fastws.protocol import (
    AcceptConnection,
    ClientConnection,
    ConnectionFailed,
    PerMessageDeflate,
    Request,
    ServerConnection,
    load_implementation,
)

REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)


def pair(
    impl: Any,
    deflate: Optional[PerMessageDeflate] = None,
    server_deflate: Any = "same",
    **options: Any,
) -> Tuple[ClientConnection, ServerConnection]:
    """A client and a server that completed the handshake in memory; the server
    accepts ``server_deflate`` (by default the same settings as the client offers)."""
    if server_deflate == "same":
        server_deflate = deflate
    client = load_implementation(impl).ClientConnection(**options)
    server = load_implementation(impl).ServerConnection(**options)
    server.receive_data(client.send(Request(host="localhost", extensions=(deflate,) if deflate else ())))
    (request,) = server.events()
    accept = AcceptConnection(extensions=(server_deflate,) if server_deflate else ())
    client.receive_data(server.send(accept))
    (accepted,) = client.events()
    assert isinstance(accepted, AcceptConnection), accepted
    return client, server


def open_server(impl: Any, deflate: Optional[PerMessageDeflate] = None, **options: Any) -> ServerConnection:
    """A server past the handshake with a hand-written client (for hand-made frames)."""
    server = load_implementation(impl).ServerConnection(**options)
    request = REQUEST
    if deflate is not None:
        request = request[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    server.receive_data(request)
    server.events()
    server.send(AcceptConnection(extensions=(deflate,) if deflate else ()))
    return server


def masked(impl: Any, opcode: int, payload: bytes = b"", fin: bool = True, rsv1: bool = False) -> bytes:
    """A frame as a client sends it."""
    return impl.encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=os.urandom(4))


def feed(connection: Any, wire: bytes, step: Optional[int] = None) -> List[Any]:
    """Feeds ``wire`` whole or ``step`` bytes at a time; returns the events."""
    if step is None:
        connection.receive_data(wire)
    else:
        for start in range(0, len(wire), step):
            connection.receive_data(wire[start : start + step])
    return connection.events()


def failure_code(events: List[Any]) -> Optional[int]:
    failures = [event for event in events if isinstance(event, ConnectionFailed)]
    assert len(failures) <= 1
    return failures[0].code if failures else None
