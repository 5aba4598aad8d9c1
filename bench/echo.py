"""Echo benchmark: every installed WebSocket server, and two raw TCP echoes, under
the same cheap load generator, over loopback, in one run.

    python bench/echo.py [--seconds 2] [--only fastws,websockets] [--json FILE]

Each server runs in its own process (bench/echo_servers.py); this process is the
load generator: one connection, pre-encoded masked binary frames, a window of 64
messages in flight (refilled by halves), every echoed byte compared with what the
server must send back. Sizes 16 B, 1 KiB, 64 KiB, 1 MiB: messages per second.
Then the round trip with one message in flight (16 B and 64 KiB): the median.
Compression is off everywhere. Peers run under $BENCH_PEERS_PYTHON (default: this
interpreter); a peer that does not import is reported as missing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
SIZES = [16, 1024, 65536, 1 << 20]
RTT_SIZES = [16, 65536]
WINDOW = 64
KINDS = ["fastws", "fastws-pure", "picows", "aiohttp", "websockets", "wsproto", "asyncio-tcp", "socket-tcp"]
PEER_MODULES = {"picows": "picows", "aiohttp": "aiohttp", "websockets": "websockets", "wsproto": "wsproto"}
MASK = b"\x5a\x13\xc7\x9e"


def frame(payload: bytes, mask: Optional[bytes], opcode: int = 0x2, fin: bool = True) -> bytes:
    """A frame (RFC 6455 §5.2; binary and final unless told), masked when ``mask`` is given."""
    length = len(payload)
    first = opcode | (0x80 if fin else 0)
    if length < 126:
        head = bytes([first, length | (0x80 if mask else 0)])
    elif length < 65536:
        head = bytes([first, 126 | (0x80 if mask else 0)]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, 127 | (0x80 if mask else 0)]) + length.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = int.from_bytes(mask * (length // 4 + 1), "little")
    masked = (int.from_bytes(payload, "little") ^ key).to_bytes(length + 4, "little")[:length] if length else b""
    return head + mask + masked


def connect(port: int, websocket: bool, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("no handshake answer")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.split(b"\r\n")[0].decode())
        if not head.endswith(b"\r\n\r\n"):
            raise ConnectionError("data after the handshake")
    return sock


def throughput(port: int, websocket: bool, size: int, seconds: float) -> float:
    """Messages per second with WINDOW in flight; every echo checked."""
    payload = os.urandom(size)
    request = frame(payload, MASK)
    expected = frame(payload, None) if websocket else request
    step = len(expected)
    half = WINDOW // 2
    batch = request * half
    expected_all = expected * WINDOW
    sock = connect(port, websocket)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    out = memoryview(request * WINDOW)
    # Echoes land in one buffer and are compared in place (bytes.startswith on a
    # memoryview: a memcmp, no copy); the unfinished tail moves to the front.
    buffer = bytearray(WINDOW * step + (4 << 20))
    view = memoryview(buffer)
    filled = 0
    in_flight = WINDOW
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    warm = False
    try:
        while True:
            for _, events in selector.select(5):
                if events & selectors.EVENT_WRITE and out:
                    sent = sock.send(out)
                    out = out[sent:]
                    if not out:
                        selector.modify(sock, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    count = sock.recv_into(view[filled:])
                    if not count:
                        raise ConnectionError("the server closed the connection")
                    filled += count
                    complete = filled // step
                    if complete:
                        end = complete * step
                        if complete > in_flight or not expected_all.startswith(view[:end]):
                            raise AssertionError("an echo differs from the message sent")
                        buffer[: filled - end] = view[end:filled]
                        filled -= end
                        in_flight -= complete
                        done += complete
                        if in_flight <= half and not out:
                            out = memoryview(batch)
                            in_flight += half
                            selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            now = time.perf_counter()
            if not warm and now - started > min(0.3, seconds / 4):
                warm, started, done = True, now, 0
                deadline = now + seconds
            if now >= deadline and warm:
                return done / (now - started)
    finally:
        selector.close()
        sock.close()


def round_trip(port: int, websocket: bool, size: int, seconds: float) -> float:
    """Median seconds for one message there and back, one in flight."""
    payload = os.urandom(size)
    request = frame(payload, MASK)
    expected = frame(payload, None) if websocket else request
    sock = connect(port, websocket)
    buffer = bytearray(len(expected))
    view = memoryview(buffer)
    samples: List[float] = []
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline or len(samples) < 50:
            start = time.perf_counter()
            sock.sendall(request)
            got = 0
            while got < len(expected):
                count = sock.recv_into(view[got:])
                if not count:
                    raise ConnectionError("the server closed the connection")
                got += count
            samples.append(time.perf_counter() - start)
            if buffer != expected:
                raise AssertionError("an echo differs from the message sent")
    finally:
        sock.close()
    return statistics.median(samples[len(samples) // 10 :])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(kind: str, peers_python: str, *options: str, argv: Optional[List[str]] = None) -> Tuple[Optional[subprocess.Popen], int, str]:
    """Starts ``kind``'s echo server (bench/echo_servers.py, with ``options``), or
    ``argv`` + ``--port PORT`` when given; returns it, its port and what went wrong."""
    port = free_port()
    env = dict(os.environ)
    python = sys.executable if kind.startswith("fastws") or kind.endswith("-tcp") else peers_python
    if kind.startswith("fastws"):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    if kind == "fastws-pure":
        env["FASTWS_NO_EXTENSIONS"] = "1"
    module = PEER_MODULES.get(kind)
    if module and subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode:
        return None, 0, "not installed"
    command = [python, *argv, "--port", str(port)] if argv else [python, str(HERE / "echo_servers.py"), kind, str(port), *options]
    log = tempfile.TemporaryFile()  # not a pipe: a server that logs a lot must not block on it
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, port, ""
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                return None, 0, log.read().decode()[-300:]
            time.sleep(0.05)
    process.kill()
    return None, 0, "did not start"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement (default 2)")
    parser.add_argument("--only", help="comma-separated servers: " + ",".join(KINDS))
    parser.add_argument("--json", help="write the figures to this file")
    arguments = parser.parse_args()
    peers_python = os.environ.get("BENCH_PEERS_PYTHON", sys.executable)
    kinds = arguments.only.split(",") if arguments.only else KINDS
    results: Dict[str, Dict[str, float]] = {}
    header = "server".ljust(12) + "".join(f"{label:>12}" for label in ["16 B", "1 KiB", "64 KiB", "1 MiB"]) + f"{'RTT 16 B':>12}{'RTT 64 KiB':>12}"
    print(f"echo over loopback, {WINDOW} messages in flight, messages/s; round trips: median µs, one in flight")
    print(header)
    for kind in kinds:
        process, port, problem = start(kind, peers_python)
        if process is None:
            print(f"{kind:<12}  missing: {problem.strip().splitlines()[-1] if problem.strip() else '?'}")
            continue
        websocket = not kind.endswith("-tcp")
        figures: Dict[str, float] = {}
        try:
            for size in SIZES:
                figures[f"msgs_{size}"] = throughput(port, websocket, size, arguments.seconds if size < (1 << 20) else arguments.seconds * 1.5)
            for size in RTT_SIZES:
                figures[f"rtt_{size}"] = round_trip(port, websocket, size, arguments.seconds / 2)
        except (OSError, AssertionError) as error:
            print(f"{kind:<12}  failed: {error}")
            continue
        finally:
            process.kill()
            process.wait()
        results[kind] = figures
        print(kind.ljust(12) + "".join(f"{figures[f'msgs_{size}']:>12,.0f}" for size in SIZES) + "".join(f"{figures[f'rtt_{size}'] * 1e6:>12.1f}" for size in RTT_SIZES), flush=True)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
