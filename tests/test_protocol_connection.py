"""fastws.protocol._connection: messages, control frames, failures and closing."""

from __future__ import annotations

import zlib

import pytest
from protocol_helpers import failure_code, feed, masked, open_server, pair

from fastws import Opcode
from fastws.protocol import (
    AcceptConnection,
    BinaryMessage,
    CloseConnection,
    ConnectionFailed,
    ConnectionState,
    InvalidState,
    PerMessageDeflate,
    Ping,
    Pong,
    Request,
    TextMessage,
    load_implementation,
)

KEY = b"\x01\x02\x03\x04"


def raw(first: int, payload: bytes = b"", mask: bool = True, length=None) -> bytes:
    """A hand-made frame (for what encode_frame refuses to write)."""
    length = len(payload) if length is None else length
    head = bytes((first, (0x80 if mask else 0) | length))
    if not mask:
        return head + payload
    return head + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))


def sent_frames(impl, connection, role="client"):
    """The frames a connection queued, as the peer parses them."""
    return impl.FrameParser(role, max_frame_size=None, allow_rsv1=True).feed(connection.data_to_send())


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


# -- messages ---------------------------------------------------------------------


@pytest.mark.parametrize("step", [None, 1, 7])
@pytest.mark.parametrize("deflate", [None, PerMessageDeflate()])
def test_messages_both_ways(impl, step, deflate):
    client, server = pair(impl, deflate)
    wire = client.send_text("héllo") + client.send_binary(b"\x00" * 300) + client.send_text("")
    assert feed(server, wire, step) == [TextMessage("héllo"), BinaryMessage(b"\x00" * 300), TextMessage("")]
    wire = server.send_binary(b"x" * 70000) + server.send(TextMessage("ok"))
    assert feed(client, wire, step) == [BinaryMessage(b"x" * 70000), TextMessage("ok")]


@pytest.mark.parametrize("step", [None, 1, 5])
@pytest.mark.parametrize("deflate", [None, PerMessageDeflate()])
def test_fragmented_with_interleaved_control_frames(impl, step, deflate):
    client, server = pair(impl, deflate)
    wire = client.send_text("déj", fin=False) + client.send_ping(b"p1") + client.send_text("à ", fin=False)
    wire += client.send_pong(b"unsolicited") + client.send_text("vu") + client.send(BinaryMessage(b"ab", message_finished=False))
    wire += client.send_binary(b"cd")
    assert feed(server, wire, step) == [Ping(b"p1"), Pong(b"unsolicited"), TextMessage("déjà vu"), BinaryMessage(b"abcd")]
    (pong,) = sent_frames(impl, server)
    assert (pong.opcode, pong.payload) == (Opcode.PONG, b"p1")


def test_text_split_inside_a_character_across_frames(impl):
    client, server = pair(impl)
    data = "€".encode()
    wire = impl.encode_frame(Opcode.TEXT, data[:1], fin=False, mask=KEY)
    wire += impl.encode_frame(Opcode.CONTINUATION, data[1:], mask=KEY)
    assert feed(server, wire, 1) == [TextMessage("€")]


def test_streamed_messages(impl):
    client, server = pair(impl, stream_messages=True)
    wire = impl.encode_frame(Opcode.TEXT, "€".encode()[:2], fin=False, mask=KEY)
    wire += impl.encode_frame(Opcode.CONTINUATION, "€".encode()[2:] + b"!", mask=KEY)
    wire += client.send_binary(b"ab", fin=False) + client.send_binary(b"c") + client.send_binary(b"whole")
    assert feed(server, wire) == [
        TextMessage("", False),
        TextMessage("€!", True),
        BinaryMessage(b"ab", False),
        BinaryMessage(b"c", True),
        BinaryMessage(b"whole", True),
    ]


def test_client_masks_every_frame_with_a_fresh_key_and_server_never(impl):
    client, server = pair(impl)
    wire = b"".join(client.send_binary(b"x") for _ in range(600))
    keys = set()
    position = 0
    while position < len(wire):
        header = impl.parse_header(wire, position)
        assert header.masked
        keys.add(header.mask)
        position += header.header_length + header.payload_length
    assert len(keys) > 590  # random 32-bit keys: a handful of collisions at most
    assert impl.parse_header(server.send_binary(b"x")).masked is False
    assert feed(server, wire) == [BinaryMessage(b"x")] * 600


def test_send_rules(impl):
    client, server = pair(impl)
    with pytest.raises(ValueError):
        client.send_ping(b"x" * 126)
    with pytest.raises(ValueError):
        client.send_text(b"\xff")
    client.send_text("a", fin=False)
    with pytest.raises(InvalidState):
        client.send_binary(b"b")
    client.send_ping()  # control frames go between fragments
    client.send_text("b")
    client.send_binary(b"ok")
    with pytest.raises(TypeError):
        client.send(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidState):
        client.send(Request(host="x"))  # only before the handshake
    fresh = load_implementation(impl).ClientConnection()
    with pytest.raises(InvalidState):
        fresh.send_text("not yet")


def test_auto_pong_can_be_turned_off(impl):
    client, server = pair(impl, auto_pong=False)
    assert feed(server, client.send_ping(b"x")) == [Ping(b"x")]
    assert server.data_to_send() == b""
    assert server.send_pong(b"x") == impl.encode_frame(Opcode.PONG, b"x")


def test_frames_sent_before_the_servers_answer_are_kept(impl):
    client = load_implementation(impl).ClientConnection()
    server = load_implementation(impl).ServerConnection()
    wire = client.send(Request(host="h"))
    early = masked(impl, Opcode.TEXT, b"early") + masked(impl, Opcode.PING, b"p")
    server.receive_data(wire + early)
    (request,) = server.events()
    out = server.send(AcceptConnection())
    assert server.events() == [TextMessage("early"), Ping(b"p")]
    assert out.startswith(b"HTTP/1.1 101") and out.endswith(impl.encode_frame(Opcode.PONG, b"p"))


def test_frames_right_after_the_101_are_delivered(impl):
    client = load_implementation(impl).ClientConnection()
    server = load_implementation(impl).ServerConnection()
    server.receive_data(client.send(Request(host="h")))
    server.events()
    client.receive_data(server.send(AcceptConnection()) + server.send_text("hi"))
    assert [type(e).__name__ for e in client.events()] == ["AcceptConnection", "TextMessage"]


# -- failures: one close code each ------------------------------------------------

BAD_SEQUENCES = [
    # (name, frames a client sends, events before the failure, close code)
    ("invalid utf-8", [("text", b"\xff")], [], 1007),
    ("surrogate", [("text", b"\xed\xa0\x80")], [], 1007),
    ("text ends inside a character", [("text", b"\xe2\x82")], [], 1007),
    ("fragmented text ends inside a character", [("text-", b"a\xe2"), ("cont", b"\x82")], [], 1007),
    ("invalid in a later fragment", [("text-", b"ok"), ("cont-", b"\xc0\xaf"), ("cont", b"")], [], 1007),
    ("continuation without a message", [("cont", b"x")], [], 1002),
    ("text inside a fragmented message", [("text-", b"a"), ("text", b"b")], [], 1002),
    ("binary inside a fragmented message", [("bin-", b"a"), ("bin", b"b")], [], 1002),
    ("reserved opcode 3", [(0x83, b"")], [], 1002),
    ("reserved opcode 11", [(0x8B, b"")], [], 1002),
    ("rsv1 without an extension", [(0xC1, b"a")], [], 1002),
    ("rsv2", [(0xA1, b"a")], [], 1002),
    ("rsv3", [(0x92, b"a")], [], 1002),
    ("unmasked frame to a server", [("unmasked", b"a")], [], 1002),
    ("fragmented ping", [(0x09, b"")], [], 1002),
    ("ping of 126 bytes", [("long-ping", b"")], [], 1002),
    ("close of one byte", [("close", b"\x03")], [], 1002),
    ("close code 1005", [("close", b"\x03\xed")], [], 1002),
    ("close code 999", [("close", b"\x03\xe7")], [], 1002),
    ("close code 1004", [("close", b"\x03\xec")], [], 1002),
    ("close code 1016", [("close", b"\x03\xf8")], [], 1002),
    ("close code 5000", [("close", b"\x13\x88")], [], 1002),
    ("close reason not utf-8", [("close", b"\x03\xe8\xff")], [], 1007),
    ("message over max_message_size", [("bin", b"x" * 101)], [], 1009),
    ("fragments over max_message_size", [("bin-", b"x" * 60), ("cont", b"x" * 41)], [], 1009),
    (
        "frames before the error are delivered",
        [("text", b"a"), ("bin", b"b"), ("ping", b"p"), ("cont", b"")],
        [TextMessage("a"), BinaryMessage(b"b"), Ping(b"p")],
        1002,
    ),
    ("a message before invalid utf-8", [("text", b"fine"), ("text", b"\xf5")], [TextMessage("fine")], 1007),
    ("a message before a parser error", [("bin", b"m"), (0x83, b"")], [BinaryMessage(b"m")], 1002),
]
_KINDS = {
    "text": (Opcode.TEXT, True),
    "text-": (Opcode.TEXT, False),
    "bin": (Opcode.BINARY, True),
    "bin-": (Opcode.BINARY, False),
    "cont": (Opcode.CONTINUATION, True),
    "cont-": (Opcode.CONTINUATION, False),
    "ping": (Opcode.PING, True),
    "close": (Opcode.CLOSE, True),
}


def client_wire(impl, frames):
    wire = b""
    for kind, payload in frames:
        if kind in _KINDS:
            opcode, fin = _KINDS[kind]
            wire += masked(impl, opcode, payload, fin)
        elif kind == "unmasked":
            wire += impl.encode_frame(Opcode.TEXT, payload)
        elif kind == "long-ping":
            wire += raw(0x89, length=126) + b"\x00" * 2
        else:
            wire += raw(kind, payload)
    return wire


@pytest.mark.parametrize("step", [None, 1])
@pytest.mark.parametrize("name, frames, before, code", BAD_SEQUENCES, ids=[case[0] for case in BAD_SEQUENCES])
def test_bad_frame_sequences(impl, name, frames, before, code, step):
    server = open_server(impl, max_message_size=100)
    events = feed(server, client_wire(impl, frames), step)
    assert events[:-1] == before
    assert failure_code(events) == code
    *pongs, close = sent_frames(impl, server)
    assert [pong.opcode for pong in pongs] == [Opcode.PONG] * len([e for e in before if isinstance(e, Ping)])
    assert close.opcode == Opcode.CLOSE and impl.parse_close(close.payload)[0] == code
    assert server.state is ConnectionState.CLOSED and server.should_close_transport
    server.receive_data(masked(impl, Opcode.TEXT, b"ignored"))  # nothing after the failure
    assert server.events() == [] and server.data_to_send() == b""


def test_failure_report_keeps_details_but_the_close_frame_does_not(impl):
    server = open_server(impl)
    (failed,) = feed(server, raw(0x83))
    assert failed.code == 1002 and "opcode" in failed.reason
    (close,) = sent_frames(impl, server)
    assert impl.parse_close(close.payload) == (1002, "protocol error")


@pytest.mark.parametrize("client_side", [False, True])
def test_invalid_utf8_fails_before_the_frame_ends(impl, client_side):
    # Autobahn 6.4.*: the 1007 goes out at the first invalid byte, mid-frame.
    if client_side:
        client, server = pair(impl)
        receiver, head = client, impl.encode_frame(Opcode.TEXT, b"a" * 1000)
    else:
        receiver, head = open_server(impl), masked(impl, Opcode.TEXT, b"a" * 1000)
    header_length = impl.parse_header(head).header_length
    start = head[:header_length]
    payload = head[header_length:]
    assert feed(receiver, start + payload[:10]) == []
    bad = bytes(b ^ 0x3F for b in payload[10:11]) if not client_side else b"\xff"
    if not client_side:  # corrupt one masked byte into 0xff once unmasked
        key = start[-4:]
        bad = bytes([0xFF ^ key[10 % 4]])
    assert failure_code(feed(receiver, bad)) == 1007
    assert receiver.state is ConnectionState.CLOSED


def test_invalid_utf8_in_a_continuation_fails_before_the_frame_ends(impl):
    server = open_server(impl)
    wire = masked(impl, Opcode.TEXT, "κό".encode(), fin=False)
    frame = impl.encode_frame(Opcode.CONTINUATION, b"\xce\xb1" * 100 + b"\xce\x41" + b"z" * 100, mask=b"\x00\x00\x00\x00")
    assert feed(server, wire + frame[: 8 + 150]) == []
    assert failure_code(feed(server, frame[158:210])) == 1007


def test_a_fragment_past_the_limit_fails_from_its_header(impl):
    server = open_server(impl, max_message_size=100)
    wire = masked(impl, Opcode.BINARY, b"x" * 60, fin=False) + masked(impl, Opcode.CONTINUATION, b"y" * 60)
    assert failure_code(feed(server, wire[:-59])) == 1009


def test_the_peer_using_long_length_encodings(impl):
    # RFC 6455 §5.2 wants the shortest encoding; the core accepts longer ones, and
    # the connection must still find where the next, unfinished frame starts.
    client, server = pair(impl)
    long_form = bytes((0x82, 126, 0, 3)) + b"abc" + bytes((0x81, 127)) + (3).to_bytes(8, "big") + b"xyz"
    assert feed(client, long_form + bytes((0x81, 10)) + b"12345") == [BinaryMessage(b"abc"), TextMessage("xyz")]
    assert feed(client, b"67890") == [TextMessage("1234567890")]


@pytest.mark.parametrize("deflate_case", ["rsv1 on continuation", "rsv1 on ping", "corrupt data", "bomb"])
def test_deflate_failures(impl, deflate_case):
    server = open_server(impl, PerMessageDeflate(), max_message_size=10000)
    if deflate_case == "rsv1 on continuation":
        wire = masked(impl, Opcode.TEXT, deflated(b"a"), fin=False, rsv1=True) + masked(impl, Opcode.CONTINUATION, b"", rsv1=True)
        code = 1002
    elif deflate_case == "rsv1 on ping":
        wire, code = masked(impl, Opcode.PING, b"", rsv1=True), 1002
    elif deflate_case == "corrupt data":
        wire, code = masked(impl, Opcode.BINARY, b"\xff\xff\xff\xff", rsv1=True), 1002
    else:
        wire, code = masked(impl, Opcode.BINARY, deflated(b"\x00" * 10_000_000), rsv1=True), 1009
        assert len(wire) < 11000
    assert failure_code(feed(server, wire)) == code


# -- closing ----------------------------------------------------------------------


def test_closing_handshake_started_by_the_client(impl):
    client, server = pair(impl)
    wire = client.close(1000, "done")
    assert client.state is ConnectionState.CLOSING
    with pytest.raises(InvalidState):
        client.send_text("after close")
    with pytest.raises(InvalidState):
        client.send_ping()
    late = server.send_text("late")
    assert feed(server, wire) == [CloseConnection(1000, "done")]
    assert server.state is ConnectionState.CLOSED and server.should_close_transport
    assert feed(client, late + server.data_to_send()) == [TextMessage("late"), CloseConnection(1000, "")]
    assert client.state is ConnectionState.CLOSED
    assert not client.should_close_transport  # the server closes TCP first
    client.receive_eof()
    assert client.should_close_transport and client.events() == []


def test_data_arriving_while_closing_is_delivered(impl):
    client, server = pair(impl)
    client.close()
    wire = server.send_text("still") + server.send_ping(b"p")
    assert feed(client, wire) == [TextMessage("still"), Ping(b"p")]
    assert client.data_to_send() == b""  # no pong after our close frame
    assert feed(client, server.close(1001)) == [CloseConnection(1001, "")]


def test_close_without_status_is_echoed_without_status(impl):
    client, server = pair(impl)
    assert feed(server, client.close(1005)) == [CloseConnection(1005, "")]
    (echo,) = sent_frames(impl, server)
    assert echo.payload == b""
    assert server.close_code == 1005


def test_peer_close_code_is_echoed(impl):
    client, server = pair(impl)
    assert feed(client, server.close(4000, "custom")) == [CloseConnection(4000, "custom")]
    (echo,) = sent_frames(impl, client, "server")
    assert impl.parse_close(echo.payload) == (4000, "")
    with pytest.raises(InvalidState):
        client.close()


def test_eof_without_close_is_abnormal(impl):
    client, server = pair(impl)
    server.receive_eof()
    server.receive_eof()
    assert server.events() == [CloseConnection(1006, "")]
    assert server.close_code == 1006 and server.should_close_transport


def test_frames_after_a_close_frame_are_ignored(impl):
    client, server = pair(impl)
    wire = client.send_text("a") + client.close() + masked(impl, Opcode.TEXT, b"b")
    assert feed(server, wire) == [TextMessage("a"), CloseConnection(1000, "")]


def test_close_frame_then_protocol_error_in_one_feed(impl):
    server = open_server(impl)
    assert feed(server, masked(impl, Opcode.CLOSE, b"") + raw(0x83)) == [CloseConnection(1005, "")]
    assert server.state is ConnectionState.CLOSED


def test_internal_errors_are_1011_without_details(impl, monkeypatch):
    client, server = pair(impl)

    def broken(*args):
        raise RuntimeError("secret internal state")

    # The protocol reads close frames through its core: a core that breaks there
    # is a failure of ours, not the peer's.
    monkeypatch.setattr(server.implementation, "parse_close", broken)
    (failed,) = feed(server, client.close(1000))
    monkeypatch.undo()
    assert failed == ConnectionFailed(1011, "secret internal state")
    (close,) = sent_frames(impl, server)
    assert impl.parse_close(close.payload) == (1011, "internal error")
