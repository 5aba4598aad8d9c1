"""Frame, FrameHeader, encode_frame, parse_header and FrameParser (RFC 6455 §5)."""

from __future__ import annotations

import os

import pytest
import reference

from fastws import Opcode, ProtocolError

KEY = b"\x37\xfa\x21\x3d"


def fields(frame):
    return (frame.opcode, frame.payload, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3)


def feed_all(parser, data, step=None):
    if step is None:
        return parser.feed(data)
    frames = []
    for start in range(0, len(data), step):
        frames += parser.feed(data[start : start + step])
    return frames


# -- RFC 6455 §5.7 examples, byte for byte ------------------------------------------

RFC_EXAMPLES = [
    ("client", "810548656c6c6f", [(Opcode.TEXT, b"Hello", True)]),
    ("server", "818537fa213d7f9f4d5158", [(Opcode.TEXT, b"Hello", True)]),
    ("client", "010348656c80026c6f", [(Opcode.TEXT, b"Hel", False), (Opcode.CONTINUATION, b"lo", True)]),
    ("client", "890548656c6c6f", [(Opcode.PING, b"Hello", True)]),
    ("server", "8a8537fa213d7f9f4d5158", [(Opcode.PONG, b"Hello", True)]),
]


@pytest.mark.parametrize("role, wire, expected", RFC_EXAMPLES)
@pytest.mark.parametrize("step", [None, 1, 2, 3])
def test_rfc_examples_parse(impl, role, wire, expected, step):
    frames = feed_all(impl.FrameParser(role), bytes.fromhex(wire), step)
    assert [(f.opcode, f.payload, f.fin) for f in frames] == expected


@pytest.mark.parametrize("role, wire, expected", RFC_EXAMPLES)
def test_rfc_examples_encode(impl, role, wire, expected):
    key = KEY if role == "server" else None
    encoded = b"".join(impl.encode_frame(op, payload, fin=fin, mask=key) for op, payload, fin in expected)
    assert encoded.hex() == wire


def test_rfc_256_byte_and_64k_binary_examples(impl):
    payload = os.urandom(256)
    assert impl.encode_frame(Opcode.BINARY, payload)[:4] == bytes.fromhex("827e0100")
    payload = os.urandom(65536)
    wire = impl.encode_frame(Opcode.BINARY, payload)
    assert wire[:10] == bytes.fromhex("827f0000000000010000")
    (frame,) = impl.FrameParser("client").feed(wire)
    assert frame.payload == payload


# -- length encodings --------------------------------------------------------------


@pytest.mark.parametrize(
    "size, header_length",
    [(0, 2), (1, 2), (125, 2), (126, 4), (127, 4), (65535, 4), (65536, 10), (70000, 10)],
)
@pytest.mark.parametrize("masked", [False, True])
def test_shortest_length_encoding(impl, size, header_length, masked):
    payload = os.urandom(size)
    key = os.urandom(4) if masked else None
    wire = impl.encode_frame(Opcode.BINARY, payload, mask=key)
    assert wire == reference.frame(2, payload, key=key)
    header = impl.parse_header(wire)
    assert header.payload_length == size
    assert header.header_length == header_length + (4 if masked else 0)
    assert header.mask == key and header.masked is masked
    (frame,) = impl.FrameParser("server" if masked else "client", max_frame_size=None).feed(wire)
    assert frame.payload == payload


def test_64_bit_length_header(impl):
    wire = bytes.fromhex("82 7f 7fffffffffffffff".replace(" ", ""))
    header = impl.parse_header(wire)
    assert header.payload_length == 2**63 - 1 and header.header_length == 10


@pytest.mark.parametrize("length_bytes", [2, 8])
def test_non_minimal_length_is_accepted(impl, length_bytes):
    wire = reference.frame(1, b"short", length_bytes=length_bytes)
    (frame,) = impl.FrameParser("client").feed(wire)
    assert frame.payload == b"short"


def test_parse_header_needs_more(impl):
    wire = reference.frame(2, bytes(300), key=KEY)
    for cut in range(0, 8):
        assert impl.parse_header(wire[:cut]) is None
    assert impl.parse_header(wire[:8]).payload_length == 300
    assert impl.parse_header(b"xx" + wire, offset=2).mask == KEY
    with pytest.raises(ValueError):
        impl.parse_header(wire, offset=len(wire) + 1)
    with pytest.raises(ValueError):
        impl.parse_header(wire, offset=-1)


def test_parse_header_fields(impl):
    header = impl.parse_header(bytes((0x71, 0x00)))
    assert (header.fin, header.rsv1, header.rsv2, header.rsv3, header.opcode) == (False, True, True, True, Opcode.TEXT)
    assert header.masked is False and header.mask is None


# -- encode_frame --------------------------------------------------------------------


def test_encode_flags(impl):
    assert impl.encode_frame(Opcode.TEXT, b"", fin=False, rsv1=True, rsv2=True, rsv3=True)[0] == 0x71
    assert impl.encode_frame(2, bytearray(b"x"))[0] == 0x82


@pytest.mark.parametrize("opcode", [3, 7, 11, 15, 16, -1, 2**70])
def test_encode_refuses_reserved_opcodes(impl, opcode):
    with pytest.raises(ValueError, match="not a WebSocket opcode"):
        impl.encode_frame(opcode, b"")
    with pytest.raises(ValueError, match="not a WebSocket opcode"):
        impl.encode_frame_header(opcode, 0)


def test_encode_takes_an_opcode_that_is_an_integer(impl):
    for encode in (lambda opcode: impl.encode_frame(opcode, b""), lambda opcode: impl.encode_frame_header(opcode, 0)):
        assert encode(True)[0] == 0x81  # an int subclass, as Opcode itself is
        with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
            encode("1")


def test_encode_refuses_bad_control_frames(impl):
    with pytest.raises(ValueError, match="control frames"):
        impl.encode_frame(Opcode.PING, bytes(126))
    with pytest.raises(ValueError, match="control frames"):
        impl.encode_frame(Opcode.CLOSE, b"", fin=False)
    assert len(impl.encode_frame(Opcode.PING, bytes(125))) == 127


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536, 2**32, 2**63 - 1])
@pytest.mark.parametrize("key", [None, KEY])
def test_encode_frame_header_is_encode_frame_without_the_payload(impl, length, key):
    header = impl.encode_frame_header(Opcode.BINARY, length, fin=False, rsv1=True, mask=key)
    parsed = impl.parse_header(header)
    assert (parsed.opcode, parsed.fin, parsed.rsv1, parsed.payload_length, parsed.mask) == (Opcode.BINARY, False, True, length, key)
    assert parsed.header_length == len(header)
    if length <= 65536:
        payload = os.urandom(length)
        frame = impl.encode_frame(Opcode.BINARY, payload, fin=False, rsv1=True, mask=key)
        assert frame[: len(header)] == header
        assert frame[len(header) :] == (payload if key is None else impl.apply_mask(payload, key))


def test_encode_frame_header_refuses_what_encode_frame_refuses(impl):
    with pytest.raises(ValueError, match="payload length"):
        impl.encode_frame_header(Opcode.BINARY, -1)
    with pytest.raises(ValueError, match="payload length"):
        impl.encode_frame_header(Opcode.BINARY, 2**63)
    with pytest.raises(ValueError, match="control frames"):
        impl.encode_frame_header(Opcode.PING, 126)
    with pytest.raises(ValueError, match="not a WebSocket opcode"):
        impl.encode_frame_header(3, 0)
    with pytest.raises(ValueError, match="mask must contain 4 bytes"):
        impl.encode_frame_header(Opcode.TEXT, 1, mask=b"abc")


def test_encode_bad_mask(impl):
    with pytest.raises(ValueError, match="mask must contain 4 bytes"):
        impl.encode_frame(Opcode.TEXT, b"x", mask=b"abc")


# -- Frame ---------------------------------------------------------------------------


def test_frame_is_immutable_and_comparable(impl):
    frame = impl.Frame(Opcode.TEXT, b"hi")
    assert fields(frame) == (Opcode.TEXT, b"hi", True, False, False, False)
    assert frame == impl.Frame(1, bytearray(b"hi"))
    assert frame != impl.Frame(1, b"hi", fin=False)
    assert hash(frame) == hash(impl.Frame(1, b"hi"))
    assert "Frame(opcode=" in repr(frame)
    with pytest.raises(AttributeError):
        frame.payload = b"other"
    with pytest.raises(ValueError):
        impl.Frame(3, b"")


# -- FrameParser ---------------------------------------------------------------------


def sample_stream(key):
    parts = [
        (Opcode.TEXT, b"Hello", True),
        (Opcode.BINARY, os.urandom(200), False),
        (Opcode.PING, b"ping", True),
        (Opcode.CONTINUATION, os.urandom(70000), True),
        (Opcode.CLOSE, b"\x03\xe8", True),
        (Opcode.TEXT, b"", True),
    ]
    wire = b"".join(reference.frame(op, payload, fin, key=key) for op, payload, fin in parts)
    return wire, parts


@pytest.mark.parametrize("role", ["server", "client"])
@pytest.mark.parametrize("step", [None, 1, 7, 1000, 65536])
def test_parser_any_chunking(impl, role, step):
    wire, parts = sample_stream(os.urandom(4) if role == "server" else None)
    frames = feed_all(impl.FrameParser(role), wire, step)
    assert [(f.opcode, f.payload, f.fin) for f in frames] == parts
    assert all(type(f.payload) is bytes for f in frames)


def test_parser_returns_only_completed_frames(impl):
    parser = impl.FrameParser("server")
    wire = reference.frame(1, b"abcdef", key=KEY)
    assert parser.feed(wire[:-1]) == []
    assert [f.payload for f in parser.feed(wire[-1:] + wire)] == [b"abcdef", b"abcdef"]
    assert parser.feed(b"") == []


def test_parser_accepts_buffers(impl):
    wire = reference.frame(2, b"\x00\x01", key=KEY)
    for data in (bytearray(wire), memoryview(wire)):
        (frame,) = impl.FrameParser("server").feed(data)
        assert frame.payload == b"\x00\x01"


def test_rsv1_allowed_by_extension(impl):
    wire = reference.frame(1, b"x", rsv=4, key=KEY)
    (frame,) = impl.FrameParser("server", allow_rsv1=True).feed(wire)
    assert frame.rsv1 is True


# Every malformed header: (role, wire, close code, words of the message).
MALFORMED = [
    ("server", reference.frame(1, b"x"), 1002, "must be masked"),
    ("client", reference.frame(1, b"x", key=KEY), 1002, "must not be masked"),
    ("client", reference.frame(1, b"x", rsv=4), 1002, "RSV1"),
    ("client", reference.frame(1, b"x", rsv=2), 1002, "RSV2"),
    ("client", reference.frame(1, b"x", rsv=1), 1002, "RSV3"),
    *[("client", reference.frame(op, b""), 1002, "reserved opcode") for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)],
    ("client", reference.frame(9, b"", fin=False), 1002, "fragmented control frame"),
    ("client", reference.frame(8, bytes(126)), 1002, "over 125 bytes"),
    ("client", reference.frame(10, bytes(200), length_bytes=2), 1002, "over 125 bytes"),
    ("client", bytes.fromhex("827f8000000000000000"), 1002, "most significant bit"),
    ("client", bytes.fromhex("827fffffffffffffffff"), 1002, "most significant bit"),
    ("client", bytes.fromhex("827f4000000000000000"), 1009, "exceeds max_frame_size"),
    ("client", reference.frame(2, bytes(1025)), 1009, "exceeds max_frame_size"),
]


@pytest.mark.parametrize("role, wire, code, words", MALFORMED)
@pytest.mark.parametrize("step", [None, 1])
def test_malformed_headers(impl, role, wire, code, words, step):
    good = reference.frame(1, b"before", key=KEY if role == "server" else None)
    parser = impl.FrameParser(role, max_frame_size=1024)
    with pytest.raises(ProtocolError, match=words) as caught:
        feed_all(parser, good + wire, step)
    assert caught.value.close_code == code
    if step is None:  # the frame completed in the same feed call is not lost
        assert [f.payload for f in caught.value.frames] == [b"before"]
    with pytest.raises(ProtocolError, match="after a protocol error") as again:
        parser.feed(good)
    assert again.value.close_code == code


def test_oversized_frame_refused_from_its_header(impl):
    parser = impl.FrameParser("server")  # default limit
    header = bytes.fromhex("82ff4000000000000000") + KEY  # announces 2**62 bytes
    with pytest.raises(ProtocolError) as caught:
        parser.feed(header)
    assert caught.value.close_code == 1009


def test_unlimited_parser_buffers_only_what_arrived(impl):
    parser = impl.FrameParser("client", max_frame_size=None)
    assert parser.feed(bytes.fromhex("827f4000000000000000") + bytes(1000)) == []


def test_max_frame_size_is_inclusive(impl):
    wire = reference.frame(2, bytes(100), key=KEY)
    assert len(impl.FrameParser("server", max_frame_size=100).feed(wire)) == 1
    with pytest.raises(ProtocolError) as caught:
        impl.FrameParser("server", max_frame_size=99).feed(wire)
    assert caught.value.close_code == 1009


@pytest.mark.parametrize("kwargs", [{"role": "peer"}, {"role": "server", "max_frame_size": -1}, {"role": "server", "max_frame_size": 1.5}])
def test_parser_arguments(impl, kwargs):
    with pytest.raises(ValueError):
        impl.FrameParser(**kwargs)


def test_large_frame_across_many_feeds(impl):
    payload = os.urandom(3 * 2**20 + 5)
    wire = reference.frame(2, payload, key=KEY)
    parser = impl.FrameParser("server", max_frame_size=None)
    frames = feed_all(parser, wire, 65536)
    assert len(frames) == 1 and frames[0].payload == payload


# -- the pending frame: acting on a payload before its end arrives ---------------------


@pytest.mark.parametrize("role", ["server", "client"])
def test_buffered_counts_the_bytes_of_the_unfinished_frame(impl, role):
    key = KEY if role == "server" else None
    frames = [reference.frame(2, os.urandom(size), key=key) for size in (0, 5, 125, 126, 70000, 3)]
    wire = b"".join(frames)
    ends = [sum(map(len, frames[: index + 1])) for index in range(len(frames))]
    for step in (1, 7, 4093, len(wire)):
        parser = impl.FrameParser(role, max_frame_size=None)
        assert parser.buffered == 0
        for start in range(0, len(wire), step):
            parser.feed(wire[start : start + step])
            received = min(start + step, len(wire))
            boundary = max([0] + [end for end in ends if end <= received])
            assert parser.buffered == received - boundary


@pytest.mark.parametrize("role", ["server", "client"])
def test_pending_frame_exposes_what_arrived(impl, role):
    payload = os.urandom(1000)
    key = KEY if role == "server" else None
    wire = reference.frame(1, payload, fin=False, key=key)
    parser = impl.FrameParser(role)
    header_length = len(wire) - len(payload)
    for cut in range(0, header_length):  # the header is not complete yet
        parser = impl.FrameParser(role)
        parser.feed(wire[:cut])
        assert parser.pending_header is None and parser.pending_payload() is None
    parser = impl.FrameParser(role)
    received = 0
    for step in (header_length, 1, 2, 3, 100, 500):
        parser.feed(wire[received : received + step])
        received += step
        header = parser.pending_header
        assert (header.opcode, header.fin, header.payload_length, header.header_length, header.mask) == (
            Opcode.TEXT,
            False,
            1000,
            header_length,
            key,
        )
        so_far = received - header_length
        assert parser.pending_payload() == payload[:so_far]
        for start in range(0, so_far + 1, 7):
            assert parser.pending_payload(start) == payload[start:so_far]
    with pytest.raises(ValueError):
        parser.pending_payload(so_far + 1)
    (frame,) = parser.feed(wire[received:])
    assert frame.payload == payload
    assert parser.pending_header is None and parser.pending_payload() is None


def test_no_pending_frame_after_an_error(impl):
    parser = impl.FrameParser("client")
    parser.feed(reference.frame(1, bytes(100))[:50])
    assert parser.pending_header is not None
    with pytest.raises(ProtocolError) as caught:
        parser.feed(bytes(52) + b"\x83\x00")  # opcode 3 is reserved
    assert caught.value.close_code == 1002
    assert parser.pending_header is None
