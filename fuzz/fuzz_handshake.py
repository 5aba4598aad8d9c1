"""The opening handshake's parsers: the HTTP head, the request and response checks,
and both connections fed an arbitrary handshake in random chunks.

Only ``HandshakeError`` may escape the parsers; a connection's ``receive_data``
raises nothing at all on what the peer sends: it reports events.

Input: byte 0 = settings (bit 0: as a request to a server, else as a response to a
client; bits 1-2 limits), bytes 1-2 = chunking seed, rest = the head.
"""

from __future__ import annotations

from _common import CY, cut, run

from fastws.protocol import (
    AcceptConnection,
    HandshakeError,
    HandshakeFailed,
    PerMessageDeflate,
    RejectConnection,
    Request,
    _handshake,
    _http,
    load_implementation,
)

OFFER = Request(host="example.com", subprotocols=("chat", "v2"), extensions=(PerMessageDeflate(),))
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
SIZES = ((16384, 128), (64, 4), (300, 8), (4096, 1000))

# The client's key is random; a fixed one lets the corpus hold 101 responses that
# match it (Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=).
_handshake.make_key = lambda: KEY


def parsers(head_bytes: bytes, max_size: int, max_headers: int) -> None:
    buffer = bytearray(head_bytes)
    try:
        head = _http.parse_head(buffer, max_size=max_size, max_headers=max_headers)
    except HandshakeError as error:
        assert 400 <= error.status_code < 600
        return
    if head is None:
        assert len(buffer) < max_size and b"\r\n\r\n" not in buffer[:max_size]
        return
    assert head[2] <= len(buffer) and len(head[1]) <= max_headers
    for check in (
        lambda: _handshake.check_request(head),
        lambda: _handshake.check_response(head, KEY, OFFER),
        lambda: _handshake.response_status(head),
    ):
        try:
            check()
        except HandshakeError as error:
            assert 400 <= error.status_code < 600


def server(chunks: list, max_size: int, max_headers: int) -> None:
    connection = load_implementation(CY).ServerConnection(max_head_size=max_size, max_headers=max_headers)
    for chunk in chunks:
        connection.receive_data(chunk)
    events = connection.events()
    for event in events:
        assert isinstance(event, (Request, HandshakeFailed)), event
    if events and isinstance(events[0], Request) and connection.state.name == "CONNECTING":
        try:
            connection.send(AcceptConnection(extensions=(PerMessageDeflate(),)))
        except ValueError:
            pass  # documented: an answer the request cannot take
        connection.events()
    connection.receive_eof()
    connection.events()


def client(chunks: list, max_size: int, max_headers: int) -> None:
    connection = load_implementation(CY).ClientConnection(max_head_size=max_size, max_headers=max_headers)
    connection.send(OFFER)
    for chunk in chunks:
        connection.receive_data(chunk)
    connection.receive_eof()
    for event in connection.events():
        assert not isinstance(event, Request), event
        if isinstance(event, RejectConnection):
            assert 0 <= event.status_code <= 999


def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    settings, seed, head = data[0], int.from_bytes(data[1:3], "little"), data[3:]
    max_size, max_headers = SIZES[(settings >> 1) & 3]
    parsers(head, max_size, max_headers)
    chunks = cut(head, seed)
    if settings & 1:
        server(chunks, max_size, max_headers)
    else:
        client(chunks, max_size, max_headers)


if __name__ == "__main__":
    run(test_one_input)
