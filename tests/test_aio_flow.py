"""fastws.aio under pressure: flow control both ways, keepalive timeouts, the
close handshake timeout, graceful shutdown, broadcast with a slow client, TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, List

import pytest
from test_aio_connection import echo, raw_handshake, run, uri

from fastws import aio
from fastws.aio import ConnectionClosed

CHUNK = b"x" * 65536


def test_slow_reader_pauses_reading_not_memory(impl: Any) -> None:
    """A handler that does not read: the server stops reading past max_queue
    messages, the client's sends block, and nothing is lost."""
    release = asyncio.Event
    state: dict = {}

    async def handler(ws: aio.WebSocket) -> None:
        state["ws"] = ws
        await state["release"].wait()
        count = 0
        async for message in ws:
            assert message == CHUNK
            count += 1
            if count == state["sent"]:
                await ws.send(str(count))

    async def main() -> None:
        state["release"] = release()
        async with aio.serve(handler, "127.0.0.1", 0, max_queue=8, compression=None, implementation=impl) as server:
            async with aio.connect(uri(server), compression=None, implementation=impl) as ws:
                sent = 0
                for _ in range(4000):  # at most 256 MiB: far more than any socket buffer
                    try:
                        await asyncio.wait_for(ws.send(CHUNK), 0.5)
                    except asyncio.TimeoutError:
                        break
                    sent += 1
                else:
                    pytest.fail("the client was never made to wait")
                server_ws = state["ws"]
                assert server_ws.reading_paused
                # Memory held by the server: the queue is bounded by max_queue plus
                # what one read (256 KiB) can complete, whatever the client sent.
                messages, size = server_ws.queued
                reads = 256 * 1024 // len(CHUNK) + 1
                assert messages <= 8 + reads and size <= (8 + reads) * len(CHUNK)
                assert sent > messages
                state["sent"] = sent + 1
                state["release"].set()
                await ws.send(CHUNK)  # the blocked one went through as the server read
                assert await asyncio.wait_for(ws.recv(), 5) == str(sent + 1)

    run(main())


def test_slow_peer_makes_send_wait(impl: Any) -> None:
    """Sending to a client that does not read: send() waits on the transport's
    high-water mark instead of buffering without bound."""
    state: dict = {"sent": 0, "max_buffer": 0}

    async def handler(ws: aio.WebSocket) -> None:
        state["ws"] = ws
        for _ in range(4000):
            await ws.send(CHUNK)
            state["sent"] += 1
            state["max_buffer"] = max(state["max_buffer"], ws.transport.get_write_buffer_size())
        await ws.wait_closed()

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, compression=None, implementation=impl) as server:
            ws = await aio.connect(uri(server), compression=None, max_queue=4, implementation=impl)
            ws.transport.pause_reading()
            previous = -1
            while state["sent"] != previous:  # until the handler stops making progress
                previous = state["sent"]
                await asyncio.sleep(0.3)
            assert state["sent"] < 4000
            high = ws.transport.get_write_buffer_limits()[1]
            assert state["max_buffer"] <= high + 2 * len(CHUNK) + 64 * 1024
            ws.transport.resume_reading()
            for _ in range(state["sent"]):
                assert await ws.recv() == CHUNK
            await ws.close()

    run(main())


@pytest.mark.parametrize("side", ["server", "client"])
def test_keepalive_timeout_closes_dead_connection(impl: Any, side: str) -> None:
    keep = dict(ping_interval=0.1, ping_timeout=0.3)
    none = dict(ping_interval=None)
    closed: list = []

    async def handler(ws: aio.WebSocket) -> None:
        if side == "client":
            ws.transport.pause_reading()  # the server plays dead
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
        closed.append((ws.close_code, ws.failure))

    async def main() -> None:
        async with aio.serve(
            handler, "127.0.0.1", 0, close_timeout=0.5, **(keep if side == "server" else none), implementation=impl
        ) as server:
            ws = await aio.connect(uri(server), **(keep if side == "client" else none), implementation=impl)
            started = time.monotonic()
            if side == "server":
                ws.transport.pause_reading()  # the client plays dead
                for _ in range(300):
                    if closed:
                        break
                    await asyncio.sleep(0.01)
                assert closed == [(1006, (1011, "keepalive ping timeout"))]
            else:
                with pytest.raises(ConnectionClosed) as caught:
                    await ws.recv()
                assert caught.value.code == 1011
                await ws.wait_closed()
                assert ws.close_code == 1006 and ws.failure == (1011, "keepalive ping timeout")
            assert time.monotonic() - started < 2.5

    run(main())


def test_keepalive_keeps_a_live_connection(impl: Any) -> None:
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, ping_interval=0.05, ping_timeout=0.5, implementation=impl) as server:
            async with aio.connect(uri(server), ping_interval=0.05, ping_timeout=0.5, implementation=impl) as ws:
                await asyncio.sleep(0.5)  # ten pings each way
                await ws.send("still here")
                assert await ws.recv() == "still here"
            assert ws.close_code == 1000

    run(main())


def test_close_handshake_timeout(impl: Any) -> None:
    """A peer that never answers the close frame: close() gives up after close_timeout."""
    durations: list = []

    async def handler(ws: aio.WebSocket) -> None:
        started = time.monotonic()
        await ws.close(1000)
        durations.append((time.monotonic() - started, ws.close_code))

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, close_timeout=0.3, implementation=impl) as server:
            reader, writer, _ = await raw_handshake(server.bound_port)
            assert (await reader.readexactly(4)) == b"\x88\x02\x03\xe8"  # the close frame; no answer
            assert await asyncio.wait_for(reader.read(), 3) == b""
            writer.close()
        assert len(durations) == 1 and 0.25 < durations[0][0] < 2 and durations[0][1] == 1006

    run(main())


def test_graceful_shutdown(impl: Any) -> None:
    """close() sends 1001 to every client; wait_closed() is bounded by close_timeout
    even with a client that never answers and a handler that never returns."""

    async def stubborn(ws: aio.WebSocket) -> None:
        try:
            await echo(ws)
            await asyncio.sleep(60)  # a handler that ignores the end of its connection
        finally:
            stubborn.finished += 1  # type: ignore[attr-defined]

    stubborn.finished = 0  # type: ignore[attr-defined]

    async def main() -> None:
        server = await aio.serve(stubborn, "127.0.0.1", 0, close_timeout=0.5, implementation=impl)
        address = uri(server)
        clients = [await aio.connect(uri(server), implementation=impl) for _ in range(5)]
        reader, writer, _ = await raw_handshake(server.bound_port)  # never answers
        for _ in range(100):
            if len(server.connections) == 6:
                break
            await asyncio.sleep(0.01)
        assert len(server.connections) == 6
        started = time.monotonic()
        await server.aclose()
        assert time.monotonic() - started < 3
        for ws in clients:
            await asyncio.wait_for(ws.wait_closed(), 2)
            assert (ws.close_code, ws.close_reason) == (1001, "server shutdown")
        assert await asyncio.wait_for(reader.read(), 2) == b"\x88\x11\x03\xe9server shutdown"
        writer.close()
        assert stubborn.finished == 6  # type: ignore[attr-defined]
        assert not server.connections and not server._handlers
        with pytest.raises(OSError):
            await aio.connect(address, implementation=impl)

    run(main())


def test_broadcast_many_clients_one_slow(impl: Any) -> None:
    messages = 300

    async def handler(ws: aio.WebSocket) -> None:
        await ws.wait_closed()

    async def reader(ws: aio.WebSocket, got: List[Any]) -> None:
        async for message in ws:
            got.append(message)

    async def main() -> None:
        async with aio.serve(handler, "127.0.0.1", 0, implementation=impl) as server:
            clients = [
                await aio.connect(uri(server), compression="deflate" if index % 2 else None, implementation=impl) for index in range(20)
            ]
            for _ in range(100):
                if len(server.connections) == 20:
                    break
                await asyncio.sleep(0.01)
            slow = clients[0]
            slow.transport.pause_reading()
            received: List[List[Any]] = [[] for _ in clients]
            tasks = [asyncio.create_task(reader(ws, got)) for ws, got in zip(clients[1:], received[1:])]
            slow_server_side = next(ws for ws in server.connections if ws.remote_address == slow.transport.get_extra_info("sockname"))
            counts = []
            biggest = 0
            for index in range(messages):
                counts.append(aio.broadcast(server.connections, CHUNK[:-4] + index.to_bytes(4, "big")))
                biggest = max(biggest, slow_server_side.transport.get_write_buffer_size() + slow_server_side._pending_size)
                await asyncio.sleep(0.002)
            assert counts[0] == 20 and min(counts) == 19  # the slow one was skipped, only it
            assert biggest <= 256 * 1024 + 2 * len(CHUNK)
            assert server.broadcast("text too") == 19
            for _ in range(500):
                if all(len(got) == messages + 1 for got in received[1:]):
                    break
                await asyncio.sleep(0.01)
            for got in received[1:]:
                assert len(got) == messages + 1
                assert [int.from_bytes(message[-4:], "big") for message in got[:-1]] == list(range(messages))
                assert got[-1] == "text too"
            slow.transport.resume_reading()
            first = await slow.recv()
            assert first[-4:] == b"\x00\x00\x00\x00"
            for ws in clients:
                await ws.close()
            await asyncio.gather(*tasks)
            assert aio.broadcast(server.connections, "nobody") == 0

    run(main())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost, made now (with the
    ``cryptography`` package, or else the ``openssl`` command)."""
    path = tmp_path_factory.mktemp("tls") / "cert.pem"
    try:
        import cryptography  # noqa: F401
    except ImportError:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", "/CN=fastws test", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(path), "-out", str(path) + ".crt"],
            check=True, capture_output=True,
        )  # fmt: skip
        path.write_bytes(path.read_bytes() + Path(str(path) + ".crt").read_bytes())
        return path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fastws test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def test_tls(impl: Any, certificate: Path) -> None:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certificate)
    client_context = ssl.create_default_context(cafile=str(certificate))

    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, ssl=server_context, max_message_size=2**22, implementation=impl) as server:
            address = f"wss://127.0.0.1:{server.bound_port}/secure"
            async with aio.connect(address, ssl=client_context, max_message_size=2**22, implementation=impl) as ws:
                assert ws.transport.get_extra_info("ssl_object") is not None
                for message in ("secret", CHUNK * 40):
                    await ws.send(message)
                    assert await ws.recv() == message
                assert await ws.ping() < 5
            assert ws.close_code == 1000
            with pytest.raises(ssl.SSLCertVerificationError):
                await aio.connect(address, ssl=ssl.create_default_context(), implementation=impl)
            ws = await aio.connect(f"wss://localhost:{server.bound_port}/", ssl=client_context, implementation=impl)
            await ws.close(4002)
            assert ws.close_code == 4002

    run(main())
