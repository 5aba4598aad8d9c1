"""fastws.compat.websockets: websockets with the adapter sends and receives exactly
what it does without it, on both implementations: its sans-IO ServerProtocol,
ClientProtocol and Protocol fed whole, byte by byte and in odd chunks (every byte out,
every event, exception, close code and debug log line, malformed input included), and
its asyncio and sync servers and clients; masking is rebound everywhere websockets
binds it, and an unknown version gets apply_mask only."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import secrets
import sys
import threading
import warnings
from typing import Any, Callable, Iterator, List

import compat_helpers
import pytest
import websockets.frames
import websockets.speedups
from websockets.exceptions import ProtocolError
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Protocol, Side

import fastws.compat
from fastws.compat import websockets as adapter

ORIGINAL = websockets.speedups.apply_mask
ORIGINAL_PARSE = Protocol.parse
ORIGINAL_SERIALIZE = Frame.serialize
SIZES = [0, 1, 16, 125, 126, 65535, 65536, 70000]


@pytest.fixture
def core(impl: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(adapter, "_fastws", impl)
    yield impl
    adapter.uninstall()


def same_with_and_without(scenario: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    # websockets draws its mask keys from secrets.token_bytes.
    return compat_helpers.same_with_and_without(adapter, scenario, monkeypatch, (secrets, "token_bytes"))


def exchange(sender_side: Side, size: int, chunk: int) -> Any:
    receiver_side = Side.SERVER if sender_side is Side.CLIENT else Side.CLIENT
    sender = Protocol(sender_side, state=OPEN, max_size=None)
    receiver = Protocol(receiver_side, state=OPEN, max_size=None)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    text = ("é" * size).encode()[:size]
    text = text[: len(text) - (len(text) % 2)]
    sender.send_binary(payload)
    sender.send_text(text)
    sender.send_text(b"frag", fin=False)
    sender.send_continuation(b"ment", fin=True)
    sender.send_ping(payload[:125])
    sender.send_pong(b"")
    sender.send_close(1000, "bye")
    wire = b"".join(sender.data_to_send())
    events: List[Any] = []
    for start in range(0, len(wire), chunk):
        receiver.receive_data(wire[start : start + chunk])
        events.extend(receiver.events_received())
    return wire, events, receiver.data_to_send(), receiver.close_rcvd


@pytest.mark.parametrize("chunk", [1 << 30, 7], ids=["whole", "7-byte-chunks"])
@pytest.mark.parametrize("side", [Side.CLIENT, Side.SERVER], ids=["masked", "unmasked"])
@pytest.mark.parametrize("size", SIZES)
def test_same_bytes_and_events(core: Any, side: Side, size: int, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if chunk == 7 and size > 1000:
        chunk = 4093  # every size class still crosses chunk boundaries, in less time
    wire, events, reply, close = same_with_and_without(lambda: exchange(side, size, chunk), monkeypatch)
    assert len(events) == 7 and close is not None


@pytest.mark.parametrize("payload", [b"", b"a", b"hello world" * 100])
def test_frames_round_trip(core: Any, payload: bytes) -> None:
    adapter.install()
    frame = Frame(Opcode.BINARY, payload)
    wire = frame.serialize(mask=True)
    reader = websockets.frames.Frame.parse(iter([wire[:2], wire[2:]]).__next__, mask=True)
    assert wire[:2] and reader is not None


def test_install_rebinds_every_apply_mask(core: Any) -> None:
    assert adapter.install() is True and adapter.install() is False
    assert adapter.installed()
    assert websockets.frames.apply_mask is core.apply_mask
    assert websockets.speedups.apply_mask is core.apply_mask
    assert adapter.uninstall() is True and adapter.uninstall() is False
    assert websockets.frames.apply_mask is ORIGINAL and websockets.speedups.apply_mask is ORIGINAL


def test_legacy_framing_imported_before_or_after(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in ("websockets.legacy", "websockets.legacy.framing"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        adapter.install()
        framing = importlib.import_module("websockets.legacy.framing")  # imported after install
        assert framing.apply_mask is core.apply_mask
        adapter.uninstall()
        adapter.install()  # imported before install
        assert framing.apply_mask is core.apply_mask
        adapter.uninstall()
        assert framing.apply_mask is ORIGINAL


@pytest.mark.parametrize(
    "data, mask, error, message",
    [
        (b"abc", b"abc", ValueError, "mask must contain 4 bytes"),
        (b"abc", b"abcde", ValueError, "mask must contain 4 bytes"),
        ("abc", b"abcd", TypeError, None),
        (None, b"abcd", TypeError, None),
        (b"abc", None, TypeError, None),
    ],
)
def test_same_errors_as_websockets(core: Any, data: Any, mask: Any, error: type, message: Any) -> None:
    with pytest.raises(error) as expected:
        ORIGINAL(data, mask)
    with pytest.raises(error) as got:
        core.apply_mask(data, mask)
    if message:
        assert str(got.value) == str(expected.value) == message


def test_keyword_arguments(core: Any) -> None:
    assert core.apply_mask(data=b"\x00\x00", mask=b"abcd") == ORIGINAL(data=b"\x00\x00", mask=b"abcd") == b"ab"


def test_without_the_c_extension(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # websockets built without its extension binds websockets.utils.apply_mask.
    import websockets.utils

    pure = websockets.utils.apply_mask
    monkeypatch.setitem(sys.modules, "websockets.speedups", None)
    adapter.install()
    assert websockets.utils.apply_mask is core.apply_mask
    adapter.uninstall()
    assert websockets.utils.apply_mask is pure


# -- frames in and out: the sans-IO protocol, differential ------------------------------

KEY = b"\x37\xfa\x21\x3d"


def wire(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True, length_code: Any = None) -> bytes:
    """One frame as a peer could send it, valid or not (``length_code`` forces the
    length encoding: 126 or 127 for a non-minimal one)."""
    length = len(payload)
    code = length_code if length_code is not None else length if length < 126 else 126 if length < 65536 else 127
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode, (0x80 if masked else 0) | code])
    if code == 126:
        head += length.to_bytes(2, "big")
    elif code == 127:
        head += length.to_bytes(8, "big")
    if not masked:
        return head + payload
    return head + KEY + bytes(byte ^ KEY[index & 3] for index, byte in enumerate(payload))


def deflated(side: Side) -> List[Any]:
    """A permessage-deflate extension as negotiated by default, for ``side``."""
    from websockets.extensions.permessage_deflate import PerMessageDeflate

    return [PerMessageDeflate(False, False, 15, 15)]


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


# Streams a server receives (masked); a client receives the same frames unmasked.
STREAMS = {
    "text": [wire(1, "héllo wörld".encode())],
    "binary sizes": [wire(2, bytes(size)) for size in (0, 1, 125, 126, 65535, 65536, 70000)],
    "fragmented": [wire(1, b"frag", fin=False), wire(9, b"ping"), wire(0, b"men", fin=False), wire(0, b"t")],
    "ping pong close": [wire(9, b"p"), wire(10, b""), wire(8, close_payload(1000, b"bye"))],
    "data after close": [wire(8, close_payload(1001)), wire(1, b"ignored"), b"\xff\xff garbage"],
    "empty close": [wire(8, b"")],
    "non-minimal length": [wire(2, b"abc", length_code=126), wire(2, b"defg", length_code=127), wire(1, b"ok")],
    "invalid opcode": [wire(1, b"ok"), wire(3, b"x")],
    "invalid opcode, wrong mask": [wire(11, b"x", masked=False)],
    "wrong mask": [wire(2, b"ok"), wire(2, b"x", masked=False)],
    "rsv1 without extension": [wire(1, b"x", rsv=4)],
    "rsv2": [wire(2, b"x", rsv=2)],
    "rsv3, wrong mask": [wire(2, b"x", rsv=1, masked=False)],
    "control too long": [wire(9, bytes(126))],
    "fragmented control": [wire(9, b"x", fin=False)],
    "fragmented control, rsv2": [wire(10, b"x", fin=False, rsv=2)],
    "control too long, over max_size": [wire(9, bytes(300))],
    "unexpected continuation": [wire(0, b"x")],
    "expected continuation": [wire(1, b"a", fin=False), wire(1, b"b")],
    "close inside a message": [wire(2, b"a", fin=False), wire(8, close_payload(1000))],
    "close of one byte": [wire(8, b"\x03")],
    "close with a bad code": [wire(8, close_payload(1005))],
    "close with invalid UTF-8": [wire(8, close_payload(1000, b"\xff"))],
    "frame over max_size": [wire(2, bytes(2000))],
    "message over max_size": [wire(2, bytes(600), fin=False), wire(0, bytes(600))],
    "fragment over max_fragment_size": [wire(2, bytes(300), fin=False), wire(0, bytes(100))],
    "64-bit length with its top bit": [wire(2, b"", length_code=127)[:2] + (1 << 63).to_bytes(8, "big") + KEY],
    "EOF in a header": [wire(2, bytes(300))[:3]],
    "EOF in a payload": [wire(1, b"ok"), wire(2, bytes(300))[:100]],
    "EOF in a long payload": [wire(2, bytes(70000), fin=False, rsv=0)[:5000]],
    "EOF in a short payload": [wire(9, b"ping")[:5]],
}
CLEAN = {"binary sizes", "non-minimal length", "ping pong close", "data after close", "empty close"}
LIMITS = {"frame over max_size": 1000, "message over max_size": 1000, "control too long, over max_size": 200}
LIMIT_PAIRS = {"fragment over max_fragment_size": (10000, 200)}


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def flip_masks(stream: bytes) -> bytes:
    """The same frames with their masking flipped (what a client receives, where a
    server's stream is masked): wrong masking stays wrong. Stops at an unfinished frame."""
    out, position = bytearray(), 0
    while position + 2 <= len(stream):
        code = stream[position + 1] & 0x7F
        size = 2 + (2 if code == 126 else 8 if code == 127 else 0)
        masked = stream[position + 1] & 0x80
        if position + size + 4 * bool(masked) > len(stream):
            break
        length = int.from_bytes(stream[position + 2 : position + size], "big") if size > 2 else code
        start = position + size + 4 * bool(masked)
        payload = stream[start : start + length]
        if masked:
            key = stream[position + size : start]
            payload = bytes(byte ^ key[index & 3] for index, byte in enumerate(payload))
        out += bytes([stream[position], (stream[position + 1] ^ 0x80)]) + stream[position + 2 : position + size]
        if not masked:
            payload = KEY + bytes(byte ^ KEY[index & 3] for index, byte in enumerate(payload))
        out += payload
        position = start + length
    return bytes(out + stream[position:])


def receive(side: Side, stream: bytes, chunks: List[int], max_size: Any, extensions: bool, eof: bool) -> Any:
    """Feeds ``stream`` in ``chunks`` to a fresh protocol; everything observable."""
    logger = logging.getLogger(f"test.fastws.websockets.{side.name}")
    logger.setLevel(logging.DEBUG)
    recorder = Recorder()
    logger.addHandler(recorder)
    logger.propagate = False
    try:
        protocol = Protocol(side, state=OPEN, max_size=max_size, logger=logger)
        if extensions:
            protocol.extensions = deflated(side)
        seen: List[Any] = []
        position = 0
        for size in chunks:
            try:
                protocol.receive_data(stream[position : position + size])
            except EOFError as error:
                seen.append(("receive_data raised", type(error), str(error)))
            position += size
            for event in protocol.events_received():
                seen.append((event.opcode, bytes(event.data), event.fin, event.rsv1, event.rsv2, event.rsv3))
            seen.append(protocol.data_to_send())
        if eof:
            protocol.receive_eof()
            seen.append(protocol.data_to_send())
            seen.append(protocol.events_received())
        error = protocol.parser_exc
        return (
            seen,
            protocol.state,
            protocol.close_code,
            protocol.close_reason,
            protocol.close_rcvd,
            protocol.close_sent,
            protocol.close_rcvd_then_sent,
            type(error),
            str(error),
            getattr(error, "__cause__", None).__class__,
            recorder.lines,
        )
    finally:
        logger.removeHandler(recorder)


def splits(total: int, how: str) -> List[int]:
    if how == "whole":
        return [total]
    if how == "bytes":
        return [1] * total
    sizes, rest, step = [], total, 1
    while rest > 0:
        sizes.append(min(rest, step))
        rest -= step
        step = step * 3 % 1031 + 1
    return sizes


@pytest.mark.parametrize("how", ["whole", "bytes", "chunks"])
@pytest.mark.parametrize("side", [Side.SERVER, Side.CLIENT], ids=["server", "client"])
@pytest.mark.parametrize("name", list(STREAMS))
def test_protocol_receives_the_same(core: Any, name: str, side: Side, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = b"".join(STREAMS[name])
    if side is Side.CLIENT:
        stream = flip_masks(stream)
    if how == "bytes" and len(stream) > 3000:
        how = "chunks"
    max_size = LIMIT_PAIRS.get(name, LIMITS.get(name, 2**20))
    eof = name.startswith("EOF") or name in ("text", "fragmented")
    result = same_with_and_without(lambda: receive(side, stream, splits(len(stream), how), max_size, False, eof), monkeypatch)
    # Without an error: the valid streams (EOF after "text" and "fragmented" is one).
    assert (result[7] is type(None)) == (name in CLEAN), result[7:10]


@pytest.mark.parametrize("how", ["whole", "bytes"])
@pytest.mark.parametrize("compressed", [True, False])
def test_protocol_with_permessage_deflate(core: Any, how: str, compressed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    sender = Protocol(Side.CLIENT, state=OPEN)
    sender.extensions = deflated(Side.CLIENT)
    for index, size in enumerate((0, 10, 2000, 70000)):
        (sender.send_text if index % 2 else sender.send_binary)(("ab" * size).encode()[:size])
    sender.send_text(b"frag", fin=False)
    sender.send_continuation(b"ment", fin=True)
    stream = b"".join(sender.data_to_send())
    if not compressed:
        stream += wire(9, b"x", rsv=4)  # rsv1 on a control frame: 1002
    result = same_with_and_without(
        lambda: receive(Side.SERVER, stream, splits(len(stream), how if len(stream) < 3000 else "chunks"), 2**20, True, False), monkeypatch
    )
    assert len([event for event in result[0] if isinstance(event, tuple) and len(event) == 6]) == 6
    assert result[8] == ("None" if compressed else "reserved bits must be 0")


def test_a_frame_an_extension_accepts_despite_fastws(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # fastws refuses rsv2; websockets lets an extension claim it. The adapter hands such
    # a frame to websockets' own parser, which then reads the rest of the connection.
    class Rsv2:
        name = "x-rsv2"

        def decode(self, frame: Frame, *, max_size: Any = None) -> Frame:
            return dataclasses.replace(frame, rsv2=False)

        def encode(self, frame: Frame) -> Frame:
            return dataclasses.replace(frame, rsv2=True)

    def scenario() -> Any:
        protocol = Protocol(Side.SERVER, state=OPEN)
        protocol.extensions = [Rsv2()]
        protocol.receive_data(wire(1, b"one", rsv=2) + wire(2, b"two", rsv=2) + wire(2, b"three"))
        return protocol.events_received(), protocol.parser_exc.__class__, str(protocol.parser_exc)

    events, error, message = same_with_and_without(scenario, monkeypatch)
    assert [bytes(event.data) for event in events] == [b"one", b"two", b"three"] and error is type(None)


def test_handshake_then_frames_in_the_same_bytes(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.client import ClientProtocol
    from websockets.server import ServerProtocol
    from websockets.uri import parse_uri

    def scenario() -> Any:
        client = ClientProtocol(parse_uri("ws://example.com/"))
        server = ServerProtocol()
        client.send_request(client.connect())
        server.receive_data(b"".join(client.data_to_send()) + wire(1, b"early") + wire(9, b"p")[:3])
        request, *frames = server.events_received()
        server.send_response(server.accept(request))
        server.receive_data(wire(9, b"p")[3:])
        frames += server.events_received()
        client.receive_data(b"".join(server.data_to_send()) + wire(2, b"late", masked=False))
        client_events = client.events_received()
        client.send_close(1000)
        server.receive_data(b"".join(client.data_to_send()))
        client.receive_data(b"".join(server.data_to_send()))
        client.receive_eof()
        return (
            [(frame.opcode, bytes(frame.data)) for frame in frames],
            [(event.opcode, bytes(event.data)) for event in client_events[1:]],
            server.state,
            client.state,
            client.close_code,
        )

    result = same_with_and_without(scenario, monkeypatch)
    assert result[0] == [(Opcode.TEXT, b"early"), (Opcode.PING, b"p")] and result[4] == 1000


@pytest.mark.parametrize("size", [0, 125, 126, 65536])
@pytest.mark.parametrize("mask", [True, False])
def test_serialize_matches(core: Any, size: int, mask: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [
        Frame(Opcode.TEXT, b"t" * size, fin=False),
        Frame(Opcode.CONT, memoryview(b"m" * size)),
        Frame(Opcode.PONG, b"p" * min(size, 125)),
    ]
    same_with_and_without(lambda: [frame.serialize(mask=mask) for frame in frames], monkeypatch)

    class Unfinished:  # an extension that makes control frames invalid: sent as they are
        def encode(self, frame: Frame) -> Frame:
            return dataclasses.replace(frame, fin=False)

    same_with_and_without(lambda: Frame(Opcode.PING, b"p").serialize(mask=mask, extensions=[Unfinished()]), monkeypatch)
    for bad in (Frame(Opcode.PING, b"x" * 126), Frame(Opcode.PING, b"", fin=False), Frame(Opcode.TEXT, b"", rsv2=True)):
        errors = [
            compat_helpers.run(adapter, installed, lambda: pytest.raises(ProtocolError, bad.serialize, mask=mask).value)
            for installed in (False, True)
        ]
        assert str(errors[0]) == str(errors[1])


def test_status_and_replaced(core: Any) -> None:
    import websockets.version

    assert adapter.status() == "own code" and adapter.replaced() == []
    adapter.install()
    assert fastws.compat.status()["websockets"] == adapter.status()
    if websockets.version.version in adapter.SUPPORTED:  # CI also runs these tests on each pinned release
        assert adapter.replaced() == ["apply_mask", "frame parsing (Protocol.parse)", "frame serialisation (Frame.serialize)"]
        assert Protocol.parse is not ORIGINAL_PARSE and Frame.serialize is not ORIGINAL_SERIALIZE
    else:
        assert adapter.replaced() == ["apply_mask"] and "is not one of the versions" in adapter.status()
    adapter.uninstall()
    assert Protocol.parse is ORIGINAL_PARSE and Frame.serialize is ORIGINAL_SERIALIZE and adapter.replaced() == []


def test_an_unknown_version_gets_apply_mask_only(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import websockets.version

    monkeypatch.setattr(websockets.version, "version", "99.0")
    assert adapter.install()
    assert adapter.replaced() == ["apply_mask"] and websockets.frames.apply_mask is core.apply_mask
    assert Protocol.parse is ORIGINAL_PARSE and Frame.serialize is ORIGINAL_SERIALIZE
    assert "websockets 99.0 is not one of the versions" in adapter.status()
    adapter.uninstall()


def test_a_failed_install_changes_nothing(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import websockets.protocol
    import websockets.version

    monkeypatch.setattr(websockets.version, "version", adapter.SUPPORTED[-1])  # whatever is installed
    monkeypatch.delattr(websockets.protocol, "SERVER")
    with pytest.raises(ImportError):
        adapter.install()
    assert not adapter.installed() and websockets.frames.apply_mask is ORIGINAL and Protocol.parse is ORIGINAL_PARSE


# -- the asyncio and sync implementations, over loopback --------------------------------

MESSAGES: List[Any] = ["", "héllo", "x" * 70000, b"", b"\x00\xff" * 40000, ["frag", "ment"], [b"a", b"b", b"c"]]


async def asyncio_exchange(compression: Any) -> Any:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    got: List[Any] = []
    async with serve(echo, "127.0.0.1", 0, compression=compression, max_size=2**17) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=compression) as ws:
            for message in MESSAGES:
                await ws.send(message)
                got.append(await ws.recv())
            await ws.ping(b"hi")
            await ws.send(b"x" * (2**17 + 1))  # over the server's max_size: 1009
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                got.append((type(closed).__name__, closed.rcvd.code, closed.rcvd.reason))
        got.append(await raw_exchange(port, wire(1, b"ok") + wire(1, b"\xc3", fin=False) + wire(0, b"(")))
        got.append(await raw_exchange(port, wire(2, b"ok") + wire(2, b"no mask", masked=False)))
    return got


async def raw_exchange(port: int, frames: bytes) -> bytes:
    """Handshake, then ``frames``; what the server sends back until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    writer.write(frames)
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


@pytest.mark.parametrize("compression", ["deflate", None])
def test_asyncio_server_and_client(core: Any, compression: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    got = same_with_and_without(lambda: asyncio.run(asyncio_exchange(compression)), monkeypatch)
    assert got[: len(MESSAGES)] == [message if not isinstance(message, list) else type(message[0])().join(message) for message in MESSAGES]
    assert got[len(MESSAGES)][1] == 1009
    assert got[-2].startswith(b"\x81\x02ok\x88") and got[-1] == b"\x88\x13\x03\xeaincorrect masking"


def test_sync_server_and_client(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    from websockets.sync.server import serve

    def echo(ws: Any) -> None:
        for message in ws:
            ws.send(message)

    def scenario() -> Any:
        got: List[Any] = []
        with serve(echo, "127.0.0.1", 0, max_size=2**17) as server:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            port = server.socket.getsockname()[1]
            with connect(f"ws://127.0.0.1:{port}") as ws:
                for message in MESSAGES:
                    ws.send(message)
                    got.append(ws.recv())
                ws.send(b"x" * (2**17 + 1))
                try:
                    ws.recv()
                except ConnectionClosed as closed:
                    got.append((type(closed).__name__, closed.rcvd.code, closed.rcvd.reason))
            server.shutdown()
            thread.join()
        return got

    got = same_with_and_without(scenario, monkeypatch)
    assert got[-1][:2] == ("ConnectionClosedError", 1009) and got[-1][2].endswith("exceeds limit of 131072 bytes")
