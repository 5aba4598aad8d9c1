"""Messages per second through a fastws client/server pair in memory (sans-IO
protocol layer over each core), for small messages.

    pytest bench/test_protocol.py --benchmark-only --benchmark-group-by=group

Each round sends BATCH messages client -> server (masked) and BATCH server ->
client, each direction in one write, and reads every event: messages/s is
2 * BATCH / the round's time.
"""

from __future__ import annotations

from typing import Any, Tuple

import pytest

from fastws.protocol import load_implementation, AcceptConnection, ClientConnection, PerMessageDeflate, Request, ServerConnection

BATCH = 100


def _pair(core: Any, deflate: bool) -> Tuple[ClientConnection, ServerConnection]:
    extensions = (PerMessageDeflate(),) if deflate else ()
    client, server = load_implementation(core).ClientConnection(), load_implementation(core).ServerConnection()
    server.receive_data(client.send(Request(host="bench", extensions=extensions)))
    server.events()
    client.receive_data(server.send(AcceptConnection(extensions=extensions)))
    client.events()
    return client, server


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize("kind", ["text", "binary"])
def test_round_trip_small_messages(benchmark, contender, kind, deflate):
    client, server = _pair(contender, deflate)
    text = '{"type":"tick","price":101.25,"seq":12345}'
    payload = text if kind == "text" else text.encode()
    client_send = client.send_text if kind == "text" else client.send_binary
    server_send = server.send_text if kind == "text" else server.send_binary

    def round_trip() -> None:
        server.receive_data(b"".join([client_send(payload) for _ in range(BATCH)]))
        assert len(server.events()) == BATCH
        client.receive_data(b"".join([server_send(payload) for _ in range(BATCH)]))
        assert len(client.events()) == BATCH

    benchmark.group = f"protocol round trip, {BATCH}+{BATCH} small {kind} messages, {'deflate' if deflate else 'plain'}"
    benchmark(round_trip)
