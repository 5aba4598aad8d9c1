"""A client and a server driven against each other in memory: thousands of random
messages (sizes, fragmentation, interleaved pings, compression on and off, wire
bytes cut at random places), every one arriving intact and in order."""

from __future__ import annotations

import random

import pytest
from protocol_helpers import pair

from fastws.protocol import BinaryMessage, CloseConnection, PerMessageDeflate, Ping, Pong, TextMessage

ALPHABET = "aé€😀 \n"


def random_message(rng: random.Random):
    size = rng.choice([0, 1, 2, 10, 125, 126, 127, 1000, 65535, 65536, 70000]) if rng.random() < 0.2 else rng.randrange(200)
    if rng.random() < 0.5:
        return "".join(rng.choice(ALPHABET) for _ in range(size // 4))
    return rng.randbytes(size) if rng.random() < 0.5 else bytes(size)


def send_message(rng, sender, message, received_pings):
    """The wire bytes of ``message`` in 1 to 4 fragments, with pings between them."""
    cuts = sorted(rng.randrange(len(message) + 1) for _ in range(rng.choice([0, 0, 1, 3])))
    pieces = [message[a:b] for a, b in zip([0] + cuts, cuts + [len(message)])]
    send = sender.send_text if isinstance(message, str) else sender.send_binary
    wire = b""
    for index, piece in enumerate(pieces):
        if rng.random() < 0.1:
            payload = rng.randbytes(rng.randrange(126))
            wire += sender.send_ping(payload)
            received_pings.append(Ping(payload))
        wire += send(piece, fin=index == len(pieces) - 1)
    return wire


def deliver(rng, receiver, wire):
    position = 0
    while position < len(wire):
        step = rng.choice([1, 7, 100, 5000, len(wire)])
        receiver.receive_data(wire[position : position + step])
        position += step
    return receiver.events()


@pytest.mark.parametrize(
    "deflate", [None, PerMessageDeflate(), PerMessageDeflate(client_no_context_takeover=True, server_max_window_bits=9)]
)
def test_random_traffic(impl, deflate):
    rng = random.Random(6455 + (0 if deflate is None else 7692))
    client, server = pair(impl, deflate, max_message_size=None)
    count = 700
    for sender, receiver in ((client, server), (server, client)):
        expected, pings, wire = [], [], b""
        for _ in range(count):
            message = random_message(rng)
            wire += send_message(rng, sender, message, pings)
            expected.append(TextMessage(message) if isinstance(message, str) else BinaryMessage(message))
        events = deliver(rng, receiver, wire)
        assert [e for e in events if not isinstance(e, Ping)] == expected
        assert [e for e in events if isinstance(e, Ping)] == pings
        pongs = deliver(rng, sender, receiver.data_to_send())
        # Everything was received before the pongs were taken: a pong each for up to
        # 16 pings, then one shared by the rest, for the latest (RFC 6455 §5.5.3).
        answered = pings if len(pings) <= 16 else pings[:15] + pings[-1:]
        assert pongs == [Pong(ping.payload) for ping in answered]
    assert deliver(rng, server, client.close(1000, "bye")) == [CloseConnection(1000, "bye")]
    assert deliver(rng, client, server.data_to_send()) == [CloseConnection(1000, "")]
