"""permessage-deflate's decompressor fed arbitrary frames, and its round trip.

Only ``zlib.error`` (corrupt data: the connection answers it with 1002) and
``ProtocolError`` 1009 (over the limit) may escape ``decompress``, and no output
may pass the limit. What one codec compresses, its peer's codec decompresses back.

Input: byte 0 = settings (bit 0 client, bit 1 no context takeover, bits 2-3 limit,
bit 4 round trip instead of raw, bit 5 raw data is compressed first, so that it
is mostly valid, and bit 6 has one byte of it flipped), byte 1 = seed, rest = data.
"""

from __future__ import annotations

import random
import zlib

from _common import ProtocolError, run

from fastws.protocol import PerMessageDeflate
from fastws.protocol._deflate import DeflateCodec

LIMITS = (None, 0, 1000, 2**20)


def raw(codec: DeflateCodec, data: bytes, seed: int, limit: object) -> None:
    rng = random.Random(seed)
    position = 0
    while position < len(data):
        size = rng.choice((0, 1, 5, 30, 200, 5000))
        piece, position = data[position : position + size], position + size
        fin = rng.random() < 0.5 or position >= len(data)
        try:
            out = codec.decompress(piece, fin, limit)
        except zlib.error:
            return
        except ProtocolError as error:
            assert error.close_code == 1009 and limit is not None, (error.close_code, limit)
            return
        assert limit is None or len(out) <= limit, (len(out), limit)


def round_trip(agreed: PerMessageDeflate, client: bool, data: bytes, seed: int) -> None:
    sender, receiver = DeflateCodec(agreed, client), DeflateCodec(agreed, not client)
    rng = random.Random(seed)
    for _ in range(3):  # a few messages, so that the context carries over (or not)
        cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(3)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        out = b"".join(
            receiver.decompress(sender.compress(p, i == len(pieces) - 1), i == len(pieces) - 1, None) for i, p in enumerate(pieces)
        )
        assert out == data, (out, data)


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    settings, seed, body = data[0], data[1], data[2:]
    client = bool(settings & 1)
    no_takeover = bool(settings & 2)
    agreed = PerMessageDeflate(server_no_context_takeover=no_takeover, client_no_context_takeover=no_takeover)
    if settings & 16:
        round_trip(agreed, client, body, seed)
    else:
        if settings & 32:
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            body = compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if settings & 64 and body:
                flipped = bytearray(body)
                flipped[seed % len(body)] ^= 1 << (seed % 8)
                body = bytes(flipped)
        raw(DeflateCodec(agreed, client), body, seed, LIMITS[(settings >> 2) & 3])


if __name__ == "__main__":
    run(test_one_input)
