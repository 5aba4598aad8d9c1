"""fastws.protocol._handshake: the opening handshake in both roles (RFC 6455 §4)."""

from __future__ import annotations

import base64

import pytest
from protocol_helpers import REQUEST, feed

from fastws.protocol import (
    AcceptConnection,
    ConnectionState,
    HandshakeFailed,
    InvalidState,
    RejectConnection,
    Request,
    load_implementation,
)
from fastws.protocol._handshake import accept_key, make_key


def test_rfc_accept_key_example():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3


def test_keys_are_fresh_16_random_bytes():
    keys = {make_key() for _ in range(100)}
    assert len(keys) == 100 and all(len(base64.b64decode(key)) == 16 for key in keys)


def test_client_request_and_server_event(impl):
    client = load_implementation(impl).ClientConnection()
    request = Request(
        host="example.com:8080",
        target="/chat?x=1",
        subprotocols=("v2", "v1"),
        origin="https://example.com",
        extra_headers=(("Authorization", "Bearer t"),),
    )
    wire = client.send(request)
    lines = wire.decode().split("\r\n")
    assert lines[0] == "GET /chat?x=1 HTTP/1.1" and wire.endswith(b"\r\n\r\n")
    for line in (
        "Host: example.com:8080",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Origin: https://example.com",
        "Sec-WebSocket-Protocol: v2, v1",
        "Authorization: Bearer t",
    ):
        assert line in lines
    server = load_implementation(impl).ServerConnection()
    (received,) = feed(server, wire, 3)
    assert (received.host, received.target, received.subprotocols, received.origin) == (
        "example.com:8080",
        "/chat?x=1",
        ("v2", "v1"),
        "https://example.com",
    )
    response = server.send(AcceptConnection(subprotocol="v1", extra_headers=(("X-Server", "fastws"),)))
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") and b"X-Server: fastws\r\n" in response
    (accepted,) = feed(client, response, 1)
    assert accepted.subprotocol == "v1" and client.subprotocol == "v1" == server.subprotocol
    assert client.state is server.state is ConnectionState.OPEN
    with pytest.raises(InvalidState):
        server.send(AcceptConnection())


def test_server_rejects_an_unoffered_subprotocol(impl):
    server = load_implementation(impl).ServerConnection()
    server.receive_data(REQUEST)
    with pytest.raises(ValueError):
        server.send(AcceptConnection(subprotocol="nope"))


def test_application_rejection(impl):
    client = load_implementation(impl).ClientConnection()
    server = load_implementation(impl).ServerConnection()
    server.receive_data(client.send(Request(host="h", origin="https://evil.example")))
    (request,) = server.events()
    assert request.origin == "https://evil.example"
    wire = server.send(RejectConnection(403, (("Content-Type", "text/plain"),), b"go away"))
    assert wire.startswith(b"HTTP/1.1 403 Forbidden\r\n") and wire.endswith(b"\r\n\r\ngo away")
    assert server.state is ConnectionState.CLOSED and server.should_close_transport
    assert feed(client, wire, 4) == [
        RejectConnection(403, (("Content-Type", "text/plain"), ("Content-Length", "7"), ("Connection", "close")), b"go away")
    ]
    assert client.should_close_transport


def test_rejection_body_until_eof(impl):
    client = load_implementation(impl).ClientConnection()
    client.send(Request(host="h"))
    assert feed(client, b"HTTP/1.1 500 Internal Server Error\r\n\r\noops") == []
    client.receive_eof()
    assert client.events() == [RejectConnection(500, (), b"oops")]


def test_eof_during_the_handshake(impl):
    server = load_implementation(impl).ServerConnection()
    server.receive_data(REQUEST[:10])
    server.receive_eof()
    (failed,) = server.events()
    assert isinstance(failed, HandshakeFailed) and server.should_close_transport


def test_426_names_the_version(impl):
    server = load_implementation(impl).ServerConnection()
    server.receive_data(REQUEST.replace(b"Version: 13", b"Version: 8"))
    (failed,) = server.events()
    assert failed.status_code == 426
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in server.data_to_send()


# -- malformed requests: the exact answer for each -------------------------------


def _without(name: bytes) -> bytes:
    return b"\r\n".join(line for line in REQUEST.split(b"\r\n") if not line.startswith(name))


def _plus(line: bytes) -> bytes:
    return REQUEST[:-2] + line + b"\r\n\r\n"


BAD_REQUESTS = [
    ("POST", REQUEST.replace(b"GET", b"POST"), 405),
    ("HTTP/1.0", REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0"), 505),
    ("garbage request line", b"HELLO\r\n\r\n", 400),
    ("request line with extra space", REQUEST.replace(b"GET /chat", b"GET  /chat"), 400),
    ("no Host", _without(b"Host"), 400),
    ("two Hosts", _plus(b"Host: other"), 400),
    ("no Upgrade", _without(b"Upgrade"), 400),
    ("Upgrade: h2c", REQUEST.replace(b"Upgrade: websocket", b"Upgrade: h2c"), 400),
    ("no Connection", _without(b"Connection"), 400),
    ("Connection: keep-alive", REQUEST.replace(b"Connection: Upgrade", b"Connection: keep-alive"), 400),
    ("no key", _without(b"Sec-WebSocket-Key"), 400),
    ("two keys", _plus(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), 400),
    ("key of 15 bytes", REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", base64.b64encode(b"x" * 15)), 400),
    ("key not base64", REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhlIHNhbXBsZSBub25j!Q=="), 400),
    ("no version", _without(b"Sec-WebSocket-Version"), 426),
    ("version 8", REQUEST.replace(b"Version: 13", b"Version: 8"), 426),
    ("two versions", _plus(b"Sec-WebSocket-Version: 13"), 426),
    ("a body", _plus(b"Content-Length: 5"), 400),
    ("chunked", _plus(b"Transfer-Encoding: chunked"), 400),
    ("space before colon", _plus(b"X-Bad : 1"), 400),
    ("obs-fold", _plus(b"X-A: 1\r\n  folded"), 400),
    ("no colon", _plus(b"X-Bad"), 400),
    ("NUL in a value", _plus(b"X-Bad: a\x00b"), 400),
    ("bare LF in a value", _plus(b"X-Bad: a\nb"), 400),
    ("bad subprotocol token", _plus(b"Sec-WebSocket-Protocol: a b"), 400),
    ("bad extension header", _plus(b"Sec-WebSocket-Extensions: permessage-deflate; =x"), 400),
    ("two Origins", _plus(b"Origin: a\r\nOrigin: b"), 400),
    ("too many headers", _plus(b"\r\n".join(b"X-%d: 1" % i for i in range(200))), 431),
    ("head too large", _plus(b"X-Big: " + b"a" * 20000), 431),
    ("no end of head, too large", b"GET / HTTP/1.1\r\nX: " + b"a" * 20000, 431),
]


@pytest.mark.parametrize("name, wire, status", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_malformed_requests(impl, name, wire, status):
    server = load_implementation(impl).ServerConnection()
    (failed,) = feed(server, wire)
    assert isinstance(failed, HandshakeFailed) and failed.status_code == status
    response = server.data_to_send()
    assert response.startswith(b"HTTP/1.1 %d " % status)
    assert server.state is ConnectionState.CLOSED and server.should_close_transport
    server.receive_data(REQUEST)  # nothing more happens
    assert server.events() == [] and server.data_to_send() == b""


def test_accepted_variants(impl):
    variants = [
        REQUEST.replace(b"Upgrade: websocket", b"Upgrade: WebSocket"),
        REQUEST.replace(b"Connection: Upgrade", b"Connection: keep-alive, upgrade"),
        REQUEST.replace(b"Host:", b"host:").replace(b"Sec-WebSocket-Key", b"sec-websocket-key"),
        _plus(b"Content-Length: 0"),
    ]
    for wire in variants:
        server = load_implementation(impl).ServerConnection()
        (request,) = feed(server, wire, 5)
        assert isinstance(request, Request)


def test_limits_are_configurable(impl):
    server = load_implementation(impl).ServerConnection(max_headers=3)
    (failed,) = feed(server, REQUEST)
    assert failed.status_code == 431


def test_too_much_data_before_the_answer(impl):
    server = load_implementation(impl).ServerConnection(max_head_size=1000)
    server.receive_data(REQUEST)
    server.receive_data(b"x" * 1001)
    assert [type(e).__name__ for e in server.events()] == ["Request", "HandshakeFailed"]


# -- malformed responses: the client gives up ------------------------------------


def _response(key: str, *extra: bytes, accept=None, status=b"101 Switching Protocols") -> bytes:
    lines = [
        b"HTTP/1.1 " + status,
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + (accept or accept_key(key)).encode(),
        *extra,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


BAD_RESPONSES = [
    ("wrong accept", dict(accept="s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")),
    ("no upgrade", dict(drop=b"Upgrade:")),
    ("no connection", dict(drop=b"Connection:")),
    ("unoffered subprotocol", dict(extra=b"Sec-WebSocket-Protocol: other")),
    ("unoffered extension", dict(extra=b"Sec-WebSocket-Extensions: x-custom")),
    ("deflate not offered", dict(extra=b"Sec-WebSocket-Extensions: permessage-deflate")),
    ("bad status line", dict(status=b"101Switching")),
    ("malformed header", dict(extra=b"X-Bad : 1")),
]


@pytest.mark.parametrize("name, change", BAD_RESPONSES, ids=[case[0] for case in BAD_RESPONSES])
def test_malformed_responses(impl, name, change):
    client = load_implementation(impl).ClientConnection()
    wire = client.send(Request(host="h", subprotocols=("chat",)))
    key = [line.split(b": ")[1] for line in wire.split(b"\r\n") if line.startswith(b"Sec-WebSocket-Key")][0].decode()
    extra = (change["extra"],) if "extra" in change else ()
    response = _response(key, *extra, accept=change.get("accept"), status=change.get("status", b"101 Switching Protocols"))
    if "drop" in change:
        response = b"\r\n".join(line for line in response.split(b"\r\n") if not line.startswith(change["drop"]))
    (failed,) = feed(client, response)
    assert isinstance(failed, HandshakeFailed) and failed.status_code is None
    assert client.state is ConnectionState.CLOSED and client.should_close_transport


def test_client_must_send_the_request_first(impl):
    client = load_implementation(impl).ClientConnection()
    with pytest.raises(InvalidState):
        client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    with pytest.raises(TypeError):
        client.send(AcceptConnection())
    server = load_implementation(impl).ServerConnection()
    with pytest.raises(InvalidState):
        server.send(AcceptConnection())
    with pytest.raises(ValueError):
        client.send(Request(host="h", extra_headers=(("X-Bad", "a\r\nInjected: 1"),)))


def test_reject_needs_an_error_status(impl):
    server = load_implementation(impl).ServerConnection()
    server.receive_data(REQUEST)
    with pytest.raises(ValueError):
        server.send(RejectConnection(101))
