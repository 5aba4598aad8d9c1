"""fastws.aio: messages, ping, close codes, handshake, HTTP, both implementations."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from typing import Any, Awaitable, Tuple

import pytest

from fastws import aio
from fastws.aio import ConnectionClosed, InvalidHandshake

TIMEOUT = 10.0


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))  # type: ignore[arg-type]


async def echo(ws: aio.WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def uri(server: aio.Server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.bound_port}{path}"


async def raw_handshake(port: int, path: str = "/") -> Tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A bare TCP client that opens a WebSocket and then does only what a test says."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_echo_text_binary_large(impl: Any, compression: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, compression=compression, max_message_size=2**22, implementation=impl) as server:
            async with aio.connect(uri(server), compression=compression, max_message_size=2**22, implementation=impl) as ws:
                assert ws.extensions == (() if compression is None else ws.extensions) and bool(ws.extensions) == bool(compression)
                for message in ("héllo", b"\x00\xff" * 3, "", b"", os.urandom(3_000_000), "x" * 70_000):
                    await ws.send(message)
                    assert await ws.recv() == message
                await ws.send(bytearray(b"ba"))
                await ws.send(memoryview(b"mv"))
                assert [await ws.recv(), await ws.recv()] == [b"ba", b"mv"]
            assert ws.close_code == 1000 and ws.closed

    run(main())


def test_async_iteration_and_many_messages(impl: Any) -> None:
    async def producer(ws: aio.WebSocket) -> None:
        for index in range(1000):
            await ws.send(str(index))
        await ws.close(4000, "done")

    async def main() -> None:
        async with aio.serve(producer, "127.0.0.1", 0, implementation=impl) as server:
            ws = await aio.connect(uri(server), implementation=impl)
            received = [message async for message in ws]
            assert received == [str(index) for index in range(1000)]
            assert (ws.close_code, ws.close_reason) == (4000, "done")
            with pytest.raises(ConnectionClosed) as caught:
                await ws.recv()
            assert caught.value.code == 4000
            with pytest.raises(ConnectionClosed):
                await ws.send("late")

    run(main())


def test_ping_resolves_on_pong_and_attributes(impl: Any) -> None:
    seen: dict = {}

    async def handler(ws: aio.WebSocket) -> None:
        seen.update(subprotocol=ws.subprotocol, request=ws.request, remote=ws.remote_address)
        seen["latency"] = await ws.ping(b"server")
        await echo(ws)

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, subprotocols=["chat.v2", "chat.v1"], implementation=impl) as server:
            async with aio.connect(
                uri(server, "/room?x=1"), subprotocols=["chat.v1", "chat.v2"], extra_headers=[("X-Test", "yes")], implementation=impl
            ) as ws:
                assert ws.subprotocol == "chat.v2"  # the server's preference
                latencies = await asyncio.gather(ws.ping(), ws.ping(b"two"), ws.ping())
                assert all(0 <= latency < 5 for latency in latencies)
                with pytest.raises(ValueError):
                    await asyncio.gather(ws.ping(b"same"), ws.ping(b"same"))
                first = asyncio.ensure_future(ws.recv())
                await asyncio.sleep(0)
                with pytest.raises(RuntimeError):
                    await ws.recv()  # one reader at a time
                await ws.send("sync")
                assert await first == "sync"
                local = ws.transport.get_extra_info("sockname")
        assert seen["subprotocol"] == "chat.v2"
        assert seen["request"].target == "/room?x=1"
        assert ("X-Test", "yes") in seen["request"].headers
        assert seen["remote"] == local
        assert 0 <= seen["latency"] < 5

    run(main())


def test_close_codes_both_ways(impl: Any) -> None:
    codes: list = []

    async def handler(ws: aio.WebSocket) -> None:
        message = await ws.recv()
        if message == "close me":
            await ws.close(4001, "as asked")
        else:
            await ws.wait_closed()
        codes.append((ws.close_code, ws.close_reason))

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, implementation=impl) as server:
            ws = await aio.connect(uri(server), implementation=impl)
            await ws.send("close me")
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (4001, "as asked")
            ws = await aio.connect(uri(server), implementation=impl)
            await ws.send("wait")
            await ws.close(3000, "client going")
            assert ws.close_code == 3000  # the server echoes the code
            for _ in range(100):
                if len(codes) == 2:
                    break
                await asyncio.sleep(0.01)
        assert codes == [(4001, ""), (3000, "client going")]  # the client echoed the code alone

    run(main())


def test_protocol_error_fails_with_1002_after_answering_earlier_messages(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, implementation=impl) as server:
            reader, writer, head = await raw_handshake(server.bound_port)
            assert head.startswith(b"HTTP/1.1 101")
            mask = b"\x01\x02\x03\x04"
            text = bytes(byte ^ mask[index % 4] for index, byte in enumerate(b"hi"))
            # A text message, then an unmasked frame (RFC 6455 §5.1), in one write.
            writer.write(b"\x81\x82" + mask + text + b"\x81\x02no")
            data = await reader.read()  # until the server closes TCP
            assert data[:4] == b"\x81\x02hi"  # the echo comes first
            assert data[4:8] == b"\x88\x10\x03\xea"  # then close 1002 "protocol error"
            writer.close()

    run(main())


def test_invalid_utf8_fails_with_1007(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, implementation=impl) as server:
            reader, writer, _ = await raw_handshake(server.bound_port)
            writer.write(b"\x81\x82\x00\x00\x00\x00\xc3\x28")
            data = await reader.read()
            assert data[:4] == b"\x88\x1c\x03\xef"  # 1007
            writer.close()

    run(main())


def test_message_too_big_fails_with_1009(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, max_message_size=1000, implementation=impl) as server:
            async with aio.connect(uri(server), implementation=impl) as ws:
                await ws.send(b"x" * 1001)
                with pytest.raises(ConnectionClosed) as caught:
                    await ws.recv()
                assert caught.value.code == 1009

    run(main())


def test_handler_exception_closes_1011(impl: Any) -> None:
    async def handler(ws: aio.WebSocket) -> None:
        raise RuntimeError("boom")

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, implementation=impl) as server:
            ws = await aio.connect(uri(server), implementation=impl)
            await ws.wait_closed()
            assert ws.close_code == 1011

    run(main())


def test_rejected_handshakes(impl: Any) -> None:
    def http_handler(method: str, target: str, headers: Any) -> Any:
        return (200, [("Content-Type", "text/plain")], b"page " + target.encode()) if target == "/page" else (404, [], b"nope")

    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, http_handler=http_handler, implementation=impl) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
            writer.write(b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
            response = await reader.read()
            assert response.startswith(b"HTTP/1.1 200 OK\r\n") and response.endswith(b"page /page")
            writer.close()
            async with aio.connect(uri(server), implementation=impl) as ws:  # WebSocket on the same port
                await ws.send("ok")
                assert await ws.recv() == "ok"
        async with aio.serve(echo, "127.0.0.1", 0, implementation=impl) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 400")
            writer.close()
            address = uri(server)
            server.close()
            with pytest.raises((InvalidHandshake, OSError)):
                await aio.connect(address, implementation=impl)
        with pytest.raises(ValueError):
            await aio.connect("http://127.0.0.1:1/")

    run(main())


def test_open_timeout_drops_silent_clients(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, open_timeout=0.2, implementation=impl) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
            assert await asyncio.wait_for(reader.read(), 3) == b""
            writer.close()

    run(main())


def test_open_timeout_drops_a_slowloris(impl: Any) -> None:
    # A client that trickles its request head a byte at a time never finishes it:
    # the deadline counts from the connection, not from the last byte.
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, open_timeout=0.3, implementation=impl) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
            request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 1000
            loop = asyncio.get_running_loop()
            started = loop.time()
            reset = False  # the server closed with our unread bytes in its buffer: the kernel sends RST
            for byte in request:
                if reader.at_eof():
                    break
                writer.write(bytes((byte,)))
                try:
                    await asyncio.wait_for(reader.read(1), 0.05)
                except asyncio.TimeoutError:
                    continue
                except ConnectionResetError:
                    reset = True
                    break
            closed_after = loop.time() - started
            assert reset or await asyncio.wait_for(reader.read(), 3) == b""
            assert closed_after < 2.0, closed_after
            assert not server.connections
            writer.close()

    run(main())


def test_cli_echo_server() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "fastws", "echo", "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert "echo server on ws://127.0.0.1" in process.stdout.readline()  # type: ignore[union-attr]

        async def main() -> None:
            async with aio.connect(f"ws://127.0.0.1:{port}", max_message_size=2**22) as ws:
                await ws.send(b"x" * 2**21)
                assert await ws.recv() == b"x" * 2**21

        run(main())
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_layers() -> None:
    """fastws.aio builds on fastws.protocol and the core only (STYLE.md: layers)."""
    code = "import sys, fastws.aio; print(' '.join(sorted(name for name in sys.modules if name.startswith('fastws'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "fastws.protocol" in loaded
    assert not [name for name in loaded if name.startswith(("fastws.cli", "fastws.compat"))]


def test_broadcast_from_clients_masks_each_frame(impl: Any) -> None:
    got: list = []

    async def collect(ws: aio.WebSocket) -> None:
        async for message in ws:
            got.append(message)

    async def main() -> None:
        async with aio.serve(collect, "127.0.0.1", 0, implementation=impl) as server:
            clients = [await aio.connect(uri(server), implementation=impl) for _ in range(3)]
            assert aio.broadcast(clients, "to the server") == 3
            assert aio.broadcast(clients, b"\x00bin") == 3
            for ws in clients:
                await ws.close()
            assert aio.broadcast(clients, "after close") == 0
        assert sorted(got, key=str) == sorted(["to the server"] * 3 + [b"\x00bin"] * 3, key=str)

    run(main())
