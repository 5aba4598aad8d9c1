"""fastws.compat: each library's receive and send path with its own code and with the
fastws adapter, in the same run; and the hot paths against the other accelerators
(wsaccel, websockets' C apply_mask, aiohttp's Cython mask).

    pytest bench/test_compat.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import array
import os
from typing import Any, Iterator

import pytest

import fastws.compat
from fastws.compat.wsaccel import utf8validator as compat_utf8validator
from fastws.compat.wsaccel import xormask as compat_xormask

SIZES = {"16B": 16, "1KiB": 1024, "64KiB": 1 << 16, "1MiB": 1 << 20}
FRAMES = {"16B": 1000, "1KiB": 200, "64KiB": 8, "1MiB": 2}  # frames per round: similar work per size
KINDS = ["binary", "text"]


@pytest.fixture(params=["own", "fastws"])
def accel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which code the library runs on: its own, or fastws' through the adapter."""
    target = request.node.get_closest_marker("target").args[0]
    if request.param == "fastws":
        fastws.compat.install(target)
    yield request.param
    fastws.compat.uninstall(target)


def payload(kind: str, size: int) -> Any:
    if kind == "text":
        return ("websocket é " * (size // 8 + 1)).encode()[:size].decode("utf-8", "ignore")
    return os.urandom(size)


# -- wsproto -------------------------------------------------------------------------


@pytest.mark.target("wsproto")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", SIZES)
def test_wsproto_server_receive(benchmark: Any, accel: str, size: str, kind: str) -> None:
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage, TextMessage

    event = (TextMessage if kind == "text" else BytesMessage)(payload(kind, SIZES[size]))
    wire = b"".join(Connection(ConnectionType.CLIENT).send(event) for _ in range(FRAMES[size]))

    def receive() -> int:
        server = Connection(ConnectionType.SERVER)
        server.receive_data(wire)
        return sum(1 for _ in server.events())

    benchmark.group = f"wsproto server receives {FRAMES[size]} masked {kind} frames of {size}"
    assert benchmark(receive) == FRAMES[size]


@pytest.mark.target("wsproto")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", SIZES)
def test_wsproto_client_send(benchmark: Any, accel: str, size: str, kind: str) -> None:
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage, TextMessage

    event = (TextMessage if kind == "text" else BytesMessage)(payload(kind, SIZES[size]))
    client = Connection(ConnectionType.CLIENT)
    benchmark.group = f"wsproto client sends {FRAMES[size]} {kind} frames of {size}"
    benchmark(lambda: [client.send(event) for _ in range(FRAMES[size])])


# -- websockets (sans-IO Protocol) ------------------------------------------------------


@pytest.mark.target("websockets")
@pytest.mark.parametrize("size", SIZES)
def test_websockets_server_receive(benchmark: Any, accel: str, size: str) -> None:
    from websockets.protocol import OPEN, Protocol, Side

    client = Protocol(Side.CLIENT, state=OPEN, max_size=None)
    for _ in range(FRAMES[size]):
        client.send_binary(os.urandom(SIZES[size]))
    wire = b"".join(client.data_to_send())

    def receive() -> int:
        server = Protocol(Side.SERVER, state=OPEN, max_size=None)
        server.receive_data(wire)
        return len(server.events_received())

    benchmark.group = f"websockets server receives {FRAMES[size]} masked binary frames of {size}"
    assert benchmark(receive) == FRAMES[size]


@pytest.mark.target("websockets")
@pytest.mark.parametrize("size", SIZES)
def test_websockets_client_send(benchmark: Any, accel: str, size: str) -> None:
    from websockets.protocol import OPEN, Protocol, Side

    data = os.urandom(SIZES[size])
    client = Protocol(Side.CLIENT, state=OPEN, max_size=None)

    def send() -> None:
        for _ in range(FRAMES[size]):
            client.send_binary(data)
        client.data_to_send()

    benchmark.group = f"websockets client sends {FRAMES[size]} binary frames of {size}"
    benchmark(send)


# -- autobahn (what its protocol calls per frame) -----------------------------------------


@pytest.mark.target("autobahn")
@pytest.mark.parametrize("size", SIZES)
def test_autobahn_unmask_and_validate(benchmark: Any, accel: str, size: str) -> None:
    from autobahn.websocket import protocol

    data = payload("text", SIZES[size]).encode()
    mask = os.urandom(4)

    def frame() -> bool:
        masker = protocol.create_xor_masker(mask, len(data))
        return protocol.Utf8Validator().validate(masker.process(data))[0] is not None

    benchmark.group = f"autobahn unmasks and validates a text frame of {size}"
    benchmark(frame)


# -- websocket-client: wsaccel against fastws as wsaccel ------------------------------------

WSACCEL = ["wsaccel", "fastws"]


def wsaccel_module(name: str, part: str) -> Any:
    if name == "fastws":
        return compat_xormask if part == "xormask" else compat_utf8validator
    import wsaccel.utf8validator
    import wsaccel.xormask

    return wsaccel.xormask if part == "xormask" else wsaccel.utf8validator


@pytest.mark.parametrize("name", WSACCEL)
@pytest.mark.parametrize("size", SIZES)
def test_websocket_client_mask(benchmark: Any, name: str, size: str) -> None:
    # websocket-client's ABNF.mask: XorMaskerSimple(array("B", key)).process(array("B", data))
    masker_class = wsaccel_module(name, "xormask").XorMaskerSimple
    key, data = array.array("B", os.urandom(4)), array.array("B", os.urandom(SIZES[size]))
    benchmark.group = f"websocket-client mask {size} (wsaccel API)"
    benchmark(lambda: masker_class(key).process(data))


@pytest.mark.parametrize("name", WSACCEL)
@pytest.mark.parametrize("size", SIZES)
def test_websocket_client_validate(benchmark: Any, name: str, size: str) -> None:
    # websocket-client's validate_utf8: Utf8Validator().validate(data)[0]
    validator_class = wsaccel_module(name, "utf8validator").Utf8Validator
    data = payload("text", SIZES[size]).encode()
    benchmark.group = f"websocket-client validate_utf8 {size} (wsaccel API)"
    assert benchmark(lambda: validator_class().validate(data)[0])


# -- the masking hot path against the other accelerators ------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_mask_fastws(benchmark: Any, contender: Any, size: str) -> None:
    data, key = os.urandom(SIZES[size]), os.urandom(4)
    benchmark.group = f"mask {size}: fastws vs other accelerators"
    benchmark(contender.apply_mask, data, key)


@pytest.mark.parametrize("peer", ["websockets", "wsaccel", "aiohttp"])
@pytest.mark.parametrize("size", SIZES)
def test_mask_peer(benchmark: Any, peer: str, size: str) -> None:
    data, key = os.urandom(SIZES[size]), os.urandom(4)
    benchmark.group = f"mask {size}: fastws vs other accelerators"
    if peer == "websockets":
        from websockets.speedups import apply_mask

        benchmark(apply_mask, data, key)
    elif peer == "wsaccel":
        from wsaccel.xormask import XorMaskerSimple

        benchmark(lambda: XorMaskerSimple(key).process(data))
    else:
        from aiohttp._websocket.mask import _websocket_mask_cython

        buffer = bytearray(data)  # aiohttp masks in place
        benchmark(_websocket_mask_cython, key, buffer)


def pytest_configure(config: Any) -> None:  # pragma: no cover (a hook for -p)
    config.addinivalue_line("markers", "target(name): the fastws.compat target a benchmark compares")
