"""fastws.compat.wsproto: wsproto with the adapter sends and receives exactly what it
does without it (every byte, every event), on both implementations."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, List, Sequence, Tuple

import compat_helpers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto import frame_protocol
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage

from fastws.compat import wsproto as adapter

ORIGINALS = {
    (frame_protocol, "XorMaskerSimple"): frame_protocol.XorMaskerSimple,
    (frame_protocol.FrameDecoder, "process_buffer"): frame_protocol.FrameDecoder.process_buffer,
    (frame_protocol.MessageDecoder, "process_frame"): frame_protocol.MessageDecoder.process_frame,
    (frame_protocol.FrameProtocol, "_serialize_frame"): frame_protocol.FrameProtocol._serialize_frame,
}
SIZES = [0, 1, 16, 125, 126, 65535, 65536, 70000]


@pytest.fixture
def core(impl: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(adapter, "_fastws", impl)
    yield impl
    adapter.uninstall()


def run(with_adapter: bool, scenario: Callable[[], Any]) -> Any:
    return compat_helpers.run(adapter, with_adapter, scenario)


def same_with_and_without(scenario: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    # wsproto draws its mask keys from os.urandom.
    return compat_helpers.same_with_and_without(adapter, scenario, monkeypatch, (os, "urandom"))


def exchange(sender_role: ConnectionType, events: Sequence[Event], cuts: Sequence[int] = ()) -> Tuple[bytes, List[Any]]:
    receiver_role = ConnectionType.SERVER if sender_role is ConnectionType.CLIENT else ConnectionType.CLIENT
    sender, receiver = Connection(sender_role), Connection(receiver_role)
    wire = b"".join(sender.send(event) for event in events)
    received: List[Any] = []
    bounds = [0] + sorted(min(cut, len(wire)) for cut in cuts) + [len(wire)]
    for start, end in zip(bounds, bounds[1:]):
        receiver.receive_data(wire[start:end])
        received.extend(receiver.events())
    return wire, received


def messages(size: int) -> List[Event]:
    text = ("é" * size)[: max(size // 2, 0)] + "a" * (size - 2 * (size // 2) + size // 2)
    return [
        BytesMessage(bytes(range(256)) * (size // 256) + bytes(size % 256)),
        TextMessage(text),
        TextMessage("frag", message_finished=False),
        TextMessage("ment", message_finished=True),
        BytesMessage(b"x" * size, message_finished=False),
        BytesMessage(b"", message_finished=True),
        Ping(b"p" * min(size, 125)),
        Pong(b""),
        CloseConnection(1000, "bye"),
    ]


@pytest.mark.parametrize("role", [ConnectionType.CLIENT, ConnectionType.SERVER], ids=["masked", "unmasked"])
@pytest.mark.parametrize("size", SIZES)
def test_same_bytes_and_events(core: Any, role: ConnectionType, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    wire, received = same_with_and_without(lambda: exchange(role, messages(size)), monkeypatch)
    assert len(received) == 9 and isinstance(received[-1], CloseConnection)
    assert received[0].data == messages(size)[0].data


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([ConnectionType.CLIENT, ConnectionType.SERVER]), st.lists(st.integers(0, 400), max_size=8))
def test_same_events_whatever_the_chunks(core: Any, monkeypatch: pytest.MonkeyPatch, role: ConnectionType, cuts: List[int]) -> None:
    events = [TextMessage("héllo" * 20), BytesMessage(b"\x00" * 130), Ping(b"hi"), TextMessage("😀" * 40)]
    same_with_and_without(lambda: exchange(role, events, cuts), monkeypatch)


def frame(first: int, payload: bytes, masked: bool = True, length: bytes = b"") -> bytes:
    mask = b"\x01\x02\x03\x04"
    second = (0x80 if masked else 0) | (len(payload) if not length else {2: 126, 8: 127}[len(length)])
    body = bytes(b ^ mask[k % 4] for k, b in enumerate(payload)) if masked else payload
    return bytes([first, second]) + length + (mask if masked else b"") + body


BAD_INPUT = {
    "reserved opcode": frame(0x83, b""),
    "unmasked": frame(0x82, b"ab", masked=False),
    "rsv1": frame(0xC2, b"ab"),
    "rsv3": frame(0x92, b"ab"),
    "fragmented control": frame(0x09, b""),
    "long control": frame(0x89, b"a" * 126, length=(126).to_bytes(2, "big")),
    "2-byte length for 5": frame(0x82, b"a" * 5, length=(5).to_bytes(2, "big")),
    "8-byte length for 300": frame(0x82, b"a" * 300, length=(300).to_bytes(8, "big")),
    "length msb": bytes([0x82, 0xFF]) + (1 << 63).to_bytes(8, "big") + b"\x01\x02\x03\x04",
    "bad utf-8": frame(0x81, b"ab\xff"),
    "surrogate split": frame(0x01, b"\xed") + frame(0x80, b"\xa0\x80"),
    "unexpected continuation": frame(0x80, b"x"),
    "bad close code": frame(0x88, b"\x03\xed"),
    "bad close reason": frame(0x88, b"\x03\xe8\xff"),
    "close 1 byte": frame(0x88, b"\x03"),
}


@pytest.mark.parametrize("data", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_same_errors(core: Any, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def scenario() -> List[Any]:
        server = Connection(ConnectionType.SERVER)
        server.receive_data(data)
        return [*server.events(), server.state]

    result = same_with_and_without(scenario, monkeypatch)
    assert isinstance(result[-2], CloseConnection)


def test_masker_matches_wsproto(core: Any) -> None:
    original = ORIGINALS[(frame_protocol, "XorMaskerSimple")]
    for key in (b"abcd", bytearray(b"\x00\xff\x10\x01")):
        ours, theirs = adapter.XorMaskerSimple(key), original(key)
        for chunk in (b"", b"x", b"hello world", bytearray(1000), b"abc"):
            got = ours.process(chunk)
            assert type(got) is bytearray and got == theirs.process(chunk)


def test_install_and_uninstall(core: Any) -> None:
    assert not adapter.installed()
    assert adapter.install() is True and adapter.install() is False
    assert adapter.installed()
    for (owner, name), original in ORIGINALS.items():
        assert vars(owner)[name] is not original
    assert adapter.uninstall() is True and adapter.uninstall() is False
    for (owner, name), original in ORIGINALS.items():
        assert vars(owner)[name] is original


def test_extensions_and_odd_payloads_take_wsproto_path(core: Any) -> None:
    adapter.install()
    client = frame_protocol.FrameProtocol(client=False, extensions=[])
    assert client._serialize_frame(frame_protocol.Opcode.BINARY, memoryview(b"ab")) == b"\x82\x02ab"
    with pytest.raises(ValueError, match="payload too long for control frame"):
        client.ping(b"x" * 126)
    decoder = frame_protocol.MessageDecoder()
    text = decoder.process_frame(frame_protocol.Frame(frame_protocol.Opcode.TEXT, bytearray(b"ab"), True, True))
    assert text.payload == "ab"
