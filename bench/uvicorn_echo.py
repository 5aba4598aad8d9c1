"""uvicorn's WebSocket protocols side by side: fastws.uvicorn, websockets-sansio and
wsproto, each serving the same Starlette app on uvicorn (httptools, its default
event loop), under one load generator, in one run.

    python bench/uvicorn_echo.py [--seconds 2] [--rounds 3] [--only fastws,websockets-sansio,wsproto] [--json FILE]

Each server is its own ``python -m uvicorn`` process; this process is the load
generator, the one bench/echo.py uses (pre-encoded masked frames, every echo
checked):

- echo messages/s at 16 B, 1 KiB and 64 KiB with 64 in flight; the median round
  trip with one 16 B message in flight;
- memory per idle connection: the server's RSS growth over 300 connections that
  each echoed one 1 KiB message, without compression and with permessage-deflate
  (the message compressed both ways, so both of the server's zlib streams exist);
- broadcast, in the shape of granian's benchmark: N clients (8, 16, 32) each send
  a 16 B message, the server sends every message to every client; messages
  received per second, in rounds (every client sends once, then receives N).

Rates come twice: per second of wall-clock time, and per second of the server
process's CPU time (/proc/PID/stat), the figure that holds on a busy machine.

Every figure is the median over ``--rounds`` rounds, the contenders' order rotating
each round. Ratios are against websockets-sansio, uvicorn's default.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from echo import MASK, frame, free_port, round_trip, throughput  # noqa: E402  (the shared load generator)

CONTENDERS = {
    "fastws": "fastws.uvicorn:WebSocketProtocol",
    "websockets-sansio": "websockets-sansio",
    "wsproto": "wsproto",
}
SIZES = [16, 1024, 65536]
IDLE_CONNECTIONS = 300
BROADCAST = [8, 16, 32]


# -- the app (the server processes import it: uvicorn_echo:app) ---------------------


def make_app() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] != "websocket.receive":
                return
            if message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
            else:
                await websocket.send_text(message["text"])

    members: set = set()

    async def broadcast(websocket: WebSocket) -> None:
        await websocket.accept()
        members.add(websocket)
        try:
            while True:
                data = await websocket.receive_bytes()
                for member in list(members):
                    try:
                        await member.send_bytes(data)
                    except Exception:  # noqa: BLE001 (a member that left)
                        members.discard(member)
        except WebSocketDisconnect:
            pass
        finally:
            members.discard(websocket)

    return Starlette(routes=[WebSocketRoute("/", echo), WebSocketRoute("/broadcast", broadcast)])


app = make_app()


# -- servers ------------------------------------------------------------------------


def start(ws: str) -> Tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    command = [sys.executable, "-m", "uvicorn", "uvicorn_echo:app", "--port", str(port), "--http", "httptools", "--ws", ws]
    command += ["--ws-max-size", str(1 << 24), "--log-level", "warning", "--no-access-log", "--lifespan", "off"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError((process.stderr.read() or b"").decode()[-500:]) from None  # type: ignore[union-attr]
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{ws} did not start")


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(pid: int, run: Any, *args: Any) -> Tuple[float, float]:
    """``(messages/s, messages per second of the server's CPU)`` for one run.

    The second figure does not move when other processes take the CPU (this
    machine is shared): the wall-clock rate of the run times its duration is the
    messages it carried, over the CPU the server spent on them."""
    wall, before = time.perf_counter(), cpu_seconds(pid)
    rate = run(*args)
    wall, spent = time.perf_counter() - wall, cpu_seconds(pid) - before
    return rate, rate * wall / spent if spent else float("nan")


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


# -- clients ------------------------------------------------------------------------


def handshake(port: int, path: str = "/", deflate: bool = False) -> Tuple[socket.socket, Any]:
    """A connection that completed its handshake, and its fastws client-side state."""
    from fastws.protocol import AcceptConnection, ClientConnection, PerMessageDeflate, Request

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = ClientConnection(max_message_size=None)
    offer = (PerMessageDeflate(),) if deflate else ()
    sock.sendall(client.send(Request(host=f"127.0.0.1:{port}", target=path, extensions=offer)))
    accept = next_event(sock, client)
    if type(accept) is not AcceptConnection:
        raise ConnectionError(f"handshake refused: {accept}")
    if deflate and not accept.extensions:
        raise ConnectionError("permessage-deflate declined")
    return sock, client


def next_event(sock: socket.socket, client: Any) -> Any:
    """The next event the server's bytes make (a handshake answer, a message)."""
    while True:
        events = client.events()
        if events:
            return events[0]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        client.receive_data(chunk)


def idle_memory(pid: int, port: int, deflate: bool) -> float:
    """Bytes of server RSS per connection that echoed one 1 KiB message and idles."""
    payload = os.urandom(512) * 2
    sockets = []
    before = rss(pid)
    try:
        for _ in range(IDLE_CONNECTIONS):
            sock, client = handshake(port, deflate=deflate)
            sock.sendall(client.send_binary(payload))
            if next_event(sock, client).data != payload:
                raise AssertionError("a wrong echo")
            sockets.append(sock)
        time.sleep(0.5)
        return (rss(pid) - before) / IDLE_CONNECTIONS
    finally:
        for sock in sockets:
            sock.close()
        time.sleep(0.5)


def broadcast(port: int, clients: int, seconds: float) -> float:
    """Messages received per second: each client sends, everyone receives all."""
    message = frame(os.urandom(16), MASK)
    step = 2 + 16  # what each delivery costs on the wire: an unmasked 16 B frame
    sockets = [handshake(port, "/broadcast")[0] for _ in range(clients)]
    time.sleep(0.2)
    selector = selectors.DefaultSelector()
    for index, sock in enumerate(sockets):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
    owed = [0] * clients  # bytes each client has still to receive this round
    received = 0  # bytes
    started = time.perf_counter()
    deadline = started + seconds
    try:
        while True:
            if not any(owed):  # a new round: every client sends one message
                now = time.perf_counter()
                if now >= deadline:
                    return received / step / (now - started)
                for index, sock in enumerate(sockets):
                    sock.sendall(message)
                    owed[index] = clients * step
            for key, _ in selector.select(5):
                data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
                if not data:
                    raise ConnectionError("the server closed a connection")
                owed[key.data] -= len(data)
                received += len(data)
                if owed[key.data] < 0:
                    raise AssertionError("more than a round's messages")
    finally:
        selector.close()
        for sock in sockets:
            sock.close()


# -- the run ------------------------------------------------------------------------


def measure(name: str, seconds: float) -> Dict[str, float]:
    process, port = start(CONTENDERS[name])
    try:
        figures: Dict[str, float] = {}
        for size in SIZES:
            rate, per_cpu = timed(process.pid, throughput, port, True, size, seconds)
            figures[f"echo {size} B, 64 in flight"] = rate
            figures[f"echo {size} B, per server CPU-second"] = per_cpu
        figures["round trip 16 B"] = round_trip(port, True, 16, seconds)
        figures["idle connection"] = idle_memory(process.pid, port, False)
        figures["idle connection, deflate"] = idle_memory(process.pid, port, True)
        for clients in BROADCAST:
            rate, per_cpu = timed(process.pid, broadcast, port, clients, seconds)
            figures[f"broadcast N={clients}"] = rate
            figures[f"broadcast N={clients}, per server CPU-second"] = per_cpu
        return figures
    finally:
        process.terminate()
        process.wait(10)


def human(key: str, value: float) -> str:
    if key.startswith("round trip"):
        return f"{value * 1e6:.0f} µs"
    if key.startswith("idle"):
        return f"{value / 1024:.1f} KiB"
    return f"{value:,.0f}/s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="medians over this many (default 3)")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated: " + ",".join(CONTENDERS))
    parser.add_argument("--json", help="write every sample and the medians here")
    options = parser.parse_args()
    names = options.only.split(",")
    import uvicorn

    print(
        f"uvicorn {uvicorn.__version__} (httptools), Python {sys.version.split()[0]}, medians of {options.rounds} rounds of {options.seconds} s"
    )
    samples: Dict[str, Dict[str, List[float]]] = {name: {} for name in names}
    for round_index in range(options.rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            for key, value in measure(name, options.seconds).items():
                samples[name].setdefault(key, []).append(value)
            print(f"  round {round_index + 1}: {name} measured", file=sys.stderr)
    medians = {name: {key: statistics.median(values) for key, values in figures.items()} for name, figures in samples.items()}
    base: Optional[Dict[str, float]] = medians.get("websockets-sansio")
    print("| measure | " + " | ".join(names) + " | fastws / websockets-sansio |")
    print("|---" * (len(names) + 2) + "|")
    for key in next(iter(medians.values())):
        cells = [human(key, medians[name][key]) for name in names]
        ratio = f"{medians['fastws'][key] / base[key]:.2f}x" if base and "fastws" in medians and base[key] else ""
        print(f"| {key} | " + " | ".join(cells) + f" | {ratio} |")
    if options.json:
        Path(options.json).write_text(json.dumps({"medians": medians, "samples": samples}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
