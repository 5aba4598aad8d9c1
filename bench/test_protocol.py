"""Messages per second through a fastws client/server pair in memory (the sans-IO
protocol layer alone: no sockets, no event loop).

As a script, the figures for each implementation, each in its own process (chosen by
FASTWS_NO_EXTENSIONS, as users choose it):

    python bench/test_protocol.py [--seconds 3] [--rounds 3] [--implementations cython,python] [--json FILE]

    16 B binary, 16 B text    no extension
    1 KiB text, deflate       permessage-deflate at the protocol's default settings, every
                              message different JSON-like text (context takeover on)

and, for deflate, the share of the time that is zlib's own: the same compressor and
decompressor calls (the agreed level and window, a sync flush per message, the same
output bound) on the same payloads, timed alone, in turn with the protocol's rounds. Under pytest-benchmark, the same
pair over each core and SIMD level:

    pytest bench/test_protocol.py --benchmark-only --benchmark-group-by=group

Each round sends BATCH messages client -> server (masked) and BATCH server -> client,
each direction in one write, and reads every event: messages/s is 2 * BATCH / the
round's time (the median round).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from fastws.protocol import (
    DEFAULT_MAX_MESSAGE_SIZE,
    AcceptConnection,
    ClientConnection,
    PerMessageDeflate,
    Request,
    ServerConnection,
    load_implementation,
)

BATCH = 100
SRC = Path(__file__).resolve().parent.parent / "src"
#: Script mode: (name, payload kind, size, deflate?)
CASES = [("16 B binary", "binary", 16, False), ("16 B text", "text", 16, False), ("1 KiB text, deflate", "json", 1024, True)]
_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: stripped after each compressed message


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
def test_round_trip_small_messages(benchmark, contender, kind, deflate):  # type: ignore[no-untyped-def]
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


# -- script mode ------------------------------------------------------------------------


def payloads(kind: str, size: int) -> List[Any]:
    """BATCH messages: one repeated for the small cases, all different for deflate."""
    rng = random.Random(size)
    if kind == "binary":
        return [rng.randbytes(size)] * BATCH
    if kind == "text":
        return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size))] * BATCH
    out = []
    for seq in range(BATCH):
        text = ""
        while len(text) < size:
            text += (
                json.dumps(
                    {
                        "seq": seq,
                        "symbol": rng.choice(["EURUSD", "GBPUSD", "USDJPY", "AUDUSD"]),
                        "bid": round(rng.uniform(0.5, 150), 5),
                        "ask": round(rng.uniform(0.5, 150), 5),
                        "volume": rng.randrange(1, 10**6),
                        "side": rng.choice(["buy", "sell"]),
                    }
                )
                + ","
            )
        out.append(text[:size])
    return out


def median_rounds(round_trips: List[Callable[[], None]], seconds: float) -> List[float]:
    """The median time of one round of each function, over ``seconds`` of rounds taken
    in turn (so that they share the machine's moods), after one untimed round each."""
    for round_trip in round_trips:
        round_trip()
    times: List[List[float]] = [[] for _ in round_trips]
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times[0]) < 5:
        for round_trip, taken in zip(round_trips, times):
            start = time.perf_counter()
            round_trip()
            taken.append(time.perf_counter() - start)
    return [statistics.median(taken) for taken in times]


def connected(deflate: bool) -> Tuple[ClientConnection, ServerConnection, Optional[PerMessageDeflate]]:
    """A client and a server after the handshake, and the agreed deflate settings."""
    extensions = (PerMessageDeflate(),) if deflate else ()
    client, server = ClientConnection(), ServerConnection()
    server.receive_data(client.send(Request(host="bench", extensions=extensions)))
    server.events()
    client.receive_data(server.send(AcceptConnection(extensions=extensions)))
    (accepted,) = client.events()
    agreed = accepted.extensions[0] if accepted.extensions else None  # type: ignore[attr-defined]
    return client, server, agreed


def protocol_round(kind: str, size: int, deflate: bool) -> Tuple[Callable[[], None], Optional[PerMessageDeflate], List[Any]]:
    client, server, agreed = connected(deflate)
    messages = payloads(kind, size)
    text = kind != "binary"
    client_send = client.send_text if text else client.send_binary
    server_send = server.send_text if text else server.send_binary
    server.receive_data(b"".join([client_send(message) for message in messages]))
    client.receive_data(b"".join([server_send(message) for message in messages]))
    for events in (server.events(), client.events()):
        if [event.data for event in events] != messages:  # type: ignore[attr-defined]
            raise AssertionError(f"{kind} {size}: the messages received differ from those sent")

    def round_trip() -> None:
        server.receive_data(b"".join([client_send(message) for message in messages]))
        if len(server.events()) != BATCH:
            raise AssertionError("the server lost messages")
        client.receive_data(b"".join([server_send(message) for message in messages]))
        if len(client.events()) != BATCH:
            raise AssertionError("the client lost messages")

    return round_trip, agreed, messages


def zlib_round(agreed: PerMessageDeflate, messages: List[Any]) -> Callable[[], None]:
    """zlib's part of one round: each side compresses its BATCH messages with its own
    compressor and the other side decompresses them, as RFC 7692 §7.2 has it."""
    data = [message.encode() if isinstance(message, str) else message for message in messages]
    limit = DEFAULT_MAX_MESSAGE_SIZE + 1
    client_bits, server_bits = agreed.client_max_window_bits or 15, agreed.server_max_window_bits or 15
    directions = [
        (zlib.compressobj(agreed.compression_level, zlib.DEFLATED, -client_bits), zlib.decompressobj(-15)),
        (zlib.compressobj(agreed.compression_level, zlib.DEFLATED, -server_bits), zlib.decompressobj(-15)),
    ]
    sync = zlib.Z_SYNC_FLUSH
    if agreed.client_no_context_takeover or agreed.server_no_context_takeover:
        raise NotImplementedError("the zlib reference keeps both contexts, as the default settings do")

    def round_trip() -> None:
        for compressor, decompressor in directions:
            for payload in data:
                wire = (compressor.compress(payload) + compressor.flush(sync))[:-4]
                if len(decompressor.decompress(wire + _TAIL, limit)) != len(payload):
                    raise AssertionError("zlib lost data")

    return round_trip


def measure(seconds: float) -> Dict[str, Dict[str, float]]:
    """This process's figures (its implementation: FASTWS_NO_EXTENSIONS)."""
    results: Dict[str, Dict[str, float]] = {}
    for name, kind, size, deflate in CASES:
        round_trip, agreed, messages = protocol_round(kind, size, deflate)
        if agreed is None:
            (took,) = median_rounds([round_trip], seconds)
            results[name] = {"msgs_per_s": 2 * BATCH / took}
        else:
            took, zlib_took = median_rounds([round_trip, zlib_round(agreed, messages)], seconds)
            results[name] = {"msgs_per_s": 2 * BATCH / took, "zlib_share": zlib_took / took, "zlib_msgs_per_s": 2 * BATCH / zlib_took}
    return results


def run_worker(implementation: str, seconds: float) -> Dict[str, Dict[str, float]]:
    """The figures of one implementation, measured in a process of its own."""
    env = dict(os.environ, FASTWS_NO_EXTENSIONS="1" if implementation == "python" else "")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, __file__, "--worker", "--seconds", str(seconds)], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{implementation}: failed: {done.stderr.strip().splitlines()[-1:]}")
    answer = json.loads(done.stdout)
    if answer["implementation"] != implementation:
        raise RuntimeError(f"{implementation}: failed: the process ran the {answer['implementation']} implementation")
    return answer["figures"]  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per case and implementation, split between the rounds (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per implementation, in turn; figures are their medians")
    parser.add_argument("--implementations", default="cython,python")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        import fastws

        print(json.dumps({"implementation": fastws.implementation, "figures": measure(arguments.seconds)}))
        return 0
    implementations = arguments.implementations.split(",")
    rounds: Dict[str, List[Dict[str, Dict[str, float]]]] = {implementation: [] for implementation in implementations}
    for _ in range(arguments.rounds):
        for implementation in implementations:
            rounds[implementation].append(run_worker(implementation, arguments.seconds / arguments.rounds))
    results = {
        implementation: {
            name: {figure: statistics.median(each[name][figure] for each in taken) for figure in taken[0][name]} for name in taken[0]
        }
        for implementation, taken in rounds.items()
    }
    print(
        f"sans-IO client <-> server in memory, {BATCH}+{BATCH} messages a round, messages/s (median round; median of {arguments.rounds} processes)"
    )
    print("case".ljust(22) + "".join(f"{name:>12}" for name in results) + "   zlib's share (same calls, zlib alone)")
    for name, _, _, _ in CASES:
        cells = "".join(f"{figures[name]['msgs_per_s']:>12,.0f}" for figures in results.values())
        shares = ", ".join(
            f"{implementation} {figures[name]['zlib_share']:.0%}"
            for implementation, figures in results.items()
            if "zlib_share" in figures[name]
        )
        print(name.ljust(22) + cells + (f"   {shares}" if shares else ""))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
