"""fastws.protocol._deflate: permessage-deflate negotiation and codec (RFC 7692)."""

from __future__ import annotations

import os
import tracemalloc
import zlib

import pytest
from protocol_helpers import feed, pair

from fastws import Opcode
from fastws.errors import ProtocolError
from fastws.protocol import BinaryMessage, HandshakeError, PerMessageDeflate, TextMessage
from fastws.protocol._deflate import DeflateCodec
from fastws.protocol._http import parse_extensions


def params(text: str):
    ((_, found),) = parse_extensions([text])
    return found


# -- the client's offer and the server's answer -----------------------------------

OFFERS = [
    # (client settings, offer it sends)
    (PerMessageDeflate(), "permessage-deflate; client_max_window_bits"),
    (
        PerMessageDeflate(client_no_context_takeover=True, server_max_window_bits=10, client_max_window_bits=12),
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
    ),
    (PerMessageDeflate(server_no_context_takeover=True), "permessage-deflate; server_no_context_takeover; client_max_window_bits"),
]


@pytest.mark.parametrize("settings, offer", OFFERS)
def test_offers(settings, offer):
    assert settings.offer() == offer


SERVER_ANSWERS = [
    # (server settings, client's offer, response or None when declined)
    (PerMessageDeflate(), "permessage-deflate", "permessage-deflate"),
    (PerMessageDeflate(), "permessage-deflate; client_max_window_bits", "permessage-deflate"),
    (
        PerMessageDeflate(client_max_window_bits=10),
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=10",
    ),
    (
        PerMessageDeflate(client_max_window_bits=10),
        "permessage-deflate; client_max_window_bits=9",
        "permessage-deflate; client_max_window_bits=9",
    ),
    (PerMessageDeflate(client_max_window_bits=10), "permessage-deflate", None),
    (PerMessageDeflate(), "permessage-deflate; server_max_window_bits=12", "permessage-deflate; server_max_window_bits=12"),
    (
        PerMessageDeflate(server_max_window_bits=10),
        "permessage-deflate; server_max_window_bits=12",
        "permessage-deflate; server_max_window_bits=10",
    ),
    (PerMessageDeflate(server_max_window_bits=10), "permessage-deflate", "permessage-deflate; server_max_window_bits=10"),
    (PerMessageDeflate(), "permessage-deflate; server_max_window_bits=8", None),  # zlib cannot compress with 8
    (
        PerMessageDeflate(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    (
        PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True),
        "permessage-deflate",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    (PerMessageDeflate(), "permessage-deflate; unknown", None),
    (PerMessageDeflate(), "permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
    (PerMessageDeflate(), "permessage-deflate; server_no_context_takeover=1", None),
    (PerMessageDeflate(), "permessage-deflate; server_max_window_bits", None),
    (PerMessageDeflate(), "permessage-deflate; server_max_window_bits=16", None),
    (PerMessageDeflate(), "permessage-deflate; server_max_window_bits=010", None),
    (PerMessageDeflate(), 'permessage-deflate; client_max_window_bits="7"', None),
    (PerMessageDeflate(), 'permessage-deflate; client_max_window_bits="10"', "permessage-deflate"),
]


@pytest.mark.parametrize("settings, offer, response", SERVER_ANSWERS)
def test_server_answers(settings, offer, response):
    answer = settings.accept_offer(params(offer))
    assert (answer and answer[0]) == response


CLIENT_CHECKS = [
    # (client settings, server response, agreed settings or None when the client fails)
    (PerMessageDeflate(), "permessage-deflate", PerMessageDeflate()),
    (
        PerMessageDeflate(),
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
        PerMessageDeflate(server_no_context_takeover=True, client_max_window_bits=9),
    ),
    (PerMessageDeflate(), "permessage-deflate; client_max_window_bits", None),
    (PerMessageDeflate(), "permessage-deflate; client_max_window_bits=8", None),
    (PerMessageDeflate(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=11", None),
    (PerMessageDeflate(server_no_context_takeover=True), "permessage-deflate", None),
    (PerMessageDeflate(server_max_window_bits=10), "permessage-deflate", None),
    (PerMessageDeflate(server_max_window_bits=10), "permessage-deflate; server_max_window_bits=11", None),
    (
        PerMessageDeflate(server_max_window_bits=10),
        "permessage-deflate; server_max_window_bits=9",
        PerMessageDeflate(server_max_window_bits=9),
    ),
    (PerMessageDeflate(), "permessage-deflate; foo=bar", None),
    (PerMessageDeflate(), "permessage-deflate; client_no_context_takeover", PerMessageDeflate(client_no_context_takeover=True)),
]


@pytest.mark.parametrize("settings, response, agreed", CLIENT_CHECKS)
def test_client_checks(settings, response, agreed):
    if agreed is None:
        with pytest.raises(HandshakeError):
            settings.accept_response(params(response))
    else:
        assert settings.accept_response(params(response)) == agreed


@pytest.mark.parametrize("bits", [8, 16, 0])
def test_settings_are_checked(bits):
    with pytest.raises(ValueError):
        PerMessageDeflate(server_max_window_bits=bits)
    with pytest.raises(ValueError):
        PerMessageDeflate(compression_level=10)


# -- the codec --------------------------------------------------------------------


@pytest.mark.parametrize("takeover", [False, True])
def test_codec_round_trip_and_context_takeover(takeover):
    agreed = PerMessageDeflate(server_no_context_takeover=not takeover, client_no_context_takeover=not takeover, client_max_window_bits=9)
    client, server = DeflateCodec(agreed, True), DeflateCodec(agreed, False)
    message = b"the same words again and again " * 20
    sizes = []
    for _ in range(3):
        wire = client.compress(message, True)
        sizes.append(len(wire))
        assert server.decompress(wire, True, None) == message
    assert (sizes[1] < sizes[0]) is takeover  # the second message refers to the first
    pieces = [server.compress(b"abc", False), server.compress(b"def", True)]
    assert pieces[0].endswith(b"\x00\x00\xff\xff") and not pieces[1].endswith(b"\x00\x00\xff\xff")
    assert client.decompress(pieces[0], False, None) + client.decompress(pieces[1], True, None) == b"abcdef"


def test_a_final_deflate_block_is_allowed():
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(b"final") + compressor.flush(zlib.Z_FINISH)
    codec = DeflateCodec(PerMessageDeflate(), False)
    assert codec.decompress(data, True, None) == b"final"
    assert codec.decompress(DeflateCodec(PerMessageDeflate(), True).compress(b"next", True), True, None) == b"next"


def test_deflate_bomb_is_refused_with_bounded_memory():
    bomb = DeflateCodec(PerMessageDeflate(), True).compress(b"\x00" * 50_000_000, True)
    assert len(bomb) < 60_000
    codec = DeflateCodec(PerMessageDeflate(), False)
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as raised:
            codec.decompress(bomb, True, 100_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raised.value.close_code == 1009 and peak < 2_000_000


# -- through connections ----------------------------------------------------------


def test_rsv1_only_on_the_first_frame(impl):
    client, server = pair(impl, PerMessageDeflate())
    first, second = server.send_text("ab", fin=False), server.send_text("cd")
    assert impl.parse_header(first).rsv1 and not impl.parse_header(second).rsv1
    assert impl.parse_header(first).opcode == Opcode.TEXT
    assert feed(client, first + second) == [TextMessage("abcd")]


@pytest.mark.parametrize(
    "agreed",
    [
        PerMessageDeflate(),
        PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True),
        PerMessageDeflate(server_max_window_bits=9, client_max_window_bits=9),
    ],
)
def test_negotiated_connections_exchange(impl, agreed):
    client, server = pair(impl, agreed)
    assert client.extensions and server.extensions
    data = [os.urandom(500), b"abc" * 3000, b""]
    for item in data:
        assert feed(server, client.send_binary(item)) == [BinaryMessage(item)]
        assert feed(client, server.send_binary(item)) == [BinaryMessage(item)]


def test_server_without_deflate_ignores_the_offer(impl):
    client, server = pair(impl, PerMessageDeflate(), server_deflate=None)
    assert client.extensions == () and server.extensions == ()


def test_compressed_message_over_the_limit(impl):
    client, server = pair(impl, PerMessageDeflate(), max_message_size=1000)
    (failed,) = feed(server, client.send_binary(b"\x00" * 1001))
    assert failed.code == 1009
