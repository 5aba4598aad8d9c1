"""The protocol's API for I/O layers: whole messages in one call, messages handed to
a callback, pieces of fragmented messages, a failure held until the application has
answered what came before it, frames prepared once for many connections, plain HTTP
requests on a WebSocket port."""

from __future__ import annotations

import zlib
from typing import Any, List, Tuple

import pytest
from protocol_helpers import REQUEST, feed, masked, open_server, pair

from fastws.protocol import (
    LARGE_MESSAGE,
    BinaryMessage,
    ConnectionFailed,
    ConnectionState,
    HttpRequest,
    InvalidState,
    PerMessageDeflate,
    Pong,
    PreparedMessage,
    RejectConnection,
    TextMessage,
    load_implementation,
)

#: A masked frame with the reserved opcode 3: a protocol error (RFC 6455 §5.2).
RESERVED = b"\x83\x80abcd"


def frames_of(impl: Any, wire: bytes, role: str = "client") -> List[Any]:
    return list(impl.FrameParser(role, max_frame_size=None, allow_rsv1=True).feed(wire))


def test_send_message_picks_text_or_binary(impl: Any) -> None:
    client, server = pair(impl)
    for message in ("héllo", b"\x00\xff", bytearray(b"ba"), memoryview(b"mv")):
        server.receive_data(client.send_message(message))
    assert server.events() == [TextMessage("héllo"), BinaryMessage(b"\x00\xff"), BinaryMessage(b"ba"), BinaryMessage(b"mv")]
    (frame,) = frames_of(impl, server.send_message("ok"))
    assert (frame.opcode, frame.payload, frame.fin) == (1, b"ok", True)


def test_send_message_parts_leave_a_large_server_message_uncopied(impl: Any) -> None:
    client, server = pair(impl)
    body = bytes(range(256)) * (LARGE_MESSAGE // 256 + 1)
    head, out = server.send_message_parts(body)
    assert out is body
    client.receive_data(head + out)
    assert client.events() == [BinaryMessage(body)]
    text = "é" * LARGE_MESSAGE
    head, out = server.send_message_parts(text)
    assert out == text.encode()
    client.receive_data(head + out)
    assert client.events() == [TextMessage(text)]
    server.receive_data(client.send_ping(b"p"))  # what the server queued goes first
    head, out = server.send_message_parts(bytearray(body))
    assert type(out) is bytes and out == body  # a mutable buffer is copied once
    client.receive_data(head + out)
    assert client.events() == [Pong(b"p"), BinaryMessage(body)]


@pytest.mark.parametrize("deflate", [None, PerMessageDeflate()])
def test_send_message_parts_give_one_frame_where_the_message_is_copied_anyway(impl: Any, deflate: Any) -> None:
    client, server = pair(impl, deflate)
    small, large = b"s" * (LARGE_MESSAGE - 1), b"l" * LARGE_MESSAGE
    head, out = server.send_message_parts(small)
    assert out == b""
    client.receive_data(head)
    assert client.events() == [BinaryMessage(small)]
    head, out = client.send_message_parts(large)  # masked: the payload is copied into the frame
    assert out == b""
    server.receive_data(head)
    assert server.events() == [BinaryMessage(large)]
    head, out = server.send_message_parts(large)
    assert (out == b"") is (deflate is not None)  # compressed: a new payload in one frame
    client.receive_data(head + out)
    assert client.events() == [BinaryMessage(large)]


def test_send_message_parts_keep_the_rules_of_sending(impl: Any) -> None:
    client, server = pair(impl)
    server.send_text("a", fin=False)
    with pytest.raises(InvalidState):
        server.send_message_parts(b"b" * LARGE_MESSAGE)  # inside a fragmented text message
    server.send_text("", fin=True)
    server.close()
    with pytest.raises(InvalidState):
        server.send_message_parts(b"b" * LARGE_MESSAGE)


def test_partial_frame_bytes_count_what_arrived_of_an_unfinished_frame(impl: Any) -> None:
    server = open_server(impl)
    assert server.partial_frame_bytes == 0
    wire = masked(impl, 2, bytes(1000)) + masked(impl, 9, b"ping")
    server.receive_data(wire[:5])  # part of the header
    assert server.partial_frame_bytes == 5
    server.receive_data(wire[5:600])  # the header (8 bytes with the key) and 592 payload bytes
    assert server.partial_frame_bytes == 600
    server.receive_data(wire[600:1010])  # the frame ends, the ping's first 2 bytes follow
    assert server.partial_frame_bytes == 2
    assert [type(event).__name__ for event in server.events()] == ["BinaryMessage"]
    server.receive_data(wire[1010:])
    assert server.partial_frame_bytes == 0
    server.close()
    server.receive_data(masked(impl, 8, b""))
    assert server.state is ConnectionState.CLOSED and server.partial_frame_bytes == 0


def test_role_and_sending_fragments(impl: Any) -> None:
    client, server = pair(impl)
    assert (client.role, server.role) == ("client", "server")
    assert not client.sending_fragments
    client.send_text("a", fin=False)
    assert client.sending_fragments
    with pytest.raises(InvalidState):
        client.send_message(b"other")
    client.send_text("b", fin=True)
    assert not client.sending_fragments


@pytest.mark.parametrize("step", [None, 1])
def test_on_message_gets_messages_instead_of_events(impl: Any, step: Any) -> None:
    got: List[Tuple[Any, bool]] = []
    server = open_server(impl, on_message=lambda data, finished: got.append((data, finished)))
    wire = masked(impl, 1, "déjà".encode()) + masked(impl, 2, b"a", fin=False) + masked(impl, 0, b"b") + masked(impl, 9, b"p")
    events = feed(server, wire, step)
    assert got == [("déjà", True), (b"ab", True)]
    assert [type(event).__name__ for event in events] == ["Ping"]


def test_stream_messages_give_pieces_and_join_runs(impl: Any) -> None:
    # 1 + 200 + 1 fragments arriving together: the 200 middle ones come out as one
    # piece, and a character split between fragments is decoded whole.
    server = open_server(impl, stream_messages=True, max_fragments=None)
    text = "é" * 201
    data = text.encode()
    wire = masked(impl, 1, data[:1], fin=False)
    wire += b"".join(masked(impl, 0, data[i : i + 2], fin=False) for i in range(1, 401, 2))
    wire += masked(impl, 0, data[401:])
    events = feed(server, wire)
    assert [event.message_finished for event in events] == [False, False, True]
    assert "".join(event.data for event in events) == text
    assert events[0].data == ""  # half a character so far


def test_invalid_utf8_split_across_fragments_fails_in_stream_mode(impl: Any) -> None:
    server = open_server(impl, stream_messages=True)
    events = feed(server, masked(impl, 1, b"ok", fin=False) + masked(impl, 0, b"\xed", fin=False) + masked(impl, 0, b"\xa0\x80"))
    assert events[-1].code == 1007, events


def test_hold_failure_lets_the_application_answer_first(impl: Any) -> None:
    server = open_server(impl, hold_failure=True)
    events = feed(server, masked(impl, 1, b"first") + RESERVED)
    assert events[0] == TextMessage("first") and isinstance(events[1], ConnectionFailed) and events[1].code == 1002
    assert server.failing and server.state is ConnectionState.OPEN and not server.should_close_transport
    server.receive_data(masked(impl, 1, b"ignored"))
    assert server.events() == []  # input ends at the failure
    answer = server.send_message("first")
    close = server.fail()
    assert [(frame.opcode, frame.payload) for frame in frames_of(impl, answer + close)] == [
        (1, b"first"),
        (8, impl.encode_close(1002, "protocol error")),
    ]
    assert not server.failing and server.state is ConnectionState.CLOSED and server.should_close_transport
    assert server.fail() == b""


def test_without_hold_failure_the_close_goes_out_at_once(impl: Any) -> None:
    server = open_server(impl)
    feed(server, RESERVED)
    assert not server.failing and server.state is ConnectionState.CLOSED
    (close,) = frames_of(impl, server.data_to_send())
    assert impl.parse_close(close.payload) == (1002, "protocol error")


def test_eof_drops_a_held_failure(impl: Any) -> None:
    server = open_server(impl, hold_failure=True)
    feed(server, RESERVED)
    server.receive_eof()
    assert not server.failing and server.state is ConnectionState.CLOSED


def test_prepared_message_shares_one_frame_between_servers(impl: Any) -> None:
    prepared = PreparedMessage("to everyone")
    servers = [pair(impl)[1] for _ in range(3)]
    frames = [server.send_prepared(prepared) for server in servers]
    assert frames[0] is frames[1] is frames[2]
    assert frames[0] == impl.encode_frame(1, b"to everyone")
    assert prepared.frames_made == 1


def test_prepared_message_shares_a_compressed_frame_where_settings_allow(impl: Any) -> None:
    alone = PerMessageDeflate(server_no_context_takeover=True, compression_level=1)
    pairs = [pair(impl, alone) for _ in range(2)] + [pair(impl, PerMessageDeflate(compression_level=1))]
    prepared = PreparedMessage(b"abc" * 1000)
    wires = [server.send_prepared(prepared) for _, server in pairs]
    assert wires[0] is wires[1]  # compressed once for both
    (shared,) = frames_of(impl, wires[0])
    (plain,) = frames_of(impl, wires[2])
    assert shared.rsv1 and len(shared.payload) < 100
    assert not plain.rsv1 and plain.payload == b"abc" * 1000  # context takeover: sent uncompressed
    assert zlib.decompressobj(-15).decompress(shared.payload + b"\x00\x00\xff\xff") == b"abc" * 1000
    for (client, _), wire in zip(pairs, wires):
        client.receive_data(wire)
        assert client.events() == [BinaryMessage(b"abc" * 1000)]
    assert prepared.frames_made == 2


def test_prepared_message_from_clients_is_masked_per_frame(impl: Any) -> None:
    prepared = PreparedMessage(b"up")
    (client_a, server_a), (client_b, server_b) = pair(impl), pair(impl)
    wire_a, wire_b = client_a.send_prepared(prepared), client_b.send_prepared(prepared)
    assert wire_a[2:6] != wire_b[2:6]  # fresh masking keys
    server_a.receive_data(wire_a)
    server_b.receive_data(wire_b)
    assert server_a.events() == server_b.events() == [BinaryMessage(b"up")]


def test_send_prepared_needs_an_open_connection_between_messages(impl: Any) -> None:
    client, server = pair(impl)
    server.send_text("a", fin=False)
    with pytest.raises(InvalidState):
        server.send_prepared(PreparedMessage("b"))
    server.close()
    with pytest.raises(InvalidState):
        server.send_prepared(PreparedMessage("b"))


def test_plain_http_requests_come_out_as_events(impl: Any) -> None:
    server = load_implementation(impl).ServerConnection(plain_http=True)
    (request,) = feed(server, b"GET /health?full=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")
    assert request == HttpRequest("GET", "/health?full=1", (("Host", "x"), ("Accept", "*/*")))
    response = server.send(RejectConnection(200, (("Content-Type", "text/plain"),), b"ok"))
    assert response.startswith(b"HTTP/1.1 200 OK\r\n") and response.endswith(b"\r\n\r\nok")
    assert server.should_close_transport


def test_plain_http_head_answers_without_a_body(impl: Any) -> None:
    server = load_implementation(impl).ServerConnection(plain_http=True)
    feed(server, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    response = server.send(RejectConnection(200, (), b"a body"))
    assert response.endswith(b"\r\n\r\n") and b"a body" not in response


def test_plain_http_cannot_be_accepted_and_upgrades_still_work(impl: Any) -> None:
    from fastws.protocol import AcceptConnection, Request

    server = load_implementation(impl).ServerConnection(plain_http=True)
    feed(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(InvalidState):
        server.send(AcceptConnection())
    server = load_implementation(impl).ServerConnection(plain_http=True)
    (request,) = feed(server, REQUEST)
    assert isinstance(request, Request)


def test_without_plain_http_a_plain_request_gets_400(impl: Any) -> None:
    server = load_implementation(impl).ServerConnection()
    (failed,) = feed(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert failed.status_code == 400 and server.data_to_send().startswith(b"HTTP/1.1 400 Bad Request")


def test_load_implementation_names_both(impl: Any) -> None:
    module = load_implementation(impl)
    assert load_implementation(module.core) is module
    assert module.ServerConnection().implementation is impl
    assert module.COMPILED is impl.__name__.endswith("_speedups")  # the Cython core goes with the compiled protocol


def test_a_ping_flood_queues_a_bounded_number_of_pongs(impl: Any) -> None:
    server = open_server(impl)
    wire = b"".join(masked(impl, 9, str(n).encode()) for n in range(1000))
    events = feed(server, wire)
    assert len(events) == 1000  # each ping is still reported
    pongs = frames_of(impl, server.data_to_send())
    # One each for the first 15, then one shared by the rest: the latest (RFC 6455 §5.5.3).
    assert [pong.payload for pong in pongs] == [str(n).encode() for n in range(15)] + [b"999"]


def test_a_few_pings_get_a_pong_each(impl: Any) -> None:
    client, server = pair(impl)
    feed(server, client.send_ping(b"a"))
    first = server.data_to_send()
    feed(server, client.send_ping(b"b") + client.send_text("between") + client.send_ping(b"c"))
    answer = server.send_message("reply")  # a send takes the queued pong with it
    assert [(f.opcode, f.payload) for f in frames_of(impl, first + answer)] == [(10, b"a"), (10, b"b"), (10, b"c"), (1, b"reply")]


def test_report_pings_off_keeps_pings_out_of_the_events(impl: Any) -> None:
    client, server = pair(impl, report_pings=False)
    assert feed(server, client.send_ping(b"x") + client.send_text("t")) == [TextMessage("t")]
    (pong,) = frames_of(impl, server.data_to_send())
    assert pong.payload == b"x"


@pytest.mark.parametrize(
    "head", [b"GET\r\nHost: x\r\n\r\n", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nbad header\r\n\r\n"]
)
def test_plain_http_refuses_a_malformed_request_with_400(impl: Any, head: bytes) -> None:
    server = load_implementation(impl).ServerConnection(plain_http=True)
    (failed,) = feed(server, head)
    assert type(failed).__name__ == "HandshakeFailed" and failed.status_code == 400
    assert server.data_to_send().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert server.should_close_transport
