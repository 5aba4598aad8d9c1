"""Hostile clients over real loopback sockets, on both implementations: a ping flood
that never reads, a flood of 1-byte fragments, 100 slow readers, a peer that goes
silent after its handshake, and a shutdown in the middle of a flood. Each test
asserts a memory bound or a close code; the only clock is a hang guard.

Servers whose memory is measured run in a subprocess (``SERVER`` below): their RSS
growth is their own (VmHWM, reset once listening), and their listening socket has
small kernel buffers, which the accepted sockets inherit, so that a flood reaches the
server after kilobytes instead of the megabytes loopback autotuning would absorb.
The attackers are plain sockets in this process, bounded in bytes; an attacker
also stops once the server has taken nothing for a second (it stopped reading:
what backpressure is for).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest
from test_aio_connection import echo, raw_handshake, run

from fastws import aio
from fastws.aio import ConnectionClosed
from fastws.cli import serve

KiB, MiB = 1024, 1024 * 1024
KEY = b"\x37\xfa\x21\x3d"
BUFFER = 64 * KiB  # SO_SNDBUF and SO_RCVBUF of the test's sockets (the kernel doubles it)
HANG_GUARD = 60.0  # seconds: only a server that hangs takes this long
# Under AddressSanitizer (tools/sanitize.sh) RSS says little (shadow memory, the
# quarantine of freed blocks): the attacks still run, the plain runs check RSS.
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")

SERVER = textwrap.dedent(
    """
    import asyncio, json, signal, socket, sys
    from fastws import _impl, aio

    impl = _impl.load(sys.argv[1])
    options = json.loads(sys.argv[2])

    def status(field):
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async def main():
        listener = socket.socket()
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            listener.setsockopt(socket.SOL_SOCKET, option, int(sys.argv[3]))
        listener.bind(("127.0.0.1", 0))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        largest = 0
        async with aio.serve(echo, sock=listener, implementation=impl, **options) as server:
            with open("/proc/self/clear_refs", "w") as file:
                file.write("5")  # VmHWM := VmRSS
            setup = status("VmRSS")
            print("port", server.bound_port, flush=True)
            while not stop.is_set():
                for ws in list(server.connections):
                    largest = max(largest, ws.transport.get_write_buffer_size())
                try:
                    await asyncio.wait_for(stop.wait(), 0.01)
                except asyncio.TimeoutError:
                    pass
            print("grew", status("VmHWM") - setup, "largest-write-buffer", largest, flush=True)
        print("closed", flush=True)

    asyncio.run(main())
    """
)


def impl_name(impl: Any) -> str:
    return "cython" if impl.__name__.endswith("_speedups") else "python"


class Server:
    """``fastws.aio.serve(echo, **options)`` in its own process."""

    def __init__(self, impl: Any, **options: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, impl_name(impl), json.dumps(options), str(BUFFER)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("port "):
            self.process.kill()
            raise AssertionError(f"the server did not start: {line}{self.process.stderr.read()}")  # type: ignore[union-attr]
        self.port = int(line.split()[1])

    def stop(self) -> Tuple[int, int]:
        """SIGTERM; returns the server's RSS growth and its largest write buffer."""
        self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the server did not exit within {HANG_GUARD} s of SIGTERM") from None
        report = next((line.split() for line in out.splitlines() if line.startswith("grew ")), None)
        assert report is not None and "closed" in out, out + err
        return int(report[1]), int(report[3])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def handshake(port: int) -> socket.socket:
    """A raw client, small kernel buffers, past the opening handshake."""
    sock = socket.socket()
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, option, BUFFER)
    sock.settimeout(HANG_GUARD)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)  # byte by byte: not one byte past the response
        assert byte, "the server closed during the handshake"
        head += byte
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def flood(socks: List[socket.socket], first: bytes, block: bytes, limit: int) -> int:
    """Each socket sends ``first`` then ``block`` again and again, up to ``limit``
    bytes, reading nothing; stops early once nothing was taken for a second or every
    connection ended. Returns the bytes sent."""
    selector = selectors.DefaultSelector()
    left: Dict[socket.socket, List[Any]] = {}
    for sock in socks:
        sock.setblocking(False)
        left[sock] = [memoryview(first + block), limit]
        selector.register(sock, selectors.EVENT_WRITE)
    total = 0
    progress = time.monotonic()
    while left and time.monotonic() - progress < 1.0:
        for key, _ in selector.select(0.1):
            sock = key.fileobj
            state = left[sock]  # type: ignore[index]
            try:
                count = sock.send(state[0][: state[1]])  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:  # the server closed it
                count = 0
                state[1] = 0
            total += count
            state[1] -= count
            state[0] = state[0][count:] or memoryview(block)
            if count:
                progress = time.monotonic()
            if state[1] <= 0:
                selector.unregister(sock)
                del left[sock]  # type: ignore[arg-type]
    selector.close()
    return total


def frame(impl: Any, opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """A masked frame, as a client sends it."""
    return bytes(impl.encode_frame(opcode, payload, fin=fin, mask=KEY))


# -- a ping flood that never reads ----------------------------------------------------


def test_ping_flood_that_never_reads_keeps_the_write_buffer_bounded(impl: Any) -> None:
    # 2 clients ping with 125-byte payloads (8 MiB each) and read no pong: the
    # pongs must not pile up in the server; it must stop reading instead.
    server = Server(impl, compression=None, close_timeout=1)
    try:
        socks = [handshake(server.port) for _ in range(2)]
        sent = flood(socks, b"", frame(impl, 0x9, b"p" * 125) * 512, 8 * MiB)
        grew, largest = server.stop()
        for sock in socks:
            sock.close()
    finally:
        server.kill()
    print(
        f"\nping flood: {sent / MiB:.1f} MiB of pings sent, server RSS +{grew / MiB:.1f} MiB, largest write buffer {largest / KiB:.0f} KiB"
    )
    assert largest <= 2 * MiB, largest
    assert grew <= 16 * MiB or UNDER_ASAN, grew


# -- a flood of 1-byte fragments -------------------------------------------------------


async def first_reply(impl: Any, port: int, data: bytes) -> Tuple[int, bytes]:
    """Sends ``data`` after a handshake, then a ping; returns the server's first
    frame (opcode, payload) other than the pong. The pong may come first: a server
    answers a ping as it reads it, while an echo goes through the handler."""
    reader, writer, head = await raw_handshake(port)
    assert head.startswith(b"HTTP/1.1 101")
    writer.write(data + frame(impl, 0x9, b"still there?"))
    try:
        await writer.drain()
    except ConnectionError:
        pass  # closed while we wrote: what it said is in the reader
    while True:
        header = await reader.readexactly(2)
        length = header[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        payload = await reader.readexactly(length)
        if (header[0] & 0x0F, payload) != (0xA, b"still there?"):
            break
    writer.close()
    return header[0] & 0x0F, payload


def fragments(impl: Any, count: int, fin: bool) -> bytes:
    """A binary message of ``count`` 1-byte frames, final or not."""
    wire = [frame(impl, 0x2, b"x", fin=False)] + [frame(impl, 0x0, b"x", fin=False)] * (count - 1)
    if fin:
        wire[-1] = frame(impl, 0x0 if count > 1 else 0x2, b"x")
    return b"".join(wire)


def test_fragment_flood_fails_with_1009_at_the_default_limit(impl: Any) -> None:
    # 5,000 one-byte fragments and no end: past the default limit (4,096 fragments
    # a message) the server closes with 1009 instead of going on collecting.
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, compression=None, implementation=impl) as server:
            opcode, payload = await asyncio.wait_for(first_reply(impl, server.bound_port, fragments(impl, 5000, fin=False)), HANG_GUARD)
            assert (opcode, payload[:2]) == (0x8, (1009).to_bytes(2, "big")), (opcode, payload)

    run(main())


def test_fragment_limit_is_max_fragments(impl: Any) -> None:
    # A message of max_fragments frames is echoed; one more frame fails it with 1009.
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, compression=None, max_fragments=16, implementation=impl) as server:
            reply = await asyncio.wait_for(first_reply(impl, server.bound_port, fragments(impl, 16, fin=True)), HANG_GUARD)
            assert reply == (0x2, b"x" * 16)
            opcode, payload = await asyncio.wait_for(first_reply(impl, server.bound_port, fragments(impl, 17, fin=True)), HANG_GUARD)
            assert (opcode, payload[:2]) == (0x8, (1009).to_bytes(2, "big")), (opcode, payload)

    run(main())


async def fragments_to_a_client(impl: Any, wire: bytes, **options: Any) -> int:
    """A bare server sends ``wire`` and then a ping to a fastws client, and ends
    the connection once the client answers anything; returns the client's close code."""

    async def bare(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:")
        )
        writer.write(
            f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n\r\n".encode()
        )
        writer.write(wire + bytes(impl.encode_frame(0x9, b"still there?")))
        await reader.read(1)  # a pong or a close frame
        writer.close()

    listener = await asyncio.start_server(bare, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with aio.connect(f"ws://127.0.0.1:{port}/", compression=None, implementation=impl, **options) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), HANG_GUARD)
    finally:
        listener.close()
    return closed.value.code


def accept_key(key: str) -> str:
    """RFC 6455 §4.2.2."""
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def test_client_fails_a_fragment_flood_with_1009(impl: Any) -> None:
    async def main() -> None:
        assert await fragments_to_a_client(impl, unmasked_fragments(impl, 5000)) == 1009
        assert await fragments_to_a_client(impl, unmasked_fragments(impl, 17), max_fragments=16) == 1009

    run(main())


def unmasked_fragments(impl: Any, count: int) -> bytes:
    """The start of a binary message, ``count`` 1-byte frames, as a server sends it."""
    return bytes(impl.encode_frame(0x2, b"x", fin=False)) + bytes(impl.encode_frame(0x0, b"x", fin=False)) * (count - 1)


# -- 100 slow readers -------------------------------------------------------------------


def test_hundred_slow_readers_cost_bounded_memory(impl: Any) -> None:
    # 100 clients send 64 KiB messages (up to 3 MiB each) and read no echo. With the
    # echo command's queue of 64 messages, the queue's byte bound must still hold
    # each connection's memory to what websockets costs at its defaults (1.5 MiB).
    server = Server(impl, compression=None, close_timeout=1, max_queue=64, max_message_size=2**25)
    socks: List[socket.socket] = []
    try:
        socks = [handshake(server.port) for _ in range(100)]
        sent = flood(socks, b"", frame(impl, 0x2, bytes(64 * KiB)), 3 * MiB)
        grew, largest = server.stop()
    finally:
        for sock in socks:
            sock.close()
        server.kill()
    print(
        f"\nslow readers: {sent / MiB:.0f} MiB sent, server RSS +{grew / MiB:.1f} MiB ({grew / 100 / KiB:.0f} KiB each), largest write buffer {largest / KiB:.0f} KiB"  # noqa: E501
    )
    assert grew <= 100 * 1.5 * MiB or UNDER_ASAN, grew


# -- a peer that vanished after its handshake --------------------------------------------


def close_code_of(data: bytes) -> Optional[int]:
    """The code of the first close frame in a server's (unmasked) frames."""
    while len(data) >= 2:
        opcode, length, start = data[0] & 0x0F, data[1] & 0x7F, 2
        if length == 126:
            length, start = int.from_bytes(data[2:4], "big"), 4
        if opcode == 0x8:
            return int.from_bytes(data[start : start + 2], "big")
        data = data[start + length :]
    return None


def test_half_open_peer_is_dropped_by_keepalive(impl: Any) -> None:
    # The client completes the handshake, then never answers a ping: the server ends
    # the connection with 1011 (keepalive ping timeout).
    async def main() -> None:
        async with aio.serve(echo, "127.0.0.1", 0, ping_interval=0.2, ping_timeout=0.2, implementation=impl) as server:
            reader, writer, _ = await raw_handshake(server.bound_port)
            seen = await asyncio.wait_for(reader.read(), HANG_GUARD)  # until the server ends it
            writer.close()
            assert seen.startswith(b"\x89"), seen  # it pinged first
            assert close_code_of(seen) == 1011, seen

    run(main())


def cli_echo(impl: Any, *options: str) -> Tuple[subprocess.Popen, int]:
    """``python -m fastws echo`` on a free port, with this implementation."""
    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if impl_name(impl) == "python":
        env["FASTWS_NO_EXTENSIONS"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "fastws", "echo", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = process.stdout.readline()  # type: ignore[union-attr]
    if "ws://" not in line:
        process.kill()
        raise AssertionError(f"the echo server did not start: {line}{process.stderr.read()}")  # type: ignore[union-attr]
    return process, int(line.rsplit(":", 1)[1].strip("/\n"))


def test_echo_command_drops_a_half_open_peer(impl: Any) -> None:
    process, port = cli_echo(impl, "--ping-interval", "0.2", "--ping-timeout", "0.3")
    try:
        with handshake(port) as sock:
            seen = b""
            while True:  # the socket's timeout is the hang guard
                chunk = sock.recv(4096)
                if not chunk:
                    break
                seen += chunk
        assert close_code_of(seen) == 1011, seen
    finally:
        process.kill()
        process.communicate()


# -- shutdown under attack --------------------------------------------------------------


def test_shutdown_completes_during_a_fragment_flood(impl: Any) -> None:
    # 20 clients send messages of 4,000 1-byte fragments (under the limit; up to 1 MiB
    # each), read no echo and never close; SIGTERM in the middle: the echo command
    # must shut down and exit by itself.
    process, port = cli_echo(impl, "--close-timeout", "1")
    socks: List[socket.socket] = []
    try:
        socks = [handshake(port) for _ in range(20)]
        threading.Timer(0.5, process.send_signal, (signal.SIGTERM,)).start()
        flood(socks, b"", fragments(impl, 4000, fin=True), MiB)
        try:
            process.communicate(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within {HANG_GUARD} s of SIGTERM")
        assert process.returncode == 0, process.returncode  # it shut down, nothing killed it
    finally:
        for sock in socks:
            sock.close()
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_echo_command_pings_by_default() -> None:
    # A half-open peer is dropped only if someone pings: the echo command does, unasked.
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser.add_subparsers(dest="command"))
    arguments = parser.parse_args(["echo"])
    assert arguments.ping_interval is not None and arguments.ping_interval > 0, arguments
    assert arguments.ping_timeout is None or arguments.ping_timeout > 0, arguments
