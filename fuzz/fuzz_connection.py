"""The protocol connection after a valid handshake (with and without
permessage-deflate), fed arbitrary bytes in random chunks. Over the Cython core and
over the pure one it must report the same events and, as a server (whose frames are
not masked), write the same bytes. ``receive_data`` must raise nothing.

Input: byte 0 = settings (bit 0 server, bit 1 deflate, bit 2 no context takeover,
bit 3 stream_messages, bits 4-5 max_message_size, bit 6 structured, bit 7 EOF at
the end), bytes 1-2 = chunking seed, rest = the stream.

A structured stream is a list of frames to build, so that the fuzzer reaches
compressed and fragmented messages: per frame one byte (bits 0-3 opcode, bit 4 FIN,
bit 5 RSV1, bit 6 compress the payload, bit 7 break the masking rule), one length
byte, then the payload.
"""

from __future__ import annotations

import zlib
from typing import Any, List, Tuple

from _common import CY, PY, cut, run, same

from fastws.protocol import (
    AcceptConnection,
    ConnectionState,
    PerMessageDeflate,
    Request,
    _handshake,
    load_implementation,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = _handshake.accept_key(KEY)
_handshake.make_key = lambda: KEY  # so that the client's handshake is fixed
REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\nSec-WebSocket-Version: 13\r\n"
)
LIMITS = (2**20, 0, 125, None)


def build(stream: bytes, masked: bool) -> bytes:
    """The wire for a structured stream (see the module's docstring)."""
    out: List[bytes] = []
    position = 0
    while position + 2 <= len(stream):
        op, length = stream[position], stream[position + 1]
        payload = stream[position + 2 : position + 2 + length]
        position += 2 + length
        if op & 0x40:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if op & 0x10 and payload.endswith(b"\x00\x00\xff\xff"):
                payload = payload[:-4]
        first = (0x80 if op & 0x10 else 0) | (0x40 if op & 0x20 else 0) | (op & 0x0F)
        mask_it = masked != bool(op & 0x80)
        key = b"\x01\x02\x03\x04"
        size = len(payload)
        header = bytes([first]) + (
            bytes([0x80 * mask_it | size]) if size < 126 else bytes([0x80 * mask_it | 126]) + size.to_bytes(2, "big")
        )
        if mask_it:
            payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
            header += key
        out.append(header + payload)
    return b"".join(out)


def connect(core: Any, server: bool, deflate: Any, options: dict) -> Any:
    if server:
        connection = load_implementation(core).ServerConnection(**options)
        offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else b""
        connection.receive_data(REQUEST + offer + b"\r\n")
        (request,) = connection.events()
        assert isinstance(request, Request), request
        connection.send(AcceptConnection(extensions=(deflate,) if deflate else ()))
    else:
        connection = load_implementation(core).ClientConnection(**options)
        connection.send(Request(host="example.com", extensions=(deflate,) if deflate else ()))
        answer = ""
        if deflate:
            flags = [name for name in ("server_no_context_takeover", "client_no_context_takeover") if getattr(deflate, name)]
            answer = f"Sec-WebSocket-Extensions: {'; '.join(['permessage-deflate', *flags])}\r\n"
        connection.receive_data(
            f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n{answer}\r\n".encode()
        )
        (accepted,) = connection.events()
        assert isinstance(accepted, AcceptConnection), accepted
    assert connection.state is ConnectionState.OPEN
    return connection


def session(core: Any, server: bool, deflate: Any, options: dict, chunks: List[bytes], eof: bool) -> List[Tuple[Any, ...]]:
    connection = connect(core, server, deflate, options)
    record: List[Tuple[Any, ...]] = []
    for chunk in chunks:
        connection.receive_data(chunk)
        sent = connection.data_to_send()
        record.append((connection.events(), sent if server else len(sent), connection.state))
    if eof:
        connection.receive_eof()
        record.append((connection.events(), connection.state, connection.should_close_transport))
    return record


def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    settings, seed, stream = data[0], int.from_bytes(data[1:3], "little"), data[3:]
    server = bool(settings & 1)
    deflate = None
    if settings & 2:
        deflate = PerMessageDeflate(client_no_context_takeover=bool(settings & 4), server_no_context_takeover=bool(settings & 4))
    options = {"stream_messages": bool(settings & 8), "max_message_size": LIMITS[(settings >> 4) & 3]}
    wire = build(stream, server) if settings & 0x40 else stream
    chunks = cut(wire, seed)
    eof = bool(settings & 0x80)
    cython = session(CY, server, deflate, options, chunks, eof)
    python = session(PY, server, deflate, options, chunks, eof)
    same("Connection.receive_data", cython, python, data)


if __name__ == "__main__":
    run(test_one_input)
