"""Writes the seed corpus (fuzz/corpus/<target>/): a few valid and invalid inputs
per target, in each target's input layout. Run it again after changing a layout;
the files are committed, and what libFuzzer adds while fuzzing goes elsewhere
(run_all.sh gives it a scratch directory). Files named regression-* are inputs
that once crashed a target: kept as they are.

    python fuzz/make_corpus.py
"""

from __future__ import annotations

import hashlib
import os
import zlib
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
KEY_MASK = b"\x37\xfa\x21\x3d"


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = False, rsv1: bool = False, length_code: int = -1) -> bytes:
    size = len(payload)
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    bit = 0x80 if mask else 0
    if length_code == 127 or size > 0xFFFF:
        header = bytes([first, bit | 127]) + size.to_bytes(8, "big")
    elif length_code == 126 or size > 125:
        header = bytes([first, bit | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([first, bit | size])
    if mask:
        payload = bytes(b ^ KEY_MASK[i & 3] for i, b in enumerate(payload))
        header += KEY_MASK
    return header + payload


def seeds() -> Dict[str, List[bytes]]:
    wire_client = (
        frame(1, b"Hello", mask=True)
        + frame(0x9, b"hb", mask=True)
        + frame(2, b"\x00" * 130, mask=True, fin=False)
        + frame(0, b"end", mask=True)
    )
    wire_server = frame(1, b"Hello") + frame(0xA, b"") + frame(8, b"\x03\xe8bye") + frame(2, bytes(300), length_code=127)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    compressed = (compressor.compress(b"Hello, Hello, Hello") + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    request = (
        b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n"
        b"Sec-WebSocket-Protocol: chat, v2\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    )
    response = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n" + frame(1, b"hi")
    )
    reject = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!"
    # Structured frames for fuzz_connection: op byte, length byte, payload.
    structured = (
        bytes([0x01, 5])
        + b"Hello"
        + bytes([0x11, 2])
        + b"\xc3\xa9"
        + bytes([0x19, 1])
        + b"p"
        + bytes([0x78, 6])
        + b"zipped"
        + bytes([0x18, 2])
        + b"\x03\xe8"
    )
    return {
        "fuzz_frame_parser": [
            b"\x01\x00\x00\x00" + wire_client,
            b"\x01\x01\x00\x01" + wire_client,
            b"\x61\x07\x00\x02" + wire_client,
            b"\x00\x02\x01\x00" + wire_server,
            b"\x22\x09\x00\x01" + frame(1, b"x", rsv1=True) + frame(3, b""),
            b"\x05\x03\x00\x00" + frame(2, b"", mask=True)[:1] + b"\xff" + b"\x7f" * 8,
            b"\x08\x05\x00\x00" + frame(2, bytes(200)),
        ],
        "fuzz_utf8": [
            b"\x00\x00\x00" + "déjà vu €𝄞".encode(),
            b"\x01\x00\x10" + "日本語テキスト".encode() * 3,
            b"\x07\x00\x21ok \xed\xa0\x80",
            b"\x00\x00\x32\xe2\x82",
            b"\x05\x00\x03" + b"a" * 70 + b"\xf4\x90\x80\x80",
            b"\x00\x00\x00\xc0\xaf\xf8",
        ],
        "fuzz_close": [b"\x00", b"\x00\x03\xe8bye", b"\x01\x03\xe8", b"\x02\x03\xed", b"\x03\x0f\xa0\xff", b"\x00\x03"],
        "fuzz_header": [
            b"\x08\x00" + frame(1, b"Hello", mask=True),
            b"\x08\x01" + frame(2, bytes(200)),
            b"\x09\x02\x00" + frame(2, bytes(70000))[:14],
            b"\x08\x03\x82\x7f\x80" + bytes(7),
            b"\x08\x00\x89\x7e\x00\x01",
            b"\x20\x00\x81",
        ],
        "fuzz_handshake": [
            b"\x01\x00\x00" + request,
            b"\x01\x01\x00" + request,
            b"\x00\x00\x00" + response,
            b"\x02\x05\x00" + reject,
            b"\x03\x00\x00" + request.replace(b"\r\n\r\n", b"\r\nX: y\r\n" * 5 + b"\r\n"),
        ],
        "fuzz_connection": [
            b"\x01\x00\x00" + wire_client,
            b"\x00\x01\x00" + wire_server,
            b"\x43\x00\x00" + structured,
            b"\x4b\x05\x00" + structured,
            b"\xc2\x00\x00" + structured,
            b"\x13\x00\x00" + frame(1, compressed, mask=True, rsv1=True),
        ],
        "fuzz_deflate": [
            b"\x00\x00" + compressed,
            b"\x01\x05" + compressed,
            b"\x24\x03" + b"A" * 500,
            b"\x64\x07hello hello",
            b"\x10\x02" + b"round trip " * 10,
            b"\x12\x09xyz",
        ],
    }


def main() -> None:
    for target, inputs in seeds().items():
        directory = os.path.join(HERE, "corpus", target)
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if not name.startswith("regression-"):
                os.remove(os.path.join(directory, name))
        for data in inputs:
            with open(os.path.join(directory, hashlib.sha1(data).hexdigest()[:16]), "wb") as file:
                file.write(data)


if __name__ == "__main__":
    main()
