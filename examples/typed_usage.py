"""fastws from typed code: the framing core and the sans-IO protocol, checked by
``mypy --strict`` (tests/test_typing.py) and run as a script (``python examples/typed_usage.py``).

No network: a client and a server talk through byte strings in memory.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import fastws
from fastws.protocol import (
    AcceptConnection,
    ClientConnection,
    Event,
    Request,
    ServerConnection,
    TextMessage,
)

MASK = b"\x37\xfa\x21\x3d"


def mask_in_pieces(payload: bytes, pieces: int) -> bytes:
    """Masks ``payload`` fed in ``pieces`` parts, as it arrives from a socket."""
    masker = fastws.Masker(MASK)
    step = max(1, len(payload) // pieces)
    return b"".join(masker.process(payload[start : start + step]) for start in range(0, len(payload), step))


def first_invalid_byte(chunks: List[bytes]) -> Optional[int]:
    """Where incremental UTF-8 validation stops, or None when the text is valid."""
    validator = fastws.Utf8Validator()
    try:
        for chunk in chunks:
            validator.feed(chunk)
        validator.finish()
    except fastws.InvalidUtf8 as error:
        assert error.close_code == 1007
        return error.position
    return None


def frames_of(wire: bytes) -> List[fastws.Frame]:
    """A server's view of what a client sent, fed one byte at a time."""
    parser = fastws.FrameParser("server", max_frame_size=2**16)
    frames: List[fastws.Frame] = []
    for index in range(len(wire)):
        frames.extend(parser.feed(wire[index : index + 1]))
    return frames


def close_reason(payload: bytes) -> Tuple[Union[fastws.CloseCode, int], str]:
    return fastws.parse_close(payload)


def handshake() -> Tuple[ClientConnection, ServerConnection]:
    client = ClientConnection()
    server = ServerConnection()
    server.receive_data(client.send(Request(host="localhost", target="/chat")))
    request: List[Event] = server.events()
    assert isinstance(request[0], Request)
    client.receive_data(server.send(AcceptConnection()))
    assert isinstance(client.events()[0], AcceptConnection)
    return client, server


def main() -> None:
    assert mask_in_pieces(b"Hello", 3) == fastws.apply_mask(b"Hello", MASK)
    buffer = bytearray(b"Hello")
    fastws.apply_mask_into(buffer, MASK)
    assert bytes(buffer) == fastws.apply_mask(b"Hello", MASK)

    assert fastws.validate_utf8("déjà vu".encode())
    assert first_invalid_byte([b"ok \xed", b"\xa0"]) == 4
    assert first_invalid_byte(["déjà".encode()]) is None

    wire = fastws.encode_frame(fastws.Opcode.TEXT, b"Hello", mask=MASK)
    header = fastws.parse_header(wire)
    assert header is not None and header.payload_length == 5 and header.masked
    (frame,) = frames_of(wire)
    assert frame.opcode is fastws.Opcode.TEXT and frame.payload == b"Hello" and frame.fin

    code, reason = close_reason(fastws.encode_close(1000, "bye"))
    assert code == fastws.CloseCode.NORMAL_CLOSURE and reason == "bye"

    try:
        fastws.FrameParser("server").feed(b"\x81\x05Hello")  # unmasked client frame
    except fastws.ProtocolError as error:
        assert error.close_code == 1002
    else:
        raise AssertionError("an unmasked client frame must be refused")

    client, server = handshake()
    server.receive_data(client.send_text("hi"))
    (message,) = server.events()
    assert isinstance(message, TextMessage) and message.data == "hi"

    print(f"fastws {fastws.__version__}: {fastws.implementation}, simd {fastws.simd}: typed usage OK")


if __name__ == "__main__":
    main()
