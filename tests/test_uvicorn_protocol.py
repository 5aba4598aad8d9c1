"""fastws.uvicorn: Starlette and FastAPI apps on a real uvicorn server on loopback,
with fastws' protocol (``--ws fastws.uvicorn:WebSocketProtocol``), on both framing
implementations. The client is the websockets library, or a raw socket where the
test needs to misbehave."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from typing import Any, List, Tuple

import pytest
from uvicorn_helpers import APPS, Record, connection_of, make_app, protocol_class, require_uvicorn, serve

require_uvicorn()

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

TIMEOUT = 20


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


@pytest.fixture(params=APPS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


async def raw_connect(port: int, path: str, extensions: str = "") -> Tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A raw client: sends the handshake, returns the response head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    )
    if extensions:
        head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    writer.write(head.encode() + b"\r\n")
    return reader, writer, await reader.readuntil(b"\r\n\r\n")


def masked(opcode: int, payload: bytes) -> bytes:
    """A client frame with a zero mask (RFC 6455 §5.3 allows any key)."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


async def read_frame(reader: asyncio.StreamReader) -> Tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(length)


def test_text_and_binary(kind: str, impl: Any) -> None:
    record = Record()

    async def main() -> None:
        async with serve(make_app(kind, record), protocol_class(impl)) as (server, port):
            async with connect(f"ws://127.0.0.1:{port}/echo?q=1", compression=None) as ws:
                for message in ["hello", "é" * 1000, b"\x00\xff" * 40000, b""]:
                    await ws.send(message)
                    assert await ws.recv() == message
        scope = record.scopes[0]
        assert (scope["type"], scope["path"], scope["raw_path"], scope["query_string"]) == ("websocket", "/echo", b"/echo", b"q=1")
        assert scope["client"][0] == "127.0.0.1" and scope["server"] == ("127.0.0.1", port)
        assert (b"host", f"127.0.0.1:{port}".encode()) in scope["headers"]
        assert record.disconnects == [(1000, "")]

    run(main())


def test_subprotocol(kind: str, impl: Any) -> None:
    async def main() -> None:
        async with serve(make_app(kind, Record()), protocol_class(impl)) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/proto", subprotocols=["chat.v1", "chat.v2"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "chat.v2"
                assert await ws.recv() == "chat.v2"

    run(main())


class LogLines(logging.Handler):
    """uvicorn's log lines (its loggers do not propagate, so caplog misses them)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> "LogLines":
        logging.getLogger("uvicorn.error").addHandler(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        logging.getLogger("uvicorn.error").removeHandler(self)


def test_denial_response(kind: str, impl: Any) -> None:
    async def main() -> None:
        async with serve(make_app(kind, Record()), protocol_class(impl), log_level="info") as (_, port):
            with LogLines() as log, pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{port}/deny"):
                    pass
            response = refused.value.response
            assert (response.status_code, response.body) == (401, b"no entry")
            assert response.headers["x-why"] == "token" and response.headers["content-length"] == "8"
            assert response.headers["server"] == "uvicorn"
            assert any(line.endswith('"WebSocket /deny" 401') for line in log.lines), log.lines

    run(main())


def test_access_log_line(impl: Any) -> None:
    async def main() -> None:
        async with serve(make_app("starlette", Record()), protocol_class(impl), log_level="info") as (_, port):
            with LogLines() as log:
                async with connect(f"ws://127.0.0.1:{port}/echo?a=b"):
                    pass
            assert any(line.endswith('"WebSocket /echo?a=b" [accepted]') for line in log.lines), log.lines

    run(main())


def test_server_closes(kind: str, impl: Any) -> None:
    async def main() -> None:
        async with serve(make_app(kind, Record()), protocol_class(impl)) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/close") as ws:
                await ws.send("go")
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert (ws.close_code, ws.close_reason) == (4001, "bye")

    run(main())


def test_client_closes(kind: str, impl: Any) -> None:
    record = Record()

    async def main() -> None:
        async with serve(make_app(kind, record), protocol_class(impl)) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/idle") as ws:
                await ws.close(4002, "later")
            await asyncio.sleep(0.1)
            assert record.disconnects == [(4002, "later")]

    run(main())


def test_server_close_waits_for_the_peer(impl: Any) -> None:
    """A close the app starts keeps the transport open until the peer's close frame
    comes back (RFC 6455 §7.1.1), so nothing the peer has not read is cut off."""

    async def main() -> None:
        async with serve(make_app("starlette", Record()), protocol_class(impl)) as (server, port):
            reader, writer, head = await raw_connect(port, "/close")
            assert head.startswith(b"HTTP/1.1 101 ")
            writer.write(masked(1, b"go"))
            assert await read_frame(reader) == (8, struct.pack("!H", 4001) + b"bye")
            await asyncio.sleep(0.2)
            assert not reader.at_eof()
            assert not connection_of(server).transport.is_closing()
            writer.write(masked(8, struct.pack("!H", 4001)))
            assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closes TCP now
            writer.close()

    run(main())


def test_ping_timeout(impl: Any) -> None:
    record = Record()

    async def main() -> None:
        ws = protocol_class(impl)
        async with serve(make_app("fastapi", record), ws, ws_ping_interval=0.1, ws_ping_timeout=0.2) as (_, port):
            reader, writer, head = await raw_connect(port, "/idle")
            assert head.startswith(b"HTTP/1.1 101 ")
            opcode, payload = await read_frame(reader)
            assert opcode == 9 and len(payload) == 4  # a ping, never answered
            opcode, payload = await read_frame(reader)
            assert (opcode, payload) == (8, struct.pack("!H", 1011) + b"keepalive ping timeout")
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            await asyncio.sleep(0.1)
            assert record.disconnects == [(1011, "keepalive ping timeout")]

    run(main())


def test_pings_answered_keep_the_connection(impl: Any) -> None:
    async def main() -> None:
        async with serve(make_app("starlette", Record()), protocol_class(impl), ws_ping_interval=0.05, ws_ping_timeout=0.5) as (
            server,
            port,
        ):
            async with connect(f"ws://127.0.0.1:{port}/echo", ping_interval=None) as ws:
                await asyncio.sleep(1.5)  # many pings, each answered by the client in time
                assert connection_of(server).ping_sent_at > 0
                await ws.send("still here")
                assert await ws.recv() == "still here"

    run(main())


def test_shutdown_closes_with_1012(kind: str, impl: Any) -> None:
    record = Record()

    async def main() -> None:
        async with serve(make_app(kind, record), protocol_class(impl)) as (server, port):
            async with connect(f"ws://127.0.0.1:{port}/idle") as ws:
                server.should_exit = True
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1012
        assert record.disconnects == [(1012, "")]

    run(main())


def test_slow_reader_waits_with_bounded_memory(impl: Any) -> None:
    """An app that sends faster than its client reads waits in ``send``: the
    transport's buffer stays near its high-water mark, and nothing is lost."""
    record = Record()
    size, count = 256 * 1024, 200  # 50 MiB in all

    async def main() -> None:
        async with serve(make_app("starlette", record), protocol_class(impl)) as (server, port):
            reader, writer, head = await raw_connect(port, f"/flood?n={count}&size={size}")
            assert head.startswith(b"HTTP/1.1 101 ")
            record.release.set()
            await asyncio.sleep(0.5)  # the client reads nothing
            transport = connection_of(server).transport
            stalled_at = record.sent
            assert stalled_at < count // 2, stalled_at  # the kernel's buffers hold some; the app waits
            assert transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[1] + size + 16
            await asyncio.sleep(0.3)
            assert record.sent == stalled_at  # still waiting
            received = 0
            while True:
                opcode, payload = await read_frame(reader)
                if opcode == 8:
                    break
                assert opcode == 2 and len(payload) == size
                received += 1
            assert received == count and record.sent == count and not record.errors
            writer.write(masked(8, payload))
            writer.close()

    run(main())


def test_slow_app_pauses_reading(impl: Any) -> None:
    """A client that sends faster than the app reads: the server stops reading (TCP
    holds the rest), and the app gets every message once it reads."""
    record = Record()
    size, count = 64 * 1024, 400  # 25 MiB

    async def main() -> None:
        async with serve(make_app("fastapi", record), protocol_class(impl)) as (server, port):
            async with connect(f"ws://127.0.0.1:{port}/hold", compression=None, write_limit=2**16) as ws:

                async def send_all() -> None:
                    for _ in range(count):
                        await ws.send(b"y" * size)

                sending = asyncio.ensure_future(send_all())
                await asyncio.sleep(0.5)
                transport = connection_of(server).transport
                assert not transport.is_reading()
                assert not sending.done()  # the client's sends wait on TCP
                record.release.set()
                await asyncio.wait_for(sending, 10)
            await asyncio.sleep(0.2)
            assert record.sent == count

    run(main())


def test_deflate_negotiated(kind: str, impl: Any) -> None:
    async def main() -> None:
        async with serve(make_app(kind, Record()), protocol_class(impl)) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/echo", compression="deflate") as ws:
                agreed = ws.response.headers["Sec-WebSocket-Extensions"]  # type: ignore[union-attr]
                assert agreed == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
                for message in ["compress me " * 1000, bytes(range(256)) * 300, "x"]:
                    await ws.send(message)
                    assert await ws.recv() == message

    run(main())


def test_deflate_declined(impl: Any) -> None:
    async def main() -> None:
        app = make_app("starlette", Record())
        async with serve(app, protocol_class(impl), ws_per_message_deflate=False) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/echo", compression="deflate") as ws:
                assert "Sec-WebSocket-Extensions" not in ws.response.headers  # type: ignore[union-attr]
                await ws.send("plain")
                assert await ws.recv() == "plain"
        async with serve(app, protocol_class(impl)) as (_, port):
            # An offer without client_max_window_bits cannot promise the 12-bit window.
            reader, writer, head = await raw_connect(port, "/echo", "permessage-deflate")
            assert head.startswith(b"HTTP/1.1 101 ") and b"sec-websocket-extensions" not in head.lower()
            writer.write(masked(1, b"hi"))
            assert await read_frame(reader) == (1, b"hi")
            writer.close()

    run(main())


def test_oversized_message_closes_with_1009(impl: Any) -> None:
    record = Record()

    async def main() -> None:
        async with serve(make_app("starlette", record), protocol_class(impl), ws_max_size=1000) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/echo", compression=None) as ws:
                await ws.send(b"z" * 1000)
                assert await ws.recv() == b"z" * 1000
                await ws.send(b"z" * 1001)
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1009
            await asyncio.sleep(0.1)
            assert record.disconnects and record.disconnects[0][0] == 1009

    run(main())


def test_the_one_flag(tmp_path: Any) -> None:
    """``uvicorn app:app --ws fastws.uvicorn:WebSocketProtocol`` from the command line."""
    import subprocess
    import sys

    (tmp_path / "app.py").write_text(
        "from fastapi import FastAPI, WebSocket\napp = FastAPI()\n"
        "@app.websocket('/ws')\nasync def ws(websocket: WebSocket):\n"
        "    await websocket.accept()\n    import sys\n"
        "    await websocket.send_text(str('fastws.uvicorn' in sys.modules) + ':' + await websocket.receive_text())\n"
    )

    async def main() -> None:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--port",
            str(port),
            "--ws",
            "fastws.uvicorn:WebSocketProtocol",
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
        )
        try:
            assert process.stderr is not None
            while b"Uvicorn running" not in await process.stderr.readline():
                pass
            async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                await ws.send("hi")
                assert await ws.recv() == "True:hi"  # uvicorn imported our protocol
            lines = []
            process.terminate()
            async for line in process.stderr:
                lines.append(line.decode())
            assert any('"WebSocket /ws" [accepted]' in line for line in lines), lines
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()

    run(main())


def test_messages_before_a_bad_frame_are_answered_first(impl: Any) -> None:
    """A protocol error (RFC 6455 §7.1.7) after messages in the same read: the app
    reads and answers them, then the failing close frame (1002) goes out."""
    record = Record()

    async def main() -> None:
        async with serve(make_app("starlette", record), protocol_class(impl)) as (_, port):
            reader, writer, head = await raw_connect(port, "/echo")
            assert head.startswith(b"HTTP/1.1 101 ")
            writer.write(masked(1, b"one") + masked(2, b"two") + masked(5, b""))  # opcode 5 is reserved
            assert await read_frame(reader) == (1, b"one")
            assert await read_frame(reader) == (2, b"two")
            opcode, payload = await read_frame(reader)
            assert opcode == 8 and payload[:2] == struct.pack("!H", 1002)
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            await asyncio.sleep(0.1)
            assert [code for code, _ in record.disconnects] == [1002]

    run(main())


def test_a_burst_is_answered_in_order(impl: Any) -> None:
    """Many messages in one read: the answers, written together at the end of the
    loop's turn, come back complete and in order, and a close still follows them."""

    async def main() -> None:
        async with serve(make_app("starlette", Record()), protocol_class(impl)) as (_, port):
            reader, writer, head = await raw_connect(port, "/echo")
            assert head.startswith(b"HTTP/1.1 101 ")
            writer.write(b"".join(masked(1, str(index).encode()) for index in range(300)))
            for index in range(300):
                assert await read_frame(reader) == (1, str(index).encode())
            writer.write(masked(8, struct.pack("!H", 1000)))
            assert await read_frame(reader) == (8, struct.pack("!H", 1000))
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()

    run(main())
